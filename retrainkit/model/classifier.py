"""`Classifier` and `classify()`: run a trained model folder on photos, the way `train` evaluated it.

A model trained with the open-set step answers `known` and `novelty` per photo from its own
SavedModel; one exported before it has neither, and its predictions carry None.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from .card import Calibration, ModelCard
from .errors import ModelError, UndecodableImage
from .folder import MAX_BATCH, PIXELS_SIGNATURE, SIGNATURE, load_saved_model, read_labels
from .image_bytes import DAMAGED, checked_bytes
from .slicing import PROBE_PHOTOS, slice_size

#: The input size of a model folder without a model card (the default backbone's).
DEFAULT_IMAGE_SIZE = 224


#: Printed once by classify and serve for a model exported before the open-set step.
NO_OPEN_SET = ("was trained before 'none of the labels' existed: every photo gets one of its labels "
               "(train it again to add the open-set answer)")


@dataclass
class Prediction:
    path: str
    #: (label, probability), most likely first
    top: list[tuple[str, float]]
    probabilities: np.ndarray
    #: False: the photo is none of the labels (top[0] is only the closest); None: a model without the open-set step
    known: bool | None = None
    #: how unlike the training photos it is (cosine distance to the k-th nearest); None as for `known`
    novelty: float | None = None


@dataclass
class Outputs:
    """A batch's model outputs, row-aligned; `novelty` and `known` are None for a model without them.
    Slicing gives the rows of some of the photos (serve's batcher hands each request its own)."""

    probabilities: np.ndarray
    novelty: np.ndarray | None = None
    known: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.probabilities)

    def __getitem__(self, rows: slice) -> Outputs:
        return Outputs(self.probabilities[rows], None if self.novelty is None else self.novelty[rows],
                       None if self.known is None else self.known[rows])


class Classifier:
    def __init__(self, model_dir: str | Path) -> None:
        folder, module = load_saved_model(model_dir)
        signatures = module.signatures
        if SIGNATURE not in signatures:
            raise ModelError(f"{model_dir}: cannot load the model (no {SIGNATURE} signature)")
        self._signature = signatures[SIGNATURE]
        #: the pixels-in signature (None for a model exported before it): `serve` decodes in its request threads
        self._pixels_signature = signatures.get(PIXELS_SIGNATURE)
        self._decode = None
        self._per_call: int | None = None
        self._folder = folder
        self.labels = read_labels(folder)
        #: model.json; None for a folder from before it (then the image size is the default)
        self.card = ModelCard.read_if_any(folder)
        #: whether the model answers "none of the labels" (`known`); False for a model exported before the open set
        self.has_open_set = "known" in self._signature.structured_outputs
        #: that answer's calibration, as the model card holds it
        self.open_set: Calibration | None = self.card.open_set if self.has_open_set and self.card is not None else None

    @property
    def image_size(self) -> int:
        return self.card.image_size if self.card is not None else DEFAULT_IMAGE_SIZE

    def photos_per_call(self) -> int:
        """MAX_BATCH on a GPU; on a CPU this machine's best size for this model (measured once, then cached)."""
        if self._per_call is None:
            backbone_id = self.card.backbone_id if self.card is not None else ""
            network = f"model:{backbone_id or self._folder.resolve()}"
            self._per_call = slice_size(network, self._probe(self.image_size)) or MAX_BATCH
        return self._per_call

    def _probe(self, image_size: int):
        """probe(n): the signature on PROBE_PHOTOS encoded grey pictures of the model's size, in calls of n."""
        import io

        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (image_size, image_size), (128, 128, 128)).save(buffer, "JPEG")
        photos = [buffer.getvalue()] * PROBE_PHOTOS

        def probe(size: int) -> None:
            for start in range(0, PROBE_PHOTOS, size):
                self._signature(image_bytes=tf.constant(photos[start:start + size]))["probabilities"].numpy()

        return probe

    def outputs(self, encoded: list[bytes]) -> Outputs:
        """Every output of the model for the encoded photos, in calls of MAX_BATCH (a GPU) or this machine's best size."""
        return self._in_calls(lambda part: self._signature(image_bytes=tf.constant(part)), encoded)

    def _in_calls(self, call, items: list) -> Outputs:
        """`call` on `items` in slices of photos_per_call(), the answers joined; the decoder's refusal said in words."""
        parts, size = [], self.photos_per_call()
        for start in range(0, len(items), size):
            try:
                answer = call(items[start:start + size])
            except tf.errors.InvalidArgumentError:
                raise UndecodableImage(DAMAGED) from None
            parts.append({name: answer[name].numpy() for name in ("probabilities", "novelty", "known") if name in answer})
        if not parts:
            return Outputs(np.zeros((0, len(self.labels)), np.float32))
        joined = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
        return Outputs(joined["probabilities"], joined.get("novelty"), joined.get("known"))

    @property
    def takes_pixels(self) -> bool:
        return self._pixels_signature is not None

    def pixels(self, encoded: bytes) -> np.ndarray:
        """One photo decoded, cropped and resized as the model's own bytes path does it (preprocessing.decoded_pixels).

        Why apart from the model call: `serve` runs this in each request's thread, so decoding overlaps
        the network running on other requests' photos instead of queueing behind it in the model call.
        """
        if self._decode is None:
            from .preprocessing import decoded_pixels

            size = self.image_size
            self._decode = tf.function(lambda data: decoded_pixels(data, size), input_signature=[tf.TensorSpec([], tf.string)])
        try:
            return self._decode(tf.constant(encoded)).numpy()
        except tf.errors.InvalidArgumentError:
            raise UndecodableImage(DAMAGED) from None

    def outputs_from_pixels(self, pixels: list[np.ndarray]) -> Outputs:
        """`outputs()` for photos already turned into pixels by `pixels()`: the pixels-in signature, same call sizes."""
        return self._in_calls(lambda part: self._pixels_signature(pixels=tf.constant(np.stack(part))), pixels)

    def probabilities(self, encoded: list[bytes]) -> np.ndarray:
        return self.outputs(encoded).probabilities

    def classify(self, paths: list[str | Path], top_k: int = 3) -> list[Prediction]:
        return self.classify_encoded(paths, [checked_bytes(p) for p in paths], top_k)

    def classify_encoded(self, paths: list[str | Path], encoded: list[bytes], top_k: int = 3) -> list[Prediction]:
        return predictions(paths, self.outputs(encoded), self.labels, top_k)


def predictions(paths: list[str | Path], outputs: Outputs, labels: list[str], top_k: int = 3) -> list[Prediction]:
    """Per photo, the top labels and the open-set answer: the one reading of a model's outputs (classify, serve)."""
    found = []
    for i, (path, row) in enumerate(zip(paths, outputs.probabilities)):
        order = np.argsort(-row)[:max(1, top_k)]
        known = None if outputs.known is None else bool(outputs.known[i])
        novelty = None if outputs.novelty is None else round(float(outputs.novelty[i]), 6)
        found.append(Prediction(str(path), [(labels[j], float(row[j])) for j in order], row, known, novelty))
    return found


def classify(model_dir: str | Path, paths: list[str | Path], top_k: int = 3) -> list[Prediction]:
    """Labels and probabilities per image file.

    >>> for p in classify("models/flowers", ["rose.jpg", "truck.jpg"]):   # doctest: +SKIP
    ...     print(p.path, p.top[0], p.known)
    rose.jpg ('roses', 0.97) True
    truck.jpg ('tulips', 0.61) False
    """
    return Classifier(model_dir).classify(paths, top_k)

