"""Extraction: the backbone's vectors for the photos the cache lacks, computed in batches.

The next batch is decoded (decoding.py) while the backbone runs on the current one inside a
`tf.function`, on a CPU a few photos per call (retrainkit/model/slicing.py); the speed against the
network's own is measured by bench/train.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from retrainkit.model.slicing import in_slices, network_probe, slice_size

from ..network.backbones import Backbone
from .cache import BottleneckCache
from .decoding import NOT_DECODED, Job, decode_graph, decoded_batches, decoded_inputs


def extract(jobs: list[Job], backbone: Backbone, cache: BottleneckCache | Sequence[BottleneckCache], batch_size: int,
            progress: bool = True, network: Callable | None = None, what: str = "bottlenecks") -> tuple[int, dict[Job, str]]:
    """Compute the vectors the cache lacks: (how many jobs ran, the jobs that could not, with why).

    `network` replaces the backbone's features: fine-tuning's frozen part alone, or, with several
    caches, a network with one output per cache (the activations at the cut and the features, from
    one pass of each photo). Outputs are stored flattened; a job runs when any cache lacks its key.
    A file that cannot be decoded, or vanished or changed under us, is skipped, never fatal; the
    caller reports it.
    """
    caches = [cache] if isinstance(cache, BottleneckCache) else list(cache)
    keys = [job.key for job in jobs]
    missing = set().union(*(c.missing(keys) for c in caches))
    todo = [job for job in jobs if job.key in missing]
    if not todo:
        return 0, {}
    features, decode = feature_function(backbone), decode_graph(backbone)
    if network is not None:
        size = backbone.preprocessing.image_size
        features = tf.function(lambda images: network(images, training=False),
                               input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
    per_call = slice_size(backbone.id if network is None else f"{backbone.id}-split",
                          network_probe(features, backbone.preprocessing.image_size))
    batches = [todo[start:start + batch_size] for start in range(0, len(todo), batch_size)]
    failed: dict[Job, str] = {}
    with tqdm(total=len(todo), desc=what, unit="img", disable=not progress) as bar:
        for batch, decoded, images in decoded_batches(batches, decode, failed):
            if images is not None:
                outputs = in_slices(features, images, per_call)
                outputs = [outputs] if len(caches) == 1 else outputs
                for store, output in zip(caches, outputs):
                    store.put([batch[i].key for i in decoded], output.numpy().reshape(len(decoded), -1))
            bar.update(len(batch))
    still_missing = set().union(*(c.missing([job.key for job in todo]) for c in caches))
    return len(todo) - len(still_missing), {job: failed.get(job, NOT_DECODED) for job in todo if job.key in still_missing}


def feature_function(backbone: Backbone) -> Callable[[tf.Tensor], tf.Tensor]:
    """The backbone's features as a traced function of a batch of inputs, traced once per backbone and kept with it."""
    if "features" not in backbone.traced:
        size = backbone.preprocessing.image_size
        backbone.traced["features"] = tf.function(backbone.features, input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)],
                                                  reduce_retracing=True)
    return backbone.traced["features"]


def vectors_of(backbone: Backbone, read: list[tuple[Job, bytes]]) -> tuple[list[np.ndarray | None], dict[Job, str]]:
    """The backbone's vector of each (job, bytes) in one batch, None where it could not be computed
    (why in the dict): extraction's very preprocessing and network, for callers that hold the bytes
    already (the Beam pipeline's model handler)."""
    features, decode = feature_function(backbone), decode_graph(backbone)
    failed: dict[Job, str] = {}
    decoded, images = decoded_inputs([(i, job, data) for i, (job, data) in enumerate(read)], decode, failed)
    vectors: list[np.ndarray | None] = [None] * len(read)
    if images is not None:
        per_call = slice_size(backbone.id, network_probe(features, backbone.preprocessing.image_size))
        for position, vector in zip(decoded, in_slices(features, images, per_call).numpy().reshape(len(decoded), -1)):
            vectors[position] = vector
    return vectors, failed
