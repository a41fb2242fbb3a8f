"""Test-set evaluation (accuracy, per-label precision and recall, a confusion matrix, the mistakes),
and the files a model folder holds beside the SavedModel.

Written to `metrics.json` (for programs), `report.md` (for terminals and diffs), `split.json` and
`misclassified/`; the page people look at, with the plots, is report_page.py's report.html.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from retrainkit.atomic import write_atomically
from retrainkit.model.card import Metrics, OpenSetMetrics, ScoresOnTest

from ..errors import TrainError
from ..examples import Examples
from ..head import EpochScores
from ..split import TEST, TRAIN, VALIDATION


@dataclass
class Mistake:
    path: str
    true: str
    predicted: str
    probability: float


@dataclass
class Evaluation:
    labels: list[str]
    accuracy: float
    count: int
    precision: dict[str, float]
    recall: dict[str, float]
    support: dict[str, int]
    confusion: list[list[int]]
    mistakes: list[Mistake] = field(default_factory=list)

    def table(self) -> str:
        width = max(len(label) for label in self.labels)
        lines = [f"{'label'.ljust(width)}  precision  recall  images"]
        for label in self.labels:
            lines.append(f"{label.ljust(width)}  {self.precision[label] * 100:8.1f}%  {self.recall[label] * 100:5.1f}%  {self.support[label]:6d}")
        return "\n".join(lines)

    def confusion_table(self) -> str:
        width = max(5, max(len(label) for label in self.labels))
        lines = ["true \\ predicted".ljust(width + 2) + "  ".join(label[:8].rjust(8) for label in self.labels)]
        for label, row in zip(self.labels, self.confusion):
            lines.append(label.ljust(width + 2) + "  ".join(str(n).rjust(8) for n in row))
        return "\n".join(lines)


def evaluate(probabilities: np.ndarray, truth: np.ndarray, paths: list[str], labels: list[str]) -> Evaluation:
    predicted = probabilities.argmax(axis=1) if len(probabilities) else np.zeros(0, dtype=int)
    n = len(labels)
    confusion = np.zeros((n, n), dtype=int)
    for t, p in zip(truth, predicted):
        confusion[t, p] += 1
    precision, recall, support = {}, {}, {}
    for i, label in enumerate(labels):
        column, row = confusion[:, i].sum(), confusion[i].sum()
        precision[label] = float(confusion[i, i] / column) if column else 0.0
        recall[label] = float(confusion[i, i] / row) if row else 0.0
        support[label] = int(row)
    mistakes = [
        Mistake(path, labels[t], labels[p], float(probabilities[k, p]))
        for k, (path, t, p) in enumerate(zip(paths, truth, predicted))
        if t != p
    ]
    accuracy = float((predicted == truth).mean()) if len(truth) else 0.0
    return Evaluation(labels, accuracy, len(truth), precision, recall, support, confusion.tolist(),
                      sorted(mistakes, key=lambda m: -m.probability))


def _markdown(evaluation: Evaluation, metrics: Metrics) -> str:
    lines = [
        f"# Model report: {metrics.dataset}",
        "",
        f"Backbone `{metrics.backbone}`; {metrics.images.get('train', 0)} training, "
        f"{metrics.images.get('validation', 0)} validation, {evaluation.count} test images.",
        "",
        f"**Test accuracy: {evaluation.accuracy * 100:.1f}%** (validation {metrics.validation_accuracy * 100:.1f}%).",
        "",
        "```",
        evaluation.table(),
        "```",
        "",
        "Confusion matrix (rows: true label; columns: predicted), drawn in `report.html` and `confusion_matrix.png`:",
        "",
        "```",
        evaluation.confusion_table(),
        "```",
        "",
    ]
    known = metrics.open_set
    if known:
        kept = "" if known.test_kept_pct is None else f"; {known.test_kept_pct:.1f}% of the test photos stay known"
        lines += [f"None of the labels: novelty above {known.threshold:.4f} (keeps {known.known_pct:g}% of the "
                  f"{known.calibration_photos} photos it was set on{kept}).", ""]
        if known.measured_photos:
            lines += [f"Promised: {known.promised_unknown_pct:g}% of real photos of the labels called unknown; measured: "
                      f"{known.measured_unknown_photos} of {known.measured_photos} validation and test photos "
                      f"({known.measured_unknown_pct:.1f}%).", ""]
    if evaluation.mistakes:
        lines += ["Misclassified test images (most confident first):", "", "| image | true | predicted | probability |", "|---|---|---|---|"]
        lines += [f"| `{m.path}` | {m.true} | {m.predicted} | {m.probability:.2f} |" for m in evaluation.mistakes]
    else:
        lines.append("No test image was misclassified.")
    return "\n".join(lines) + "\n"


def clear_model_folder(target: Path) -> None:
    try:
        target.mkdir(parents=True, exist_ok=True)
        for stale in ("saved_model", "misclassified", "logs"):
            shutil.rmtree(target / stale, ignore_errors=True)
    except OSError as error:
        raise TrainError(f"cannot write the model to {target}: {error.strerror or error}; choose another --out") from None


def curve(scores: list[EpochScores], best_epoch: int) -> dict:
    return {"best_epoch": best_epoch, "epochs": [asdict(s) for s in scores]}


def write_outputs(target: Path, *, root: Path, evaluation: Evaluation, placement: dict[str, str], labels: list[str],
                  backbone: str, settings: dict, validation_accuracy: float, counts: dict[str, int], test: Examples,
                  test_probabilities: np.ndarray, dropped: list[str], curves: dict, seconds: float, open_set: OpenSetMetrics,
                  test_novelty: dict[str, float]) -> None:
    """split.json, metrics.json and report.md (the model's contract with report.html, classify and serve),
    and misclassified/ with a copy of every test photo the model got wrong."""
    (target / "split.json").write_text(json.dumps(
        {name: sorted(p for p, s in placement.items() if s == name) for name in (TRAIN, VALIDATION, TEST)}, indent=1))
    metrics = Metrics(
        dataset=str(root), backbone=backbone, labels=labels,
        test=ScoresOnTest(**{**asdict(evaluation), "mistakes": [asdict(m) for m in evaluation.mistakes]}),
        images=counts, validation_accuracy=validation_accuracy, settings=settings, dropped_suspects=dropped,
        curves=curves, seconds=seconds, open_set=open_set,
        test_predictions=[
            {"path": path, "true": labels[t], "probabilities": [float(p) for p in row], "novelty": test_novelty.get(path)}
            for path, t, row in zip(test.paths, test.labels, test_probabilities)
        ],
    )
    metrics.write(target)
    write_atomically(target / "report.md", _markdown(evaluation, metrics))
    for mistake in evaluation.mistakes:
        folder = target / "misclassified" / f"{mistake.true}_as_{mistake.predicted}"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(root / mistake.path, folder / Path(mistake.path).name)
        except FileNotFoundError:
            continue  # moved away by another command while train ran; metrics.json still names it
