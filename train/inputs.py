"""Before any head is trained: the usable images, their split, and their cached vectors (`gather_inputs`).

Every use of a dataset starts here - `train`, `find_suspects_in`, the benches: curate's analysis
gives the usable images and near-duplicate groups, `split` places them, and the bottlenecks (and,
with fine-tuning, the activations entering the first trained block, from the same pass of each
photo) are extracted into their caches and read back as `Examples` per split.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import curate
from curate.rejected import rejected_photos
from curate.settings import CurateSettings
from curate.tree import labels as tree_labels
from retrainkit.model import slicing

from .errors import TrainError
from .examples import Examples
from .features.cache import BottleneckCache, key_for
from .features.decoding import GONE, Job, job_for
from .features.extraction import extract
from .network import backbones, efficientnet_lite
from .settings import BUILT_IN_BACKBONES, TrainSettings
from .split import TEST, TRAIN, VALIDATION, split


@dataclass
class TrainingInputs:
    """What every use of a dataset needs before a head is trained: images, split, cached vectors."""

    root: Path
    settings: TrainSettings
    analysis: curate.Analysis
    usable: list[curate.ImageRecord]
    skipped: dict[str, str]
    labels: list[str]
    placement: dict[str, str]
    backbone: backbones.Backbone
    data: dict[str, Examples]
    #: the plain (not augmented) vector of every usable image, in `usable` order
    plain: np.ndarray
    extracted: int
    #: with --fine-tune N: the activations entering the first fine-tuned block, per split (train: every variant)
    at_cut: AtCut | None = None
    #: the photos the user rejected in earlier reviews (curate.rejected), extracted in the same pass
    rejected: Rejected | None = None


@dataclass
class AtCut:
    cut: int
    #: like TrainingInputs.data, rows flattened
    data: dict[str, Examples]
    #: activations this run computed (the rest came from the cache)
    computed: int


@dataclass
class Rejected:
    """The photos the user rejected (curate.rejected): suspects and "none of the labels" learn from them."""

    #: their frozen vectors, as `TrainingInputs.plain` has the usable photos'
    plain: np.ndarray
    #: with --fine-tune N: their activations at the cut, rows flattened (for the open set's frozen copy)
    at_cut: np.ndarray | None = None


@dataclass
class Survey:
    """What a run will learn from, known before any network runs: the settings, curate's usable images,
    the labels and the split. Cheap (the scan is cached), so `train` can tell an unchanged dataset first."""

    settings: TrainSettings
    analysis: curate.Analysis
    usable: list[curate.ImageRecord]
    skipped: dict[str, str]
    labels: list[str]
    placement: dict[str, str]

    @property
    def root(self) -> Path:
        return self.analysis.root


def survey(dataset: str | os.PathLike, config: str | os.PathLike | None, progress: bool, options: dict[str, object]) -> Survey:
    settings = TrainSettings.load(config, **options)
    analysis = curate.analyse(dataset, CurateSettings.load(config), progress=progress)
    usable, skipped = _usable(analysis)
    labels = _labels(analysis.root, usable)
    placement = split(usable, groups_of(analysis), settings.val_pct, settings.test_pct)
    return Survey(settings, analysis, usable, skipped, labels, placement)


def gather_inputs(dataset: str | os.PathLike, config: str | os.PathLike | None, progress: bool, options: dict[str, object],
            surveyed: Survey | None = None) -> TrainingInputs:
    found = surveyed or survey(dataset, config, progress, options)
    settings, analysis, root = found.settings, found.analysis, found.root
    slicing.force(settings.photos_per_call)
    usable, skipped, labels, placement = list(found.usable), dict(found.skipped), found.labels, dict(found.placement)

    backbone = backbones.load(settings.backbone, settings.image_size)
    if settings.fine_tuning and backbone.lite is None:
        raise TrainError(f"--fine-tune works with the built-in {', '.join(BUILT_IN_BACKBONES)}: a TF Hub or SavedModel backbone is "
                         "a sealed graph whose blocks cannot be unfrozen one by one; train its head without --fine-tune")
    cache = BottleneckCache(settings.cache_folder(root), backbone.id)
    cut = efficientnet_lite.cut_for(settings.fine_tune_blocks, backbone.lite) if settings.fine_tuning and not settings.fine_tune_all else None
    activations = None if cut is None else activation_cache(settings, root, backbone, cut)
    rejected_records = rejected_photos(analysis, {r.sha256 for r in usable})
    rejected_jobs = [job_for(root, r) for r in rejected_records]
    try:
        jobs = _jobs(root, usable, placement, settings.augment)
        caches, network, what, lacking = [cache], None, "bottlenecks", set()
        if activations is not None:  # one pass of each photo fills both caches (see Variant.build_split)
            variants = fine_tune_variants(settings, sum(1 for part in placement.values() if part == TRAIN))
            jobs = _jobs(root, usable, placement, variants)  # variants >= augment: every bottleneck job is among them
            caches, network, what = [activations, cache], backbone.lite.build_split(cut), "bottlenecks + activations"
            lacking = activations.missing([j.key for j in jobs])
        extracted, failed = extract(jobs + rejected_jobs, backbone, caches, settings.extract_batch, progress, network=network, what=what)
        failed_keys = {j.key for j in failed}
        rejected = _rejected(rejected_records, failed_keys, cache, activations)
        decided = set(rejected_jobs)
        failed = {job: why for job, why in failed.items() if job not in decided}  # a rejected file is nobody's loss
        unreadable = {j.path.relative_to(root).as_posix(): why for j, why in failed.items() if j.variant == 0}
        skipped.update(unreadable)
        usable = [r for r in usable if r.path not in unreadable]
        placement = {path: part for path, part in placement.items() if path not in unreadable}  # split.json: what was used
        data = _arrays(usable, placement, labels, cache, settings.augment, failed_keys)
        plain = cache.get([key_for(r.sha256) for r in usable])
        at_cut = None
        if activations is not None:
            at_cut = AtCut(cut, _arrays(usable, placement, labels, activations, variants, failed_keys),
                           len(lacking - failed_keys))
    finally:
        cache.close()
        if activations is not None:
            activations.close()
    return TrainingInputs(root=root, settings=settings, analysis=analysis, usable=usable, skipped=skipped, labels=labels,
                    placement=placement, backbone=backbone, data=data, plain=plain, extracted=extracted, at_cut=at_cut,
                    rejected=rejected)


def _rejected(records: list[curate.ImageRecord], failed_keys: set[str], cache: BottleneckCache,
              activations: BottleneckCache | None) -> Rejected | None:
    """The rejected photos' cached vectors; None when there are none (or none could be read)."""
    keys = [key for key in (key_for(r.sha256) for r in records) if key not in failed_keys]
    if not keys:
        return None
    return Rejected(cache.get(keys), None if activations is None else activations.get(keys))


