"""How many photos one call of the whole network takes: measured on the machine that runs it.

Why not the whole batch on a CPU: the first blocks' activations are large (Lite2's second block
expands each 260 px photo to 130x130x96 floats, 6.5 MB), so a call on 32 photos works through
hundreds of megabytes that may spill out of the processor's cache, while a few photos at a time
stay in it. How many fit depends on the processor: on one 2-core machine 4 photos a call ran faster
than 32, on another slower (bench/network_slices.py; figures in bench/README.md). So the size is measured
at the first use of a network on a machine (each of CANDIDATES on a batch of PROBE_PHOTOS zeros, the best
of three timed rounds: a few seconds, once) and kept in the user's cache folder, per machine and network;
`RETRAINKIT_PHOTOS_PER_CALL` (or `[train] photos_per_call`) forces a size. A GPU wants wide batches,
so there the caller's batch goes in whole. The network's top blocks alone, as fine-tuning runs
them on cached activations, are small and are not sliced. Slices only change how the network is
called, never its outputs.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import tensorflow as tf

from ..atomic import write_atomically
from ..user_cache import user_cache_folder

#: photos per network call on a CPU when nothing was measured (the network is not known to the caller)
CPU_SLICE = 4
#: the sizes measured at first use, and the batch each is timed on
CANDIDATES = (4, 8, 16, 32)
PROBE_PHOTOS = 32
FORCE_VARIABLE = "RETRAINKIT_PHOTOS_PER_CALL"
CHOICES_NAME = "photos-per-call.json"

_lock = threading.Lock()
_chosen: dict[str, int] = {}
_forced: int | None = None


def force(size: int | None) -> None:
    """Photos per call for this process from now on (train's `photos_per_call`); None or 0 measures again."""
    global _forced
    _forced = size or None


def slice_size(network: str = "", probe: Callable[[int], Any] | None = None) -> int | None:
    """Photos per call of the whole network here: None means the caller's whole batch (a GPU).

    `network` names what is called (a backbone id, a model's signature) and `probe(n)` runs it once
    on PROBE_PHOTOS photos in calls of n; with both, the size is this machine's measured best for
    that network (measured once, then read from the cache). Without them: the forced size, else CPU_SLICE.
    """
    if tf.config.list_physical_devices("GPU"):
        return None
    forced = _forced or _from_environment()
    if forced:
        return forced
    if not network or probe is None:
        return CPU_SLICE
    with _lock:
        if network not in _chosen:
            choices = _read_choices()
            key = f"{machine()} | {network}"
            if key not in choices:
                choices[key] = measure(probe)
                _write_choices(choices)
            _chosen[network] = int(choices[key])
        return _chosen[network]


def measure(probe: Callable[[int], Any], rounds: int = 3) -> int:
    """The candidate size with the shortest time for the same photos (after one warm-up call)."""
    probe(CANDIDATES[0])
    best = {size: float("inf") for size in CANDIDATES}
    for _ in range(rounds):
        for size in CANDIDATES:
            started = time.perf_counter()
            probe(size)
            best[size] = min(best[size], time.perf_counter() - started)
    return min(CANDIDATES, key=lambda size: (best[size], size))


def network_probe(function: Callable[[Any], Any], image_size: int) -> Callable[[int], Any]:
    """probe(n) for a network that takes (photos, size, size, 3) floats: PROBE_PHOTOS zeros in calls of n."""
    images = tf.zeros((PROBE_PHOTOS, image_size, image_size, 3), tf.float32)

    def probe(size: int) -> Any:
        return tf.nest.flatten(in_slices(function, images, size))[0].numpy()

    return probe


def machine() -> str:
    """What the choice depends on: the processor, its cores, and TensorFlow's kernels."""
    return f"{_processor()} x{os.cpu_count()} tf{tf.__version__}"


def choices_file() -> Path:
    return user_cache_folder() / CHOICES_NAME


def forget_choices() -> None:
    """The process's memory of the choices (the file stays): tests and benches measure again."""
    with _lock:
        _chosen.clear()


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


def _from_environment() -> int | None:
    text = os.environ.get(FORCE_VARIABLE, "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def _processor() -> str:
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
    except OSError:  # not Linux
        names = []
    return names[0] if names else platform.processor() or platform.machine()


def _read_choices() -> dict[str, int]:
    try:
        stored = json.loads(choices_file().read_text())
        return {str(k): int(v) for k, v in stored.items()} if isinstance(stored, dict) else {}
    except (OSError, ValueError, TypeError):
        return {}


def _write_choices(choices: dict[str, int]) -> None:
    """Best effort: a cache folder that cannot be written means measuring again next time, nothing worse."""
    target = choices_file()
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, json.dumps(choices, indent=1, sort_keys=True))
