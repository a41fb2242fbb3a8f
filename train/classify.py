"""`classify()`: run an exported model on image files, the way `train` evaluated it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from .errors import TrainError
from .export import SIGNATURE
from .image_bytes import check_model_dir, checked_bytes

BATCH = 16


@dataclass
class Prediction:
    path: str
    #: (label, probability), most likely first
    top: list[tuple[str, float]]
    probabilities: np.ndarray


class Classifier:
    def __init__(self, model_dir: str | Path) -> None:
        folder = check_model_dir(model_dir)
        try:
            self._signature = tf.saved_model.load(str(folder / "saved_model")).signatures[SIGNATURE]
        except Exception as error:  # noqa: BLE001 - a damaged model raises many kinds
            raise TrainError(f"{model_dir}: cannot load the model ({type(error).__name__})") from None
        self.labels = (folder / "labels.txt").read_text(encoding="utf-8").splitlines()

    def probabilities(self, encoded: list[bytes]) -> np.ndarray:
        rows = []
        for start in range(0, len(encoded), BATCH):
            batch = tf.constant(encoded[start:start + BATCH])
            rows.append(self._signature(image_bytes=batch)["probabilities"].numpy())
        return np.concatenate(rows) if rows else np.zeros((0, len(self.labels)), np.float32)

    def classify(self, paths: list[str | Path], top_k: int = 3) -> list[Prediction]:
        return self.classify_encoded(paths, [checked_bytes(p) for p in paths], top_k)

    def classify_encoded(self, paths: list[str | Path], encoded: list[bytes], top_k: int = 3) -> list[Prediction]:
        probabilities = self.probabilities(encoded)
        predictions = []
        for path, row in zip(paths, probabilities):
            order = np.argsort(-row)[:max(1, top_k)]
            predictions.append(Prediction(str(path), [(self.labels[i], float(row[i])) for i in order], row))
        return predictions


def classify(model_dir: str | Path, paths: list[str | Path], top_k: int = 3) -> list[Prediction]:
    """Labels and probabilities per image file.

    >>> for p in classify("models/flowers", ["rose.jpg"]):   # doctest: +SKIP
    ...     print(p.path, p.top[0])
    rose.jpg ('roses', 0.97)
    """
    return Classifier(model_dir).classify(paths, top_k)

