"""`--fine-tune all`'s examples: the image files, decoded as training goes.

Whole-network fine-tuning has no cut point whose activations could be cached: every layer
changes, so every epoch needs every photo's pixels. Storing the preprocessed pixels would cost
600 KB a photo; decoding again costs little beside the network's forward and backward pass, and
lets every epoch see a fresh augmentation of every photo (variant number = epoch, so a run is
reproducible). Decoding overlaps the network exactly as extraction does
(train.features.decoding.decoded_batches), with the same preprocessing graph, so what the network
learns from is what the exported model will be given.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from ..features.decoding import Job, decode_graph, decoded_batches
from ..network.backbones import Backbone
from .loop import Batch


class ImageBatches:
    """Photos (`jobs`, variant 0), their label indices and dataset paths; augmented per epoch when `augment`."""

    def __init__(self, jobs: list[Job], labels: np.ndarray, paths: list[str], backbone: Backbone, batch_size: int,
                 seed: int = 0, augment: bool = True) -> None:
        self.jobs, self.labels, self.paths, self.batch_size = jobs, labels, paths, batch_size
        self.seed, self.augment = seed, augment
        self._prepare = decode_graph(backbone)
        #: jobs that could not be used in some pass, with why (vanished, changed, not decodable): skipped, never fatal
        self.failed: dict[Job, str] = {}

    def __len__(self) -> int:
        return len(self.jobs)

    def epoch(self, number: int) -> Iterator[Batch]:
        order = np.random.default_rng([self.seed, number]).permutation(len(self.jobs))
        return self._batches(order, number if self.augment else 0)

    def plain(self) -> Iterator[Batch]:
        return self._batches(np.arange(len(self.jobs)), 0)

    def _batches(self, order: np.ndarray, variant: int) -> Iterator[Batch]:
        chunks = [order[start:start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        jobs = [[replace(self.jobs[i], variant=variant) for i in chunk] for chunk in chunks]
        for chunk, (_, decoded, images) in zip(chunks, decoded_batches(jobs, self._prepare, self.failed)):
            if images is not None:
                rows = chunk[decoded]
                yield images, self.labels[rows], rows
