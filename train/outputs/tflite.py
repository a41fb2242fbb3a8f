"""TensorFlow Lite files, converted from a model folder's pixels-in signature.

Two kinds, because their readers want different things:
- MediaPipe's (`model_float16.tflite`, `model_int8.tflite`): input the normalised image, float32
  (1, size, size, 3) = (v - mean) / std after the centre crop and bicubic resize, as their TFLite
  metadata says; output the label probabilities alone (MediaPipe's ImageClassifier expects one
  output). int8 quantisation calibrates activation ranges on up to REPRESENTATIVE training photos,
  passed through the very preprocessing the bottlenecks used, so it needs those photos.
- the open-set file (`model_open_set.tflite`), for callers of LiteRT itself: input pixels, float32
  (1, size, size, 3) in 0..255 like the ONNX file; outputs `probabilities`, `novelty` and `known`
  (the threshold is inside) through its signature runner. Float16 weights like the MediaPipe file:
  half the size of float32, and the same answers within bench/export.py's parity figures.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import tensorflow as tf

from retrainkit.model.image_bytes import model_bytes
from retrainkit.model.preprocessing import decoded_pixels, normalise
from retrainkit.quiet_tf import quiet_stderr

from ..errors import ConversionFailed, TrainError
from .exported_model import ExportedModel
from .tflite_metadata import with_metadata

REPRESENTATIVE = 100
FLOAT16_FILE = "model_float16.tflite"
INT8_FILE = "model_int8.tflite"
OPEN_SET_FILE = "model_open_set.tflite"


def mediapipe_files(model: ExportedModel, calibration: list[Path]) -> dict[str, bytes]:
    """The float16 file, and the int8 one when there are calibration photos; both with TFLite metadata
    (input normalisation, labels), so MediaPipe loads them as they are."""
    function = model.function(1, ("probabilities",), normalised=True)
    files = {FLOAT16_FILE: _float16}
    if calibration:
        files[INT8_FILE] = _int8(model, calibration)
    preprocessing = model.preprocessing
    return {name: with_metadata(_converted(model, function, configure), model.labels, preprocessing.mean, preprocessing.std,
                                f"{model.folder.name} ({model.backbone})",
                                f"Image classifier trained by retrainkit on {model.backbone} features.")
            for name, configure in files.items()}


def open_set_file(model: ExportedModel) -> bytes:
    """Pixels in; probabilities, and novelty and known when the model has them, out."""
    return _converted(model, model.function(1, model.outputs()), _float16)


def _converted(model: ExportedModel, function, configure: Callable[[tf.lite.TFLiteConverter], None]) -> bytes:
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], model.module)
    configure(converter)
    try:
        with quiet_stderr(show_on_error=False):
            return converter.convert()
    except Exception as error:  # noqa: BLE001 - the converter raises many kinds for unsupported ops
        if model.backbone.startswith("efficientnet_lite"):
            raise ConversionFailed(f"{model.folder}: the TensorFlow Lite converter failed ({type(error).__name__})") from None
        raise TrainError(f"{model.folder}: this backbone ({model.backbone}) cannot be converted to TensorFlow Lite "
                         f"({type(error).__name__}); the SavedModel is unchanged") from None


def _float16(converter: tf.lite.TFLiteConverter) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]


def _int8(model: ExportedModel, calibration: list[Path]):
    preprocessing = model.preprocessing

    def representative():
        for path in calibration[:REPRESENTATIVE]:
            pixels = decoded_pixels(tf.constant(model_bytes(path)), preprocessing.image_size)
            yield [normalise(pixels, preprocessing)[None]]

    def configure(converter: tf.lite.TFLiteConverter) -> None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative

    return configure
