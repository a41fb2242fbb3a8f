"""`train()`: a curated folder-per-label tree in, an exported classifier and its report out.

The steps, each in its own module:
1. `inputs.gather_inputs`: curate's usable images and near-duplicate groups, `split`'s placement,
   the bottlenecks (and activations at the cut) extracted into their caches, as `Examples` per split;
2. `head.train_head`: the softmax layer on the training bottlenecks, early-stopped on validation;
3. `judging.suspects` (unless `suspects=False`): every photo judged out of fold, into .curate/suspects.json;
4. `finetune.step` (the default with a built-in backbone): the last block trained with the head;
5. `outputs.evaluate`: the test split scored; `judging.open_set`: the "none of the labels" reference and threshold;
6. `outputs.saved_model` (and `outputs.exports` for `tflite`): the SavedModel; `outputs.evaluate.write_outputs` and
   `outputs.report_page`: the reports.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from retrainkit.model.card import Metrics

from .finetune.step import FineTuned, fine_tune_step
from .finetune.warm_start import Previous
from .finetune.warm_start import read as read_warm_start
from .head import History, accuracy, probabilities, train_head
from .inputs import TrainingInputs, gather_inputs, groups_of, survey
from .judging.novelty_space import novelty_space
from .judging.open_set import OpenSet, open_set
from .judging.suspects import SuspectReport, find_suspects, write_suspects
from .outputs.evaluate import Evaluation, clear_model_folder, curve, evaluate, write_outputs
from .outputs.report_page import PAGE_NAME, write_report_page
from .outputs.saved_model import export
from .reuse import fingerprint, forget, last_summary, remember
from .split import TEST, TRAIN, VALIDATION, folds

#: Fold heads train for the main head's early-stopped epoch count, but never fewer than this.
MIN_FOLD_EPOCHS = 10


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
    fine_tuned: FineTuned | None = None
    report_page: Path | None = None
    open_set: OpenSet | None = None
    fine_tune_note: str = ""
    #: set when nothing had changed since the last train into `out`: what that train printed
    reused: str | None = None

    def summary(self) -> str:
        if self.reused is not None:
            return (f"Nothing changed since the last train into {self.out} (the same photos, labels, split and settings): "
                    f"kept that model, checked in {self.seconds:.1f} s (train --force trains it again). It said:\n\n{self.reused}")
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
            what = "the whole backbone" if tuned.tuning.whole else f"the last {tuned.tuning.blocks} block(s) of the backbone"
            start = (" Started from the last run's fine-tuned weights (the same backbone and labels; no test photo was "
                     "trained on), so one epoch sufficed.") if tuned.warm_started else ""
            lines += ["", f"Fine-tuned {what} with the head: validation accuracy "
                          f"{tuned.validation_before * 100:.1f}% -> {tuned.validation_accuracy * 100:.1f}% (best epoch "
                          f"{tuned.history.best_epoch} of {tuned.history.epochs}, {tuned.history.seconds:.0f} s; "
                          f"{tuned.extracted} activations computed).{start}"]
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
          progress: bool = True, tflite: bool = False, suspects: bool = True, drop_suspects: bool = False, force: bool = False,
          **options: object) -> TrainResult:
    """Train a classifier on DATASET/<label>/ images; keyword options are TrainSettings fields.

    `tflite=True` also writes model_float16.tflite and model_int8.tflite beside the SavedModel.
    `suspects` judges every image out of fold and writes DATASET/.curate/suspects.json;
    `drop_suspects` also leaves them out of the training split (never off the disk).
    When nothing changed since the last train into `out` (train/reuse.py), that model is kept and
    returned (`result.reused`), unless `force`.

    >>> result = train("dataset", epochs=50, augment=2)    # doctest: +SKIP
    >>> result.evaluation.accuracy                         # doctest: +SKIP
    0.95
    """
    started = time.perf_counter()
    if tflite:
        from .outputs.tflite_metadata import metadata_schema

        metadata_schema()  # a missing extra is said now, not after the training
    surveyed = survey(dataset, config, progress, options)
    target = Path(out) if out else Path("models") / surveyed.root.resolve().name
    key = fingerprint(surveyed, {"tflite": tflite, "suspects": suspects, "drop_suspects": drop_suspects})
    said = None if force else last_summary(target, key)
    if said is not None:
        return _kept(target, surveyed.root, said, time.perf_counter() - started)
    run = gather_inputs(dataset, config, progress, options, surveyed=surveyed)
    previous = None if force else read_warm_start(target)  # read before anything in the folder is rewritten
    clear_model_folder(target)
    forget(target)
    head, history = _train_head(run, target / "logs", progress)
    judge = suspects and not drop_suspects  # --drop-suspects judges them inside _finish, before training again
    # Judged while the model is exported: export is mostly Python (tracing, writing), the fold heads
    # mostly TensorFlow kernels. Not beside fine-tuning, which builds Keras models and seeds Keras too.
    overlap = judge and not run.settings.fine_tuning
    with ThreadPoolExecutor(1, thread_name_prefix="suspects") as background:
        pending = background.submit(_judge, run, history.best_epoch) if overlap else None
        report = _judge(run, history.best_epoch) if judge and not overlap else None
        result = _finish(run, target, head, history, tflite, drop_suspects, progress, started, previous)
    if judge:
        result.suspects = pending.result() if pending else report
    result.seconds = time.perf_counter() - started
    judged = result.suspects  # also set by --drop-suspects; None with --no-suspects
    result.report_page = write_report_page(target, run.root, result.seconds,
                                           None if judged is None else [asdict(s) for s in judged.suspects])
    remember(target, key, result.summary())
    return result


def _kept(target: Path, root: Path, said: str, seconds: float) -> TrainResult:
    """The last train's result, read back from its model folder (its test split scored as it was)."""
    metrics = Metrics.read(target)
    labels = list(metrics.labels)
    rows = metrics.test_predictions
    index = {label: i for i, label in enumerate(labels)}
    probabilities = np.array([row["probabilities"] for row in rows], dtype=np.float32).reshape(len(rows), len(labels))
    truth = np.array([index[row["true"]] for row in rows], dtype=np.int64)
    evaluation = evaluate(probabilities, truth, [row["path"] for row in rows], labels)
    return TrainResult(out=target, labels=labels, evaluation=evaluation, history=History(),
                       validation_accuracy=metrics.validation_accuracy, images=dict(metrics.images),
                       seconds=seconds, dataset=root, report_page=target / PAGE_NAME, reused=said)