def activation_cache(settings: TrainSettings, root: Path, backbone: backbones.Backbone, cut: int) -> BottleneckCache:
    return BottleneckCache(settings.cache_folder(root), f"{backbone.id}-block{cut}", kind="activations")


def fine_tune_variants(settings: TrainSettings, training_photos: int) -> int:
    """Augmented variants per training photo whose activations fine-tuning learns from (and --augment's,
    which are cached anyway): see TrainSettings.fine_tune_variants."""
    return max(settings.augment, settings.fine_tune_variants)


def groups_of(analysis: curate.Analysis) -> list[list[str]]:
    return [[m.path for m in g.members] for g in analysis.groups]


def _usable(analysis: curate.Analysis) -> tuple[list[curate.ImageRecord], dict[str, str]]:
    skipped = {r.path: r.problem for r in analysis.records if not r.ok}
    skipped.update({path: GONE for path in analysis.scan.vanished})
    usable = [r for r in analysis.records if r.ok and r.path not in analysis.rejected]
    return usable, skipped


def _labels(root: Path, usable: list[curate.ImageRecord]) -> list[str]:
    present = sorted({r.label for r in usable})
    empty = [label for label in tree_labels(root) if label not in present]
    if empty:
        raise TrainError(f"label {empty[0]!r} has no usable images: add some, or move the folder out of {root}")
    if len(present) < 2:
        raise TrainError(f"{root}: need at least two labels with images to train a classifier, found {len(present)}")
    return present


def _jobs(root: Path, usable: list[curate.ImageRecord], placement: dict[str, str], augment: int) -> list[Job]:
    jobs = [job_for(root, r) for r in usable]
    for record in usable:
        if placement[record.path] == TRAIN:
            jobs.extend(job_for(root, record, k) for k in range(1, augment + 1))
    return list(dict.fromkeys(jobs))  # identical files share one vector


def _arrays(usable: list[curate.ImageRecord], placement: dict[str, str], labels: list[str], cache: BottleneckCache,
            augment: int, failed_keys: set[str]) -> dict[str, Examples]:
    index = {label: i for i, label in enumerate(labels)}
    data = {}
    for name in (TRAIN, VALIDATION, TEST):
        records = [r for r in usable if placement[r.path] == name]
        keys, truth, paths = [], [], []
        for record in records:
            variants = range(augment + 1) if name == TRAIN else range(1)
            for variant in variants:
                key = key_for(record.sha256, variant)
                if key not in failed_keys:
                    keys.append(key)
                    truth.append(index[record.label])
                    paths.append(record.path)
        vectors = cache.get(keys) if keys else np.zeros((0, 1), np.float32)
        data[name] = Examples(vectors, np.array(truth, dtype=np.int64), paths)
    if not len(data[TRAIN]):
        raise TrainError("no training images left after the split: add images")
    dim = data[TRAIN].features.shape[1]
    for name in (VALIDATION, TEST):
        if not len(data[name]):
            data[name] = Examples(np.zeros((0, dim), np.float32), data[name].labels, data[name].paths)
    return data


