"""`train()`: a curated folder-per-label tree in, an exported classifier and its report out.

The steps, each in its own module: the usable images and duplicate groups come from `curate`;
`split` places them; `bottlenecks` extracts and caches features through the chosen backbone;
`head` trains the softmax layer; `evaluate` scores the test split; `export` writes the SavedModel.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

import curate
from curate.settings import CurateSettings
from curate.tree import labels as tree_labels

from . import backbones
from .bottlenecks import GONE, BottleneckCache, Job, extract, job_for, key_for
from .errors import TrainError
from .evaluate import Evaluation, evaluate, write
from .export import export
from .report_page import write_report_page
from .finetune import ArrayBatches, FineTuneHistory, copy_into_backbone, cut_for, dense_head, fine_tune
from .finetune_images import ImageBatches
from .finetune import build_model as build_fine_tune_model
from .finetune import features as fine_tune_features
from .finetune import probabilities as fine_tune_probabilities
from .head import EpochScores, History, train_head
from .open_set import OpenSet, SplitFeatures, open_set
from .settings import FINE_TUNE_ALL, TrainSettings
from .split import TEST, TRAIN, VALIDATION, folds, split
from .suspects import SuspectReport, find_suspects, write_suspects

#: Fold heads train for the main head's early-stopped epoch count, but never fewer than this.
MIN_FOLD_EPOCHS = 10
#: Augmented variants per training image that fine-tuning learns from at least (flip, crop, scale, brightness):
#: on bench/finetune.py's folds, +1.2 points over the frozen head with 1, +1.4 with 2, +0.6 with 4 (the same within
#: the noise), and each costs a pass of the network over the training photos (README, fine-tuning).
FINE_TUNE_VARIANTS = 1

@dataclass
class TrainResult:
    out: Path
    labels: list[str]
    evaluation: Evaluation
    history: History
    validation_accuracy: float
    images: dict[str, int]
    #: files left out, with why (unreadable, rejected files are not listed: they were decided on)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    extracted: int = 0
    suspects: SuspectReport | None = None
    #: with --drop-suspects: the training images left out, and the test accuracy a head trained with them got
    dropped: list[str] = field(default_factory=list)
    accuracy_with_suspects: float | None = None
    dataset: Path = Path(".")
    fine_tuned: "FineTuned | None" = None
    report_page: Path | None = None
    open_set: OpenSet | None = None
    fine_tune_note: str = ""

    def summary(self) -> str:
        lines = [
            f"Test accuracy: {self.evaluation.accuracy * 100:.1f}% on {self.evaluation.count} images "
            f"(validation {self.validation_accuracy * 100:.1f}%; {self.images[TRAIN]} training images, "
            f"best epoch {self.history.best_epoch} of {self.history.epochs}).",
            "",
            self.evaluation.table(),
        ]
        if self.skipped:
            lines += ["", f"Skipped {len(self.skipped)} unusable files: " + ", ".join(f"{p} ({why})" for p, why in list(self.skipped.items())[:5])
                      + (" ..." if len(self.skipped) > 5 else "")]
        if self.suspects is not None:
            lines += ["", self.suspects.summary(self.dataset)]
        if self.fine_tuned is not None:
            tuned = self.fine_tuned
            what = "the whole backbone" if tuned.blocks == FINE_TUNE_ALL else f"the last {tuned.blocks} block(s) of the backbone"
            lines += ["", f"Fine-tuned {what} with the head: validation accuracy "
                          f"{tuned.validation_before * 100:.1f}% -> {tuned.validation_accuracy * 100:.1f}% (best epoch "
                          f"{tuned.history.best_epoch} of {tuned.history.epochs}, {tuned.history.seconds:.0f} s; "
                          f"{tuned.extracted} activations computed)."]
        if self.fine_tune_note:
            lines += ["", self.fine_tune_note]
        if self.open_set is not None:
            lines += ["", self.open_set.summary()]
        if self.accuracy_with_suspects is not None:
            lines.append(f"Trained without {len(self.dropped)} suspects (--drop-suspects): test accuracy "
                         f"{self.evaluation.accuracy * 100:.1f}%, with them {self.accuracy_with_suspects * 100:.1f}%.")
        lines += ["", f"Model: {self.out}/saved_model (labels.txt, metrics.json, report.md, logs/) "
                      f"in {self.seconds:.0f} s, {self.extracted} bottlenecks computed.",
                  f"Report: {self.report_page or self.out / 'report.html'} (open it in a browser)",
                  f"Try it: classify {self.out} IMAGE..."]
        return "\n".join(lines)


def train(dataset: str | os.PathLike, *, out: str | os.PathLike | None = None, config: str | os.PathLike | None = None,
          progress: bool = True, tflite: bool = False, suspects: bool = True, drop_suspects: bool = False,
          **options: object) -> TrainResult:
    """Train a classifier on DATASET/<label>/ images; keyword options are TrainSettings fields.

    `tflite=True` also writes model_float16.tflite and model_int8.tflite beside the SavedModel.
    `suspects` judges every image out of fold and writes DATASET/.curate/suspects.json;
    `drop_suspects` also leaves them out of the training split (never off the disk).

    >>> result = train("dataset", epochs=50, augment=2)    # doctest: +SKIP
    >>> result.evaluation.accuracy                         # doctest: +SKIP
    0.95
    """
    started = time.perf_counter()
    if tflite:
        from .tflite_metadata import metadata_schema

        metadata_schema()  # a missing extra is said now, not after the training
    run = _prepare(dataset, config, progress, options)
    settings, data, labels = run.settings, run.data, run.labels
    target = Path(out) if out else Path("models") / run.root.resolve().name
    _prepare_out(target)
    head, history = train_head(*data[TRAIN][:2], *data[VALIDATION][:2], len(labels), settings, target / "logs", progress)
    judge = suspects and not drop_suspects  # --drop-suspects judges them inside _finish, before training again
    # Judged while the model is exported: export is mostly Python (tracing, writing), the fold heads
    # mostly TensorFlow kernels. Not beside fine-tuning, which builds Keras models and seeds Keras too.
    overlap = judge and not settings.fine_tuning
    with ThreadPoolExecutor(1, thread_name_prefix="suspects") as background:
        pending = background.submit(_judge, run, history.best_epoch) if overlap else None
        report = _judge(run, history.best_epoch) if judge and not overlap else None
        result = _finish(run, target, head, history, tflite, drop_suspects, progress, started)
    if judge:
        result.suspects = pending.result() if pending else report
    result.seconds = time.perf_counter() - started
    judged = result.suspects  # also set by --drop-suspects; None with --no-suspects
    result.report_page = write_report_page(target, run.root, result.seconds,
                                           None if judged is None else [asdict(s) for s in judged.suspects])
    return result


def _finish(run: _Run, target: Path, head, history: History, tflite: bool, drop_suspects: bool, progress: bool,
            started: float) -> TrainResult:
    """Evaluate, export and report; with `drop_suspects`, first train again without them."""
    settings, data, labels = run.settings, run.data, run.labels
    report = _judge(run, history.best_epoch) if drop_suspects else None
    dropped: list[str] = []
    accuracy_with = None
    if report is not None and report.suspects:
        accuracy_with = _accuracy(head, *data[TEST][:2])
        dropped = sorted({p for p in data[TRAIN][2] if p in report.paths})
        data[TRAIN] = _without(data[TRAIN], report.paths)
        head, history = train_head(*data[TRAIN][:2], *data[VALIDATION][:2], len(labels), settings, target / "logs", progress)
    test = data[TEST]
    fine_tuned = None
    if settings.fine_tuning:
        fine_tuned = _fine_tune(run, head, set(dropped), target, progress)
        head, test, validation_accuracy, test_probabilities = (fine_tuned.head, fine_tuned.test, fine_tuned.validation_accuracy,
                                                               fine_tuned.test_probabilities)
        features = fine_tuned.features
    else:
        validation_accuracy = _accuracy(head, *data[VALIDATION][:2])
        test_probabilities = _probabilities(head, test[0])
        features = {name: SplitFeatures(*data[name]) for name in (TRAIN, VALIDATION, TEST)}
    evaluation = evaluate(test_probabilities, test[1], test[2], labels)
    known = open_set(features, labels, _groups(run.analysis), settings)

    export(target, run.backbone, head, labels, known.reference)
    if tflite:
        from .tflite import export_tflite

        export_tflite(target, run.backbone, head, [run.root / r.path for r in run.usable if run.placement[r.path] == TRAIN], labels)
    counts = {name: len(set(data[name][2])) for name in (TRAIN, VALIDATION, TEST)}
    curves = {"head": _curve(history.curve, history.best_epoch)}
    if fine_tuned is not None:
        curves["fine_tune"] = _curve(fine_tuned.history.curve, fine_tuned.history.best_epoch)
    _write_outputs(target, run.root, evaluation, run.placement, labels, run.backbone, settings, validation_accuracy, counts,
                   test, test_probabilities, dropped, curves, time.perf_counter() - started, known)
    return TrainResult(target, labels, evaluation, history, validation_accuracy, counts, run.skipped,
                       time.perf_counter() - started, run.extracted, report, dropped, accuracy_with, run.root, fine_tuned,
                       open_set=known, fine_tune_note=run.fine_tune_note)


@dataclass
class FineTuned:
    head: object
    history: FineTuneHistory
    #: settings.fine_tune: "1".."8" blocks, or "all"
    blocks: str
    #: validation accuracy of the head alone (before) and of the fine-tuned network (after)
    validation_before: float
    validation_accuracy: float
    test: tuple[np.ndarray, np.ndarray, list[str]]
    test_probabilities: np.ndarray
    extracted: int
    #: per split, the fine-tuned network's features (the novelty reference's space)
    features: dict[str, SplitFeatures] = field(default_factory=dict)


def _fine_tune(run: _Run, head, dropped: set[str], target: Path, progress: bool) -> FineTuned:
    """The backbone (its last blocks, or all of it) and the head trained together from the head's
    weights, then written back into the backbone so that export() saves the fine-tuned network."""
    settings = run.settings
    validation_before = _accuracy(head, *run.data[VALIDATION][:2])
    from_files = _fine_tune_from_images if settings.fine_tune_all else _fine_tune_from_activations
    model, history, sources, extracted = from_files(run, head, dropped, target, progress)
    validation, rows = fine_tune_probabilities(model, sources[VALIDATION])
    validation_accuracy = float((validation.argmax(axis=1) == sources[VALIDATION].labels[rows]).mean()) if len(rows) else 0.0
    test_probabilities, rows = fine_tune_probabilities(model, sources[TEST])
    # evaluation needs labels and paths only; a photo the source could not read is left out of both
    test = (np.zeros((len(rows), 0), np.float32), sources[TEST].labels[rows], [sources[TEST].paths[i] for i in rows])
    features = {}
    for name, source in sources.items():
        vectors, rows = fine_tune_features(model, source)
        features[name] = SplitFeatures(vectors, source.labels[rows], [source.paths[i] for i in rows])
    copy_into_backbone(model, run.backbone.network)
    return FineTuned(dense_head(model, settings), history, settings.fine_tune, validation_before, validation_accuracy,
                     test, test_probabilities, extracted, features)


def _fine_tune_from_activations(run: _Run, head, dropped: set[str], target: Path, progress: bool):
    """The last blocks, from the activations at the cut (extracted with the bottlenecks, cached per image and variant)."""
    settings, at_cut = run.settings, run.at_cut
    shape = run.backbone.lite.activation_shape(at_cut.cut)
    arrays = {name: (rows[0].reshape(-1, *shape), rows[1], rows[2]) for name, rows in at_cut.data.items()}
    arrays[TRAIN] = _without(arrays[TRAIN], dropped)
    sources = {name: ArrayBatches(inputs, labels, settings.batch_size, settings.seed, paths)
               for name, (inputs, labels, paths) in arrays.items()}
    model = build_fine_tune_model(run.backbone.lite, at_cut.cut, head, settings)
    history = fine_tune(model, sources[TRAIN], sources[VALIDATION], len(run.labels), settings, target / "logs", progress)
    return model, history, sources, at_cut.computed


def _fine_tune_from_images(run: _Run, head, dropped: set[str], target: Path, progress: bool):
    """The whole network, from the image files: a fresh augmentation of every training photo per epoch."""
    settings = run.settings
    index = {label: i for i, label in enumerate(run.labels)}
    sources = {}
    for name in (TRAIN, VALIDATION, TEST):
        records = [r for r in run.usable if run.placement[r.path] == name and not (name == TRAIN and r.path in dropped)]
        jobs = [job_for(run.root, r) for r in records]
        labels = np.array([index[r.label] for r in records], dtype=np.int64)
        sources[name] = ImageBatches(jobs, labels, [r.path for r in records], run.backbone, settings.batch_size,
                                     settings.seed, augment=name == TRAIN)
    if progress:
        where = "on the GPU" if tf.config.list_physical_devices("GPU") else "on the CPU (a GPU is much faster: TensorFlow uses one it sees)"
        print(f"Fine-tuning the whole network from {len(sources[TRAIN])} training photos, {where}.", file=sys.stderr, flush=True)
    model = build_fine_tune_model(run.backbone.lite, None, head, settings)
    history = fine_tune(model, sources[TRAIN], sources[VALIDATION], len(run.labels), settings, target / "logs", progress)
    return model, history, sources, 0


def find_suspects_in(dataset: str | os.PathLike, *, config: str | os.PathLike | None = None, progress: bool = True,
                     **options: object) -> SuspectReport:
    """Suspects without a model: extraction (cached), the head on the split for its epoch count, then the folds.

    For the flow collect -> curate review -> find suspects -> review -> train.
    """
    run = _prepare(dataset, config, progress, options)
    with tempfile.TemporaryDirectory() as logs:
        _, history = train_head(*run.data[TRAIN][:2], *run.data[VALIDATION][:2], len(run.labels), run.settings, Path(logs), False)
    return _judge(run, history.best_epoch)


@dataclass
class _Run:
    """What every use of a dataset needs before a head is trained: images, split, cached vectors."""

    root: Path
    settings: TrainSettings
    analysis: curate.Analysis
    usable: list[curate.ImageRecord]
    skipped: dict[str, str]
    labels: list[str]
    placement: dict[str, str]
    backbone: backbones.Backbone
    data: dict[str, tuple[np.ndarray, np.ndarray, list[str]]]
    #: the plain (not augmented) vector of every usable image, in `usable` order
    plain: np.ndarray
    extracted: int
    #: with --fine-tune N: the activations entering the first fine-tuned block, per split (train: every variant)
    at_cut: "AtCut | None" = None
    #: why the default ("auto") did not fine-tune, in one line; "" when it did or was told
    fine_tune_note: str = ""


@dataclass
class AtCut:
    cut: int
    #: like _Run.data, rows flattened
    data: dict[str, tuple[np.ndarray, np.ndarray, list[str]]]
    #: activations this run computed (the rest came from the cache)
    computed: int


def _prepare(dataset, config, progress: bool, options: dict) -> _Run:
    settings = TrainSettings.load(config, **options)
    analysis = curate.analyse(dataset, CurateSettings.load(config), progress=progress)
    root = analysis.root
    usable, skipped = _usable(analysis)
    labels = _labels(root, usable)
    placement = split(usable, _groups(analysis), settings.val_pct, settings.test_pct)

    backbone = backbones.load(settings.backbone, settings.image_size)
    settings, fine_tune_note = settings.resolved(backbone.lite is not None)
    if settings.fine_tuning:
        if backbone.lite is None:
            raise TrainError(f"--fine-tune works with the built-in {', '.join(backbones.BUILT_IN)}: a TF Hub or SavedModel backbone is "
                             "a sealed graph whose blocks cannot be unfrozen one by one; train its head without --fine-tune")
    cache = BottleneckCache(settings.cache_folder(root), backbone.id)
    cut = cut_for(settings.fine_tune_blocks, backbone.lite) if settings.fine_tuning and not settings.fine_tune_all else None
    activations = None if cut is None else _activation_cache(settings, root, backbone, cut)
    try:
        jobs = _jobs(root, usable, placement, settings.augment)
        caches, network, what, lacking = [cache], None, "bottlenecks", set()
        if activations is not None:  # one pass of each photo fills both caches (see Variant.build_split)
            jobs = list(dict.fromkeys(jobs + _jobs(root, usable, placement, _fine_tune_variants(settings))))
            caches, network, what = [activations, cache], backbone.lite.build_split(cut), "bottlenecks + activations"
            lacking = activations.missing([j.key for j in jobs])
        extracted, failed = extract(jobs, backbone, caches, settings.extract_batch, progress, network=network, what=what)
        failed_keys = {j.key for j in failed}
        unreadable = {j.path.relative_to(root).as_posix(): why for j, why in failed.items() if j.variant == 0}
        skipped.update(unreadable)
        usable = [r for r in usable if r.path not in unreadable]
        placement = {path: part for path, part in placement.items() if path not in unreadable}  # split.json: what was used
        data = _arrays(usable, placement, labels, cache, settings.augment, failed_keys)
        plain = cache.get([key_for(r.sha256) for r in usable])
        at_cut = None
        if activations is not None:
            at_cut = AtCut(cut, _arrays(usable, placement, labels, activations, _fine_tune_variants(settings), failed_keys),
                           len(lacking - failed_keys))
    finally:
        cache.close()
        if activations is not None:
            activations.close()
    return _Run(root, settings, analysis, usable, skipped, labels, placement, backbone, data, plain, extracted, at_cut,
                fine_tune_note)


def _activation_cache(settings: TrainSettings, root: Path, backbone: backbones.Backbone, cut: int) -> BottleneckCache:
    return BottleneckCache(settings.cache_folder(root), f"{backbone.id}-block{cut}", kind="activations")


def _fine_tune_variants(settings: TrainSettings) -> int:
    return max(settings.augment, FINE_TUNE_VARIANTS)


def _groups(analysis: curate.Analysis) -> list[list[str]]:
    return [[m.path for m in g.members] for g in analysis.groups]


def _judge(run: _Run, best_epoch: int) -> SuspectReport:
    """Out-of-fold suspects over every usable image, written to DATASET/.curate/suspects.json."""
    started = time.perf_counter()
    groups = _groups(run.analysis)
    index = {label: i for i, label in enumerate(run.labels)}
    paths = [r.path for r in run.usable]
    truth = np.array([index[r.label] for r in run.usable], dtype=np.int64)
    fold_of = folds(run.usable, groups, run.settings.folds)
    imagenet = run.backbone.lite.imagenet_classifier() if run.backbone.lite is not None else None
    report = find_suspects(paths, truth, run.labels, run.plain, fold_of, run.settings,
                           max(best_epoch, MIN_FOLD_EPOCHS), imagenet)
    write_suspects(run.root, report)
    report.seconds = time.perf_counter() - started
    return report


def _without(rows: tuple[np.ndarray, np.ndarray, list[str]], paths: set[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    keep = [i for i, p in enumerate(rows[2]) if p not in paths]
    return rows[0][keep], rows[1][keep], [rows[2][i] for i in keep]


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


def _arrays(usable, placement, labels, cache, augment, failed_keys) -> dict[str, tuple[np.ndarray, np.ndarray, list[str]]]:
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
        data[name] = (vectors, np.array(truth, dtype=np.int64), paths)
    if not len(data[TRAIN][0]):
        raise TrainError("no training images left after the split: add images")
    dim = data[TRAIN][0].shape[1]
    for name in (VALIDATION, TEST):
        if not len(data[name][0]):
            data[name] = (np.zeros((0, dim), np.float32), data[name][1], data[name][2])
    return data


def _probabilities(head, features: np.ndarray) -> np.ndarray:
    if not len(features):
        return np.zeros((0, head.output_shape[-1]), np.float32)
    return tf.nn.softmax(head(features, training=False)).numpy()


def _accuracy(head, features: np.ndarray, truth: np.ndarray) -> float:
    if not len(features):
        return 0.0
    return float((_probabilities(head, features).argmax(axis=1) == truth).mean())


def _prepare_out(target: Path) -> None:
    try:
        target.mkdir(parents=True, exist_ok=True)
        for stale in ("saved_model", "misclassified", "logs"):
            shutil.rmtree(target / stale, ignore_errors=True)
    except OSError as error:
        raise TrainError(f"cannot write the model to {target}: {error.strerror or error}; choose another --out") from None


def _curve(scores: list[EpochScores], best_epoch: int) -> dict:
    return {"best_epoch": best_epoch, "epochs": [asdict(s) for s in scores]}


def _write_outputs(target, root, evaluation, placement, labels, backbone, settings, validation_accuracy, counts, test, test_probabilities,
                   dropped: list[str], curves: dict, seconds: float, known: OpenSet) -> None:
    (target / "split.json").write_text(json.dumps(
        {name: sorted(p for p, s in placement.items() if s == name) for name in (TRAIN, VALIDATION, TEST)}, indent=1))
    extra = {
        "dataset": str(root),
        "backbone": backbone.name,
        "labels": labels,
        "images": counts,
        "validation_accuracy": validation_accuracy,
        "settings": settings.__dict__,
        "dropped_suspects": dropped,
        "curves": curves,
        "seconds": seconds,
        "open_set": known.metrics(),
        "test_predictions": [
            {"path": path, "true": labels[t], "probabilities": [float(p) for p in row], "novelty": known.test_novelty.get(path)}
            for path, t, row in zip(test[2], test[1], test_probabilities)
        ],
    }
    write(evaluation, target, extra)
    for mistake in evaluation.mistakes:
        folder = target / "misclassified" / f"{mistake.true}_as_{mistake.predicted}"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(root / mistake.path, folder / Path(mistake.path).name)
        except FileNotFoundError:
            continue  # moved away by another command while train ran; metrics.json still names it
