"""Decoding for extraction: which file a vector comes from (`Job`), its bytes checked against the content
curate recorded, and a batch of photos turned into network inputs in one graph call, in a thread
beside the network (see `_decode_batch` for why a thread and not tf.data).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from retrainkit.model.errors import ModelError
from retrainkit.model.image_bytes import converted, needs_conversion
from retrainkit.model.preprocessing import augmented, preprocess

from ..network.backbones import Backbone
from .cache import key_for


@dataclass(frozen=True)
class Job:
    """One vector to compute: `key` in the cache, the file it comes from, and the variant (0 = plain).

    `convert` marks files TensorFlow cannot decode itself (see retrainkit.model.image_bytes); they are
    converted in memory to a lossless PNG first. `sha256`, when known, is the content the caller
    expects: a file that changed since (another command replaced it) is skipped, never cached under
    the old content's key.
    """

    key: str
    path: Path
    variant: int = 0
    convert: bool = False
    sha256: str = ""


def job_for(root: Path, record, variant: int = 0) -> Job:
    """The job of a file as curate recorded it (a curate.ImageRecord): a file replaced since then is
    skipped, never read as the old one; formats TensorFlow does not decode alike are converted."""
    return Job(key_for(record.sha256, variant), root / record.path, variant,
               needs_conversion(record.format, record.mode, record.transparent), record.sha256)


#: Why a job's file was not used, when it is not TensorFlow failing to decode it.
GONE = "moved or deleted while train ran"
CHANGED = "changed while train ran"
NOT_DECODED = "TensorFlow could not decode it"


@dataclass(frozen=True)
class DecodeGraph:
    """Encoded bytes -> network input, traced once per backbone: `one` photo, or `many` in one call.

    Why `many`: a graph call costs Python and dispatch time besides the work; preparing a batch in
    one call (a map over the photos inside the graph) took less CPU per photo on the 2-core machines
    measured (bench/train.py; figures in bench/README.md), CPU the network then has. `one` finds the
    photo at fault when a batch fails.
    """

    one: Callable[..., tf.Tensor]
    many: Callable[..., tf.Tensor]


def _decode_graph(backbone: Backbone) -> DecodeGraph:
    """The plain preprocessing, or variant k of the augmentation, as one graph."""
    preprocessing = backbone.preprocessing
    size = preprocessing.image_size

    def prepared(data, key, variant):
        seed = tf.stack([_seed_from(key), variant])
        return tf.cond(variant > 0, lambda: augmented(data, preprocessing, seed), lambda: preprocess(data, preprocessing))

    one = tf.function(prepared, input_signature=[tf.TensorSpec((), tf.string)] * 2 + [tf.TensorSpec((), tf.int32)])

    @tf.function(input_signature=[tf.TensorSpec((None,), tf.string)] * 2 + [tf.TensorSpec((None,), tf.int32)])
    def many(data, keys, variants):
        return tf.map_fn(lambda row: prepared(*row), (data, keys, variants), parallel_iterations=1,
                         fn_output_signature=tf.TensorSpec((size, size, 3), tf.float32))

    return DecodeGraph(one, many)


def decode_graph(backbone: Backbone) -> DecodeGraph:
    """The traced bytes -> network input functions (plain for variant 0, else that augmentation) of `backbone`,
    traced once per backbone (tracing takes seconds) and kept with it."""
    if "decode" not in backbone.traced:
        backbone.traced["decode"] = _decode_graph(backbone)
    return backbone.traced["decode"]


def decoded_batches(batches: list[list[Job]], decode: DecodeGraph, failed: dict[Job, str]
                    ) -> Iterator[tuple[list[Job], list[int], tf.Tensor | None]]:
    """(batch, positions in it that decoded, their network inputs stacked) per batch, the next batch
    decoded in a thread while the caller runs the network on this one; why a job failed goes into `failed`."""
    if not batches:
        return
    with ThreadPoolExecutor(1, thread_name_prefix="decode") as decoder:
        upcoming = decoder.submit(_decode_batch, batches[0], decode, failed)
        for number, batch in enumerate(batches):
            decoded, images = upcoming.result()
            if number + 1 < len(batches):
                upcoming = decoder.submit(_decode_batch, batches[number + 1], decode, failed)
            yield batch, decoded, images


def _decode_batch(jobs: list[Job], decode: DecodeGraph, failed: dict[Job, str]) -> tuple[list[int], tf.Tensor | None]:
    """Read and decode one batch in a thread beside the network.

    Why a thread and not tf.data: both the decoding graphs and the network then run their ops on
    TensorFlow's one shared pool of threads. tf.data brings threads of its own, which on the 2-core
    machines we measured fought the network and made extraction slower than not overlapping at all,
    while overlapping this way came closest to the network alone (bench/train.py measures extraction
    against the model alone; figures in bench/README.md). The bytes are read here, in Python, so that
    they can be checked against the content the caller expects before they are decoded.
    """
    read = [(position, job, data) for position, job in enumerate(jobs) if (data := _job_bytes(job, failed)) is not None]
    return decoded_inputs(read, decode, failed)


def decoded_inputs(read: list[tuple[int, Job, bytes]], decode: DecodeGraph, failed: dict[Job, str]
                    ) -> tuple[list[int], tf.Tensor | None]:
    """(positions, stacked network inputs) of files already read: in one graph call, or photo by photo
    when that call fails, so that only the photos TensorFlow cannot decode are left out (into `failed`).
    Bytes of a job marked `convert` are converted here (see retrainkit.model.image_bytes)."""
    ready = [(position, job, model_bytes) for position, job, data in read
             if (model_bytes := _model_bytes(job, data, failed)) is not None]
    if not ready:
        return [], None
    try:
        images = decode.many(tf.constant([data for _, _, data in ready]), tf.constant([job.key for _, job, _ in ready]),
                              tf.constant([job.variant for _, job, _ in ready], tf.int32))
    except (tf.errors.OpError, ValueError):
        return _decode_one_by_one(ready, decode, failed)  # one photo spoils the batch call: find it
    return [position for position, _, _ in ready], images


def _decode_one_by_one(ready: list[tuple[int, Job, bytes]], decode: DecodeGraph, failed: dict[Job, str]
                       ) -> tuple[list[int], tf.Tensor | None]:
    decoded, images = [], []
    for position, job, data in ready:
        try:
            images.append(decode.one(tf.constant(data), tf.constant(job.key), tf.constant(job.variant, tf.int32)))
        except (tf.errors.OpError, ValueError):
            failed[job] = NOT_DECODED
            continue
        decoded.append(position)
    return decoded, tf.stack(images) if images else None


def _job_bytes(job: Job, failed: dict[Job, str]) -> bytes | None:
    try:
        data = job.path.read_bytes()
    except FileNotFoundError:
        failed[job] = GONE
        return None
    except OSError:
        failed[job] = NOT_DECODED
        return None
    if job.sha256 and hashlib.sha256(data).hexdigest() != job.sha256:
        failed[job] = CHANGED
        return None
    return data


def _model_bytes(job: Job, data: bytes, failed: dict[Job, str]) -> bytes | None:
    if not job.convert:
        return data
    try:
        return converted(data, str(job.path))
    except ModelError:
        failed[job] = NOT_DECODED
        return None


def _seed_from(key: tf.Tensor) -> tf.Tensor:
    """A stable int32 from the key, so variant k of an image is the same variant on every run."""
    return tf.cast(tf.strings.to_hash_bucket_fast(key, 2**31 - 1), tf.int32)
