"""Vectors from a scale-out run (scaleout/, Parquet shards) into the local bottleneck caches.

The bottleneck cache is keyed by content (sha256) and per backbone, so a vector computed on a
cluster is exactly the one extraction would compute here (the same preprocessing and network, a
test holds them to 1e-5): importing needs no check of the files. A row's `backbone` column names
the backbone id and the pixels version; rows of another pixels version (an older retrainkit) are
left out, so no vector from different preprocessing is ever served.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from retrainkit.shards import read_rows

from .cache import PIXELS_VERSION, BottleneckCache, key_for

_COLUMNS = ("sha256", "backbone", "vector")


@dataclass
class VectorsImport:
    #: vectors put into the cache, per backbone id
    imported: dict[str, int] = field(default_factory=dict)
    #: rows without a vector (bad files) or made with another pixels version
    left_out: int = 0

    def summary(self) -> str:
        made = ", ".join(f"{count} for {backbone}" for backbone, count in self.imported.items()) or "none"
        return f"Imported bottleneck vectors: {made}" + (f" ({self.left_out} rows without a usable vector)." if self.left_out else ".")


def import_vectors(shards: str, cache_folder: Path, *, progress: bool = True) -> VectorsImport:
    """Every vector of the shards into `cache_folder`'s bottleneck cache of its backbone."""
    result = VectorsImport()
    caches: dict[str, BottleneckCache] = {}
    try:
        with tqdm(desc="import vectors", unit="img", disable=not progress) as bar:
            for columns in read_rows(shards, _COLUMNS):
                by_backbone: dict[str, tuple[list[str], list]] = defaultdict(lambda: ([], []))
                for sha256, backbone, vector in zip(*(columns[c] for c in _COLUMNS)):
                    if vector is None or not backbone or not backbone.endswith(PIXELS_VERSION):
                        result.left_out += 1
                        continue
                    keys, vectors = by_backbone[backbone.removesuffix(PIXELS_VERSION)]
                    keys.append(key_for(sha256))
                    vectors.append(vector)
                for backbone, (keys, vectors) in by_backbone.items():
                    if backbone not in caches:
                        caches[backbone] = BottleneckCache(cache_folder, backbone)
                    caches[backbone].put(keys, np.asarray(vectors, dtype=np.float32))
                    result.imported[backbone] = result.imported.get(backbone, 0) + len(keys)
                bar.update(len(columns["sha256"]))
    finally:
        for cache in caches.values():
            cache.close()
    return result
