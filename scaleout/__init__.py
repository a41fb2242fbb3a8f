"""scaleout: curate's records and train's bottleneck vectors of a huge tree, on Apache Beam.

Needs the `beam` extra (`pip install 'retrainkit[beam]'`); nothing else in the toolkit imports
this package. The DoFns call the local path's own per-image functions (curate.decode.inspect_bytes,
train.features.extraction.vectors_of), so a shard row is what `curate review` and `train` compute here.

    >>> from scaleout import embed                                     # doctest: +SKIP
    >>> embed("gs://bucket/photos", "gs://bucket/features/photos",     # doctest: +SKIP
    ...       pipeline_args=["--runner", "DataflowRunner", "--project", "p", "--region", "europe-west1"])
"""

from __future__ import annotations

__all__ = ["embed", "EmbedResult"]


def __getattr__(name: str):
    if name in __all__:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
