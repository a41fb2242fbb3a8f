"""`train()`: a curated folder-per-label tree in, an exported classifier and its report out.

The steps, each in its own module: the usable images and duplicate groups come from `curate`;
`split` places them; `bottlenecks` extracts and caches features through the chosen backbone;
`head` trains the softmax layer; `evaluate` scores the test split; `export` writes the SavedModel.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

import curate
from curate.settings import CurateSettings
from curate.tree import CURATE_DIR
from curate.tree import labels as tree_labels

from . import backbones
from .bottlenecks import BottleneckCache, Job, extract, key_for
from .errors import TrainError
from .evaluate import Evaluation, evaluate, write
from .export import export
from .head import History, train_head
from .image_bytes import needs_conversion
from .settings import TrainSettings
from .split import TEST, TRAIN, VALIDATION, split

SUSPECT_BELOW = 0.2


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
        lines += ["", f"Model: {self.out}/saved_model (labels.txt, metrics.json, report.md, confusion_matrix.png, logs/) "
                      f"in {self.seconds:.0f} s, {self.extracted} bottlenecks computed.",
                  f"Try it: classify {self.out} IMAGE..."]
        return "\n".join(lines)


def train(dataset: str | os.PathLike, *, out: str | os.PathLike | None = None, config: str | os.PathLike | None = None,
          progress: bool = True, tflite: bool = False, **options: object) -> TrainResult:
    """Train a classifier on DATASET/<label>/ images; keyword options are TrainSettings fields.

    `tflite=True` also writes model_float16.tflite and model_int8.tflite beside the SavedModel.

    >>> result = train("dataset", epochs=50, augment=2)    # doctest: +SKIP
    >>> result.evaluation.accuracy                         # doctest: +SKIP
    0.95
    """
    started = time.perf_counter()
    settings = TrainSettings.load(config, **options)
    analysis = curate.analyse(dataset, CurateSettings.load(config), progress=progress)
    root = analysis.root
    usable, skipped = _usable(analysis)
    labels = _labels(root, usable)
    placement = split(usable, [[m.path for m in g.members] for g in analysis.groups], settings.val_pct, settings.test_pct)

    backbone = backbones.load(settings.backbone, settings.image_size)
    cache = BottleneckCache(Path(settings.cache_dir) if settings.cache_dir else root / ".cache", backbone.id)
    try:
        jobs = _jobs(root, usable, placement, settings.augment)
        extracted, failed = extract(jobs, backbone, cache, settings.extract_batch, progress)
        unreadable = {j.path.relative_to(root).as_posix() for j in failed if j.variant == 0}
        skipped.update({path: "TensorFlow could not decode it" for path in unreadable})
        usable = [r for r in usable if r.path not in unreadable]
        data = _arrays(usable, placement, labels, cache, settings.augment, {j.key for j in failed})
    finally:
        cache.close()

    target = Path(out) if out else Path("models") / root.resolve().name
    _prepare_out(target)
    head, history = train_head(*data[TRAIN][:2], *data[VALIDATION][:2], len(labels), settings, target / "logs", progress)
    validation_accuracy = _accuracy(head, *data[VALIDATION][:2])
    test_probabilities = _probabilities(head, data[TEST][0])
    evaluation = evaluate(test_probabilities, data[TEST][1], data[TEST][2], labels)

    export(target, backbone, head, labels)
    if tflite:
        from .tflite import export_tflite

        export_tflite(target, backbone, head, [root / r.path for r in usable if placement[r.path] == TRAIN])
    counts = {name: len(set(data[name][2])) for name in (TRAIN, VALIDATION, TEST)}
    _write_outputs(target, root, evaluation, placement, labels, backbone, settings, validation_accuracy, counts,
                   data[TEST], test_probabilities)
    _write_suspects(root, head, labels, data)
    return TrainResult(target, labels, evaluation, history, validation_accuracy, counts, skipped,
                       time.perf_counter() - started, extracted)


def _usable(analysis: curate.Analysis) -> tuple[list[curate.ImageRecord], dict[str, str]]:
    skipped = {r.path: r.problem for r in analysis.records if not r.ok}
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
    jobs = [Job(key_for(r.sha256), root / r.path, 0, needs_conversion(r.format, r.mode, r.transparent)) for r in usable]
    for record in usable:
        if placement[record.path] == TRAIN:
            convert = needs_conversion(record.format, record.mode, record.transparent)
            jobs.extend(Job(key_for(record.sha256, k), root / record.path, k, convert) for k in range(1, augment + 1))
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


def _write_outputs(target, root, evaluation, placement, labels, backbone, settings, validation_accuracy, counts, test, test_probabilities) -> None:
    (target / "split.json").write_text(json.dumps(
        {name: sorted(p for p, s in placement.items() if s == name) for name in (TRAIN, VALIDATION, TEST)}, indent=1))
    extra = {
        "dataset": str(root),
        "backbone": backbone.name,
        "labels": labels,
        "images": counts,
        "validation_accuracy": validation_accuracy,
        "settings": settings.__dict__,
        "test_predictions": [
            {"path": path, "true": labels[t], "probabilities": [float(p) for p in row]}
            for path, t, row in zip(test[2], test[1], test_probabilities)
        ],
    }
    write(evaluation, target, extra)
    for mistake in evaluation.mistakes:
        folder = target / "misclassified" / f"{mistake.true}_as_{mistake.predicted}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / mistake.path, folder / Path(mistake.path).name)


def _write_suspects(root: Path, head, labels: list[str], data: dict) -> None:
    """Images the trained model finds unlike their own label: candidates for the review page to show first."""
    suspects = []
    for name in (TRAIN, VALIDATION, TEST):
        features, truth, paths = data[name]
        if not len(features):
            continue
        probabilities = _probabilities(head, features)
        seen = set()
        for path, t, row in zip(paths, truth, probabilities):
            if path in seen:
                continue  # augmented variants share the path; the plain one comes first
            seen.add(path)
            if row[t] < SUSPECT_BELOW:
                best = int(row.argmax())
                suspects.append({"path": path, "label": labels[t], "predicted": labels[best],
                                 "probability": float(row[best]), "own_label_probability": float(row[t]), "split": name})
    folder = root / CURATE_DIR
    folder.mkdir(exist_ok=True)
    (folder / "suspects.json").write_text(json.dumps(sorted(suspects, key=lambda s: s["own_label_probability"]), indent=1))
