"""The exported model: a SavedModel that takes encoded image bytes and does everything else itself.

Its `serving_default` signature takes `image_bytes` (a batch of JPEG/PNG/GIF/BMP files as strings)
and returns `probabilities` (batch x labels), `label` (the top label) and `score` (its probability),
and, with a novelty reference, `novelty` (how unlike the training photos, train/judging/novelty.py) and
`known` (novelty within the calibrated threshold: False means "none of the labels"), so any
TensorFlow user gets the open-set answer without our code.

Its `serving_pixels` signature takes decoded pixels (`pixels`: float32 [batch, size, size, 3], RGB
values 0..255 after the crop and resize of `retrainkit.model.preprocessing.to_pixels`) and returns the same outputs.
`serving_default` decodes, crops and resizes, then calls that same function, so the two cannot
differ; the ONNX and LiteRT files (train/outputs/exports.py) are converted from it, because ONNX and
TFLite have no JPEG decoder.
Preprocessing inside it is `retrainkit.model.preprocessing`'s, the very functions that made the training bottlenecks,
so serving cannot drift from training.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from retrainkit.model.card import ModelCard
from retrainkit.model.folder import PIXELS_INPUT, PIXELS_SIGNATURE, SAVED_MODEL, SIGNATURE, write_labels
from retrainkit.model.preprocessing import CENTRAL_FRACTION, decoded_pixels, normalise

from ..judging.novelty import Reference, novelty
from ..network.backbones import Backbone
from ..network.efficientnet_lite import block_input


class ServingModel(tf.Module):
    def __init__(self, backbone: Backbone, head: keras.Model, labels: list[str], reference: Reference | None = None,
                 novelty_cut: int | None = None) -> None:
        super().__init__(name="classifier")
        self.network = backbone.network  # tracked: its variables are saved with the model
        # the reference in the frozen last blocks (train/judging/novelty_space.py): one pass gives both feature sets
        self.with_novelty_features = None if novelty_cut is None or reference is None else _with_frozen_top(backbone, novelty_cut)
        self.head = head
        self.label_names = tf.constant(labels)
        self._reference = reference
        if reference is not None:  # variables, so the vectors sit in variables/ and not in the graph
            self.reference = tf.Variable(reference.vectors, trainable=False, name="novelty_reference")
            self.threshold = tf.Variable(reference.calibration.threshold, dtype=tf.float32, trainable=False,
                                         name="novelty_threshold")
        self._backbone = backbone
        size = backbone.preprocessing.image_size
        self._pixels_spec = tf.TensorSpec([size, size, 3], tf.float32)
        # built per model: the input size is the backbone's
        self.classify_pixels = tf.function(self._answer, input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32,
                                                                                          name=PIXELS_INPUT)])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        size = self._backbone.preprocessing.image_size
        pixels = tf.map_fn(lambda data: decoded_pixels(data, size), image_bytes, fn_output_signature=self._pixels_spec)
        return self.classify_pixels(pixels)

    def _answer(self, pixels: tf.Tensor) -> dict[str, tf.Tensor]:
        """The one graph behind both signatures: 0..255 pixels in, the answers out."""
        images = normalise(pixels, self._backbone.preprocessing)
        if self.with_novelty_features is not None:
            features, novelty_features = self.with_novelty_features(images, training=False)
        else:
            features = novelty_features = self._backbone.features(images)
        probabilities = tf.nn.softmax(self.head(features, training=False))
        best = tf.argmax(probabilities, axis=1)
        outputs = {
            "probabilities": probabilities,
            "label": tf.gather(self.label_names, best),
            "score": tf.reduce_max(probabilities, axis=1),
        }
        if self._reference is not None:
            outputs["novelty"] = novelty(novelty_features, self.reference, self._reference.ranges, rejected=self._reference.rejected,
                                         rejected_scale=self._reference.calibration.rejected_scale)
            outputs["known"] = outputs["novelty"] <= self.threshold
        return outputs


def _with_frozen_top(backbone: Backbone, cut: int) -> keras.Model:
    """The (fine-tuned) network with a second output: the frozen copy of its blocks from `cut` on, run on the
    same activations entering block `cut` (the layers below the cut were never trained, so they are shared)."""
    network, lite = backbone.network, backbone.lite
    frozen = lite.build_novelty_top(cut)
    return keras.Model(network.inputs, [network.outputs[0], frozen(block_input(network, cut))], name="with_novelty_features")


def pixels_description(size: int, mean: float, std: float) -> dict:
    """model.json's account of the pixels-in signature: enough for a caller to reproduce the bytes path."""
    return {
        "signature": PIXELS_SIGNATURE,
        "input": f"{PIXELS_INPUT}: float32[batch, {size}, {size}, 3]",
        "range": "RGB values 0..255 (not normalised; the model maps them to (v - mean) / std itself)",
        "mean": mean,
        "std": std,
        "resize": (f"turn upright by the EXIF orientation; crop the centred square of {CENTRAL_FRACTION:g} of the shorter side "
                   f"(side = floor(min(h, w) * {CENTRAL_FRACTION:g}), top = (h - side) // 2, left = (w - side) // 2); "
                   f"resize it to {size}x{size} bicubically with antialiasing (tf.image.resize(method='bicubic', "
                   "antialias=True)); clip to 0..255"),
    }


def export(out: Path, backbone: Backbone, head: keras.Model, labels: list[str], reference: Reference | None = None,
           novelty_cut: int | None = None) -> Path:
    """The SavedModel and its description (model.json); `reference` adds `novelty` and `known` to its outputs, compared in
    the frozen copy of the blocks from `novelty_cut` on where given, else in the network's own features."""
    model = ServingModel(backbone, head, labels, reference, novelty_cut)
    target = out / SAVED_MODEL
    tf.saved_model.save(model, str(target), signatures={SIGNATURE: model.serve, PIXELS_SIGNATURE: model.classify_pixels})
    write_labels(out, labels)
    ModelCard(
        backbone=backbone.name, backbone_id=backbone.id, image_size=backbone.preprocessing.image_size,
        preprocessing=backbone.preprocessing.describe(), labels=labels,
        outputs=["probabilities: float32[batch, labels]", "label: string[batch]", "score: float32[batch]"]
                + ([] if reference is None else ["novelty: float32[batch]", "known: bool[batch]"]),
        pixels=pixels_description(backbone.preprocessing.image_size, backbone.preprocessing.mean, backbone.preprocessing.std),
        open_set=None if reference is None else reference.calibration,
    ).write(out)
    return target
