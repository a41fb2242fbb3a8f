"""All pairs of 64-bit hashes within a Hamming distance, without an N x N matrix.

Multi-index hashing (Norouzi et al.): cut the 64 bits into 3 chunks of 21-22 bits. If two hashes
differ in at most t bits, some chunk differs in at most its threshold (the thresholds sum to
t - 2: see chunk_thresholds). So for every chunk, every occupied chunk value looks up the values
with up to its threshold of bits flipped ("probes"), through a table indexed by the chunk value;
only the hashes of both get the full 64-bit comparison. Each probe is vectorised numpy over all
occupied values at once, with no Python loop per hash, and probes run on every core (numpy
releases the GIL): memory stays O(N + 2^22). imagededup's Python-level loops over hex strings are
what this replaces. bench/curate.py --index-only measures it up to 10 million hashes.

    >>> import numpy as np
    >>> hashes = np.array([0b1011, 0b1010, 0xFFFF], dtype=np.uint64)
    >>> near_pairs(hashes, 1).tolist()
    [[0, 1]]
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import combinations

import numpy as np

CHUNK_BITS = (22, 21, 21)
#: Below this many hashes the blocked brute force is faster than building the chunk indexes.
BRUTE_FORCE_BELOW = 4096
#: Probes handed to a worker thread at a time (numpy releases the GIL inside each operation).
PROBES_PER_TASK = 64
#: Candidate pairs one step of a probe aims at: arrays of about 8 MB, which the allocator reuses.
CANDIDATES_PER_SLICE = 1 << 20


def near_pairs(hashes: np.ndarray, max_distance: int, *, workers: int | None = None,
               brute_force_below: int = BRUTE_FORCE_BELOW) -> np.ndarray:
    """Index pairs (i < j) whose hashes differ in at most `max_distance` bits, as an (n, 2) int64 array,
    sorted. `workers` threads probe at once (default: one per core)."""
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    if len(hashes) < 2 or max_distance < 0:
        return np.empty((0, 2), dtype=np.int64)
    if len(hashes) < brute_force_below:
        return near_pairs_bruteforce(hashes, max_distance)
    tasks = []
    offset = 0
    for width, flips in zip(CHUNK_BITS, chunk_thresholds(max_distance, len(CHUNK_BITS))):
        if flips >= 0:
            index = _ChunkIndex.build(hashes, offset, width)
            masks = _masks(width, flips)
            tasks.extend((index, masks[start:start + PROBES_PER_TASK]) for start in range(0, len(masks), PROBES_PER_TASK))
        offset += width
    with ThreadPoolExecutor(workers or os.cpu_count() or 1, thread_name_prefix="near-pairs") as pool:
        found = list(pool.map(lambda task: task[0].pairs(task[1], max_distance), tasks))
    pairs = np.concatenate(found) if found else np.empty((0, 2), dtype=np.int64)
    keys = np.unique(pairs[:, 0] * len(hashes) + pairs[:, 1])
    return np.stack([keys // len(hashes), keys % len(hashes)], axis=1).astype(np.int64)


def chunk_thresholds(max_distance: int, chunks: int) -> list[int]:
    """Bits each chunk may differ in (the generalised pigeonhole principle): thresholds summing to
    max_distance - chunks + 1 guarantee that a pair within max_distance is within the threshold in at
    least one chunk (if every chunk differed in more, the total would exceed max_distance). Plain
    max_distance // chunks everywhere probes more: at distance 10, (3, 3, 2) instead of (3, 3, 3)
    saves a quarter of the probes; a negative threshold means the chunk is not probed at all."""
    total = max_distance - chunks + 1
    base, extra = divmod(total, chunks)
    return [base + (1 if k < extra else 0) for k in range(chunks)]


@dataclass
class _ChunkIndex:
    """The hashes sorted by one chunk's value, with the occupied values ("buckets") and where each starts.

    Probing walks the buckets, not the hashes: at 10 million hashes there are about 2.6 hashes per
    occupied 22-bit value, so a probe touches that many times fewer entries; and each unordered pair of
    buckets is met once (from the smaller value), so no candidate is generated twice. A probe goes
    through the buckets a slice at a time, so its arrays stay small enough for the CPU caches and
    the allocator: whole-probe arrays at 10 million hashes (hundreds of MB each) spent much of the
    time in the kernel mapping and zeroing fresh pages (bench/curate.py --index-only times the search).
    """

    sorted_hashes: np.ndarray
    order: np.ndarray
    buckets: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    #: bucket number of every chunk value, -1 where no hash has it
    slot: np.ndarray
    #: buckets per step of a probe, so that a step meets about CANDIDATES_PER_SLICE candidates
    slice: int

    @classmethod
    def build(cls, hashes: np.ndarray, offset: int, width: int) -> _ChunkIndex:
        values = ((hashes >> np.uint64(offset)) & np.uint64((1 << width) - 1)).astype(np.int32)
        order = np.argsort(values, kind="stable").astype(np.int64)
        buckets, starts, counts = np.unique(values[order], return_index=True, return_counts=True)
        slot = np.full(1 << width, -1, dtype=np.int32)
        slot[buckets] = np.arange(len(buckets), dtype=np.int32)
        # a probe meets a partner bucket with the odds that a value is occupied, and crosses both buckets' hashes
        per_bucket = max(float(np.mean(counts)) ** 2 * len(buckets) / (1 << width) / 2, 1e-3)
        step = int(min(max(CANDIDATES_PER_SLICE / per_bucket, 4096), max(len(buckets), 1)))
        return cls(hashes[order], order, buckets, starts.astype(np.int64), counts.astype(np.int64), slot, step)

    def pairs(self, masks: list[int], max_distance: int) -> np.ndarray:
        found = [pairs for mask in masks for first in range(0, len(self.buckets), self.slice)
                 if len(pairs := self._probe(mask, first, max_distance))]
        return np.concatenate(found) if found else np.empty((0, 2), dtype=np.int64)

    def _probe(self, mask: int, first: int, max_distance: int) -> np.ndarray:
        """The close pairs between the buckets first..first+slice and their partners under `mask`."""
        buckets = self.buckets[first:first + self.slice]
        numbers = np.arange(first, first + len(buckets), dtype=np.int32)
        if mask == 0:
            left = numbers[self.counts[first:first + len(buckets)] > 1]
            right = left
        else:
            partners = self.slot[buckets ^ np.int32(mask)]
            keep = partners > numbers  # occupied, and each bucket pair once
            left, right = numbers[keep], partners[keep]
        if not len(left):
            return np.empty((0, 2), dtype=np.int64)
        i, j = _cross(self.starts[left], self.counts[left], self.starts[right], self.counts[right])
        if mask == 0:
            keep = i < j
            i, j = i[keep], j[keep]
        close = np.bitwise_count(self.sorted_hashes[i] ^ self.sorted_hashes[j]) <= max_distance
        a, b = self.order[i[close]], self.order[j[close]]
        return np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)


def _cross(first_a: np.ndarray, count_a: np.ndarray, first_b: np.ndarray, count_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (position in run a, position in run b) for each pair of runs, as two flat arrays."""
    sizes = count_a * count_b
    pair = np.repeat(np.arange(len(sizes)), sizes)
    within = np.arange(len(pair)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    width = count_b[pair]
    return first_a[pair] + within // width, first_b[pair] + within % width


def _masks(width: int, flips: int) -> list[int]:
    masks = [0]
    for k in range(1, flips + 1):
        masks.extend(sum(1 << b for b in bits) for bits in combinations(range(width), k))
    return masks


def near_pairs_bruteforce(hashes: np.ndarray, max_distance: int, block: int = 2048) -> np.ndarray:
    """The O(N^2) reference, in blocks; the tests and the benchmark hold `near_pairs` to it."""
    hashes = np.asarray(hashes, dtype=np.uint64)
    found = []
    for start in range(0, len(hashes), block):
        rows = hashes[start:start + block]
        distances = np.bitwise_count(rows[:, None] ^ hashes[None, :])
        i, j = np.nonzero(distances <= max_distance)
        i = i + start
        keep = i < j
        found.append(np.stack([i[keep], j[keep]], axis=1))
    pairs = np.concatenate(found) if found else np.empty((0, 2), dtype=np.int64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))].astype(np.int64)