def _finish(run: TrainingInputs, target: Path, head, history: History, tflite: bool, drop_suspects: bool, progress: bool,
            started: float, previous: Previous | None = None) -> TrainResult:
    """Fine-tune, evaluate, export and report; with `drop_suspects`, first train again without them."""
    settings, data, labels = run.settings, run.data, run.labels
    report = _judge(run, history.best_epoch) if drop_suspects else None
    dropped: list[str] = []
    accuracy_with = None
    if report is not None and report.suspects:
        accuracy_with = accuracy(head, data[TEST])
        dropped = sorted({p for p in data[TRAIN].paths if p in report.paths})
        data[TRAIN] = data[TRAIN].without(report.paths)
        head, history = _train_head(run, target / "logs", progress)
    fine_tuned = fine_tune_step(run, head, set(dropped), target, progress, previous) if settings.fine_tuning else None
    if fine_tuned is not None:
        head, test, validation_accuracy = fine_tuned.head, fine_tuned.test, fine_tuned.validation_accuracy
        test_probabilities = fine_tuned.test_probabilities
    else:
        test, validation_accuracy = data[TEST], accuracy(head, data[VALIDATION])
        test_probabilities = probabilities(head, test.features)
    evaluation = evaluate(test_probabilities, test.labels, test.paths, labels)
    space, novelty_vectors, rejected = novelty_space(run, fine_tuned.features if fine_tuned is not None else None, set(dropped))
    known = open_set(novelty_vectors, labels, groups_of(run.analysis), settings, space, rejected)

    export(target, run.backbone, head, labels, known.reference, novelty_cut=space.cut)
    if tflite:
        from .outputs.exports import TFLITE, export_model

        export_model(target, (TFLITE,), calibration=[run.root / r.path for r in run.usable if run.placement[r.path] == TRAIN])
    counts = {name: data[name].photos() for name in (TRAIN, VALIDATION, TEST)}
    curves = {"head": curve(history.curve, history.best_epoch)}
    if fine_tuned is not None:
        curves["fine_tune"] = curve(fine_tuned.history.curve, fine_tuned.history.best_epoch)
    write_outputs(target, root=run.root, evaluation=evaluation, placement=run.placement, labels=labels,
                  backbone=run.backbone.name, settings=settings.as_run(), validation_accuracy=validation_accuracy,
                  counts=counts, test=test, test_probabilities=test_probabilities, dropped=dropped, curves=curves,
                  seconds=time.perf_counter() - started, open_set=known.metrics(), test_novelty=known.test_novelty)
    return TrainResult(out=target, labels=labels, evaluation=evaluation, history=history,
                       validation_accuracy=validation_accuracy, images=counts, skipped=run.skipped,
                       seconds=time.perf_counter() - started, extracted=run.extracted, suspects=report, dropped=dropped,
                       accuracy_with_suspects=accuracy_with, dataset=run.root, fine_tuned=fine_tuned, open_set=known,
                       fine_tune_note=run.settings.fine_tuning.note)


def find_suspects_in(dataset: str | os.PathLike, *, config: str | os.PathLike | None = None, progress: bool = True,
                     **options: object) -> SuspectReport:
    """Suspects without a model: extraction (cached), the head on the split for its epoch count, then the folds.

    For the flow collect -> curate review -> find suspects -> review -> train.
    """
    run = gather_inputs(dataset, config, progress, options)
    with tempfile.TemporaryDirectory() as logs:
        _, history = _train_head(run, Path(logs), False)
    return _judge(run, history.best_epoch)


def _train_head(run: TrainingInputs, logs: Path, progress: bool):
    training, validation = run.data[TRAIN], run.data[VALIDATION]
    return train_head(training.features, training.labels, validation.features, validation.labels, len(run.labels),
                      run.settings, logs, progress)


def _judge(run: TrainingInputs, best_epoch: int) -> SuspectReport:
    """Out-of-fold suspects over every usable image, written to DATASET/.curate/suspects.json."""
    started = time.perf_counter()
    index = {label: i for i, label in enumerate(run.labels)}
    paths = [r.path for r in run.usable]
    truth = np.array([index[r.label] for r in run.usable], dtype=np.int64)
    fold_of = folds(run.usable, groups_of(run.analysis), run.settings.folds)
    imagenet = run.backbone.lite.imagenet_classifier() if run.backbone.lite is not None else None
    report = find_suspects(paths, truth, run.labels, run.plain, fold_of, run.settings,
                           max(best_epoch, MIN_FOLD_EPOCHS), imagenet, run.rejected.plain if run.rejected else None)
    write_suspects(run.root, report)
    report.seconds = time.perf_counter() - started
    return report
