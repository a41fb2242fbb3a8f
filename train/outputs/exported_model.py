"""A model folder read back for conversion: its pixels-in signature, labels and preprocessing.

Why from the folder and not from the objects `train` holds: every file `retrainkit-export` and
`train --onnx` write is converted from the SavedModel's `serving_pixels` signature (train/outputs/saved_model.py),
the graph `serving_default` itself calls after decoding, so an ONNX or LiteRT file cannot drift from
the model `classify` and `serve` run, and a folder trained months ago exports the same way as a
fresh one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from retrainkit.model.card import Calibration, ModelCard
from retrainkit.model.errors import ModelError
from retrainkit.model.folder import PIXELS_INPUT, PIXELS_SIGNATURE, check_model_dir, load_saved_model, read_labels
from retrainkit.model.preprocessing import Preprocessing

#: What the converted files return, in this order, when the model has the open-set answer.
OPEN_SET_OUTPUTS = ("probabilities", "novelty", "known")


@dataclass
class ExportedModel:
    folder: Path
    labels: list[str]
    preprocessing: Preprocessing
    backbone: str
    #: the open set's calibration as model.json holds it; None without one
    open_set: Calibration | None
    #: the loaded SavedModel: it owns the variables the signature reads, so it lives as long as we convert
    module: object
    pixels: object

    @property
    def image_size(self) -> int:
        return self.preprocessing.image_size

    def outputs(self) -> tuple[str, ...]:
        """The outputs a converted file returns: probabilities, and novelty and known with an open set."""
        return OPEN_SET_OUTPUTS if "known" in self.pixels.structured_outputs else ("probabilities",)

    def function(self, batch: int | None, outputs: tuple[str, ...], normalised: bool = False) -> tf.types.experimental.GenericFunction:
        """A tf.function of pixels [batch, size, size, 3] returning `outputs` of the pixels-in signature.

        `normalised`: the input is already (v - mean) / std, as MediaPipe's files take it (their metadata
        says so); it is mapped back to 0..255 before the signature, which maps it forward again.
        """
        signature, preprocessing = self.pixels, self.preprocessing
        size = preprocessing.image_size
        name = "image" if normalised else PIXELS_INPUT

        @tf.function(input_signature=[tf.TensorSpec([batch, size, size, 3], tf.float32, name=name)])
        def answer(image):
            pixels = image * preprocessing.std + preprocessing.mean if normalised else image
            answers = signature(**{PIXELS_INPUT: pixels})
            return {key: answers[key] for key in outputs}

        return answer


def load(model_dir: str | Path) -> ExportedModel:
    """The folder's SavedModel and description; a folder that is none, or from before the pixels-in signature, is one line."""
    folder = check_model_dir(model_dir)
    card = ModelCard.read(folder)
    _, module = load_saved_model(folder)
    if PIXELS_SIGNATURE not in module.signatures:
        raise ModelError(f"{model_dir}: exported before the pixels-in signature that exports are converted from; "
                         f"train it again (train DATASET --out {model_dir} --force)")
    pixels = card.pixels or {}
    preprocessing = Preprocessing(card.image_size, float(pixels.get("mean", 0.0)), float(pixels.get("std", 1.0)))
    return ExportedModel(folder, read_labels(folder), preprocessing, card.backbone, card.open_set, module,
                         module.signatures[PIXELS_SIGNATURE])
