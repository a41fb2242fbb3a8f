"""Optional TensorFlow Lite exports (`train --tflite`): float16, and int8 calibrated on training images.

A TFLite model cannot decode image files, so its input is the preprocessed image: float32
(1, size, size, 3) as `model.json` describes (centre crop, bicubic resize, (v - mean) / std). Its
output is the label probabilities. int8 quantisation calibrates activation ranges on up to
REPRESENTATIVE training images, passed through the very preprocessing the bottlenecks used.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from .backbones import Backbone
from .errors import TrainError
from .image_bytes import model_bytes
from .preprocess import preprocess
from .tflite_metadata import with_metadata

REPRESENTATIVE = 100


def export_tflite(out: Path, backbone: Backbone, head: keras.Model, training_files: list[Path], labels: list[str]) -> list[Path]:
    """Both files carry TFLite metadata (input normalisation, labels), so MediaPipe loads them as they are."""
    size = backbone.preprocessing.image_size

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="image")])
    def probabilities(image):
        return tf.nn.softmax(head(backbone.features(image), training=False))

    concrete = probabilities.get_concrete_function()
    written = []
    for name, configure in (("model_float16.tflite", _float16), ("model_int8.tflite", _int8(backbone, training_files))):
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], backbone.network)
        configure(converter)
        try:
            blob = converter.convert()
        except Exception as error:  # noqa: BLE001 - the converter raises many kinds for unsupported ops
            raise TrainError(f"--tflite: this backbone cannot be converted to TensorFlow Lite ({type(error).__name__}); "
                             "the SavedModel was written") from None
        target = out / name
        preprocessing = backbone.preprocessing
        target.write_bytes(with_metadata(blob, labels, preprocessing.mean, preprocessing.std, f"{out.name} ({backbone.name})",
                                         f"Image classifier trained by retrainkit on {backbone.name} features."))
        written.append(target)
    return written


def _float16(converter: tf.lite.TFLiteConverter) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]


def _int8(backbone: Backbone, training_files: list[Path]):
    def representative():
        for path in training_files[:REPRESENTATIVE]:
            yield [preprocess(tf.constant(model_bytes(path)), backbone.preprocessing)[None]]

    def configure(converter: tf.lite.TFLiteConverter) -> None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative

    return configure
