"""How many photos one call of the whole network takes: a few on a CPU, the whole batch on a GPU.

Why not the whole batch on a CPU: the first blocks' activations are large (Lite2's second block
expands each 260 px photo to 130x130x96 floats, 6.5 MB), so a call on 32 photos works through
hundreds of megabytes that spill out of the processor's cache, while 4 photos at a time stay in
it. Measured on 2 cores (AMD EPYC, 32 MB L3; bench/network_slices.py, the best of two 6 s runs
per size): 4 photos per call ran Lite0 at 60.4 images/s against 44.9 at 32 (1.35x), Lite1 42.8
against 25.5 (1.68x), Lite2 33.4 against 21.0 (1.59x); 2 and 8 were slower than 4 but faster than
32, and 1 the slowest for Lite0 (per-call overhead). The network's top blocks alone, as fine-tuning runs them on cached
activations, are small and faster at 32, so only calls that start from the image are sliced. A GPU
wants wide batches, so there the caller's batch goes in whole. Decoding and caching still work in
the caller's batches; the slices only change how the network is called, never its outputs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import tensorflow as tf

#: photos per network call on a CPU (see the module's docstring for the measurement)
CPU_SLICE = 4


@functools.cache
def slice_size() -> int | None:
    """Photos per call of the whole network here: None means the caller's whole batch (a GPU)."""
    return None if tf.config.list_physical_devices("GPU") else CPU_SLICE


def in_slices(function: Callable[[Any], Any], inputs: Any, size: int | None = -1) -> Any:
    """`function(inputs)`, called on slices of `size` rows (default `slice_size()`) and joined back.

    `function`'s output may be a tensor, a sequence of tensors (a network with several outputs) or a
    mapping of names to tensors (a SavedModel signature); each is joined row-wise.
    """
    size = slice_size() if size == -1 else size
    count = int(inputs.shape[0])
    if size is None or count <= size:
        return function(inputs)
    parts = [function(inputs[start:start + size]) for start in range(0, count, size)]
    first = parts[0]
    if isinstance(first, Mapping):
        return {name: tf.concat([part[name] for part in parts], 0) for name in first}
    if isinstance(first, Sequence):
        return [tf.concat(outputs, 0) for outputs in zip(*parts)]
    return tf.concat(parts, 0)
