"""`Examples`: one split's rows - features, label indices, the photo each row came from - kept aligned.

A photo gives one row, plus one per cached augmented variant for training photos (its plain row
first, as extraction orders them). The head learns from bottleneck rows, fine-tuning from rows of
activations at the cut, and the open set's reference from rows of the exported network's features:
the same shape of data everywhere, so it travels between modules as one named type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Examples:
    features: np.ndarray
    labels: np.ndarray
    paths: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def rows(self, picked: list[int] | np.ndarray) -> Examples:
        picked = list(picked)
        return Examples(self.features[picked], self.labels[picked], [self.paths[i] for i in picked])

    def without(self, paths: set[str]) -> Examples:
        """The rows of every photo but those in `paths` (--drop-suspects)."""
        return self.rows([i for i, path in enumerate(self.paths) if path not in paths])

    def one_per_photo(self) -> Examples:
        """Each photo's first row, its plain variant."""
        seen: set[str] = set()
        return self.rows([i for i, path in enumerate(self.paths) if not (path in seen or seen.add(path))])

    def photos(self) -> int:
        return len(set(self.paths))

    def shaped(self, shape: tuple[int, ...]) -> Examples:
        """Flattened rows (as a cache stores them) back to `shape` each, e.g. activations (h, w, c)."""
        return Examples(self.features.reshape(-1, *shape), self.labels, self.paths)
