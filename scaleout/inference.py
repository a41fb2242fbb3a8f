"""RunInference with train's backbone: loaded once per worker process, called on batches.

Why our own handler: Beam's stock TensorFlow handler loads models through
`tf.keras.models.load_model`, which cannot load a `tf.Module` SavedModel under Keras 3, and it
would not do our preprocessing. This one calls train.features.extraction.vectors_of, extraction's own
bytes -> vector path (EXIF, crop, resize, normalisation, one graph call per batch), so a vector
from a cluster equals the local bottleneck cache's (a test holds them to 1e-5).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from curate.record import ImageRecord
from train.settings import TrainSettings


class BackboneHandler(ModelHandler):
    """(record, bytes) examples -> PredictionResult(record, (backbone tag, vector or None, why not))."""

    def __init__(self, backbone: str, image_size: int = 0, batch_size: int = TrainSettings.extract_batch) -> None:
        super().__init__(min_batch_size=batch_size, max_batch_size=batch_size)  # extraction's batches, not ramped up from 1
        self.backbone_spec = backbone
        self.image_size = image_size

    def load_model(self):
        from retrainkit.quiet_tf import import_tensorflow

        import_tensorflow()
        from train.network import backbones

        return backbones.load(self.backbone_spec, self.image_size)

    def run_inference(self, batch: Sequence[tuple[ImageRecord, bytes]], model, inference_args: dict[str, Any] | None = None
                      ) -> Iterable[PredictionResult]:
        from train.features.decoding import job_for
        from train.features.extraction import vectors_of

        jobs = [job_for(Path(""), record) for record, _ in batch]  # the bytes are in hand: the path names them only
        vectors, failed = vectors_of(model, [(job, data) for job, (_, data) in zip(jobs, batch)])
        tag = backbone_tag(model)
        for job, (record, _), vector in zip(jobs, batch, vectors):
            yield PredictionResult(record, (tag, vector, "" if vector is not None else failed.get(job, "no vector")))

    def get_num_bytes(self, batch: Sequence[tuple[ImageRecord, bytes]]) -> int:
        return sum(len(data) for _, data in batch)

    def get_metrics_namespace(self) -> str:
        return "retrainkit-backbone"


def backbone_tag(backbone) -> str:
    """What the shards' `backbone` column holds: the cache id plus the pixels version (see train.features.shards_import)."""
    from train.features.cache import PIXELS_VERSION

    return f"{backbone.id}{PIXELS_VERSION}"
