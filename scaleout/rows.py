"""One shard row per file (columns: retrainkit.shards.COLUMNS)."""

from __future__ import annotations

import numpy as np

from curate.cache import SCAN_VERSION
from curate.record import ImageRecord

#: vector_problem of a file whose record already has a problem (corrupt, not-an-image, ...)
NOT_AN_IMAGE = "not a usable image (see problem)"


def row_of(record: ImageRecord, backbone: str = "", vector: np.ndarray | None = None, why: str = NOT_AN_IMAGE) -> dict:
    return {
        "path": record.path, "label": record.label, "size": record.bytes, "sha256": record.sha256,
        "problem": record.problem, "format": record.format, "width": record.width, "height": record.height,
        "phash": record.phash, "record": record.to_json(), "scan_version": SCAN_VERSION,
        "backbone": backbone, "vector": None if vector is None else np.asarray(vector, np.float32).tolist(),
        "vector_problem": "" if vector is not None else why,
    }


def row_of_prediction(prediction) -> dict:
    """A RunInference result of BackboneHandler as a row."""
    backbone, vector, why = prediction.inference
    return row_of(prediction.example, backbone, vector, why)
