"""Test-set evaluation: accuracy, per-label precision and recall, a confusion matrix, the mistakes.

Written to `metrics.json` (for programs), `report.md` (for people) and `confusion_matrix.png`
(drawn with Pillow: no plotting library needed).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont


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


def write(evaluation: Evaluation, out: Path, extra: dict) -> None:
    data = {**extra, "test": {**asdict(evaluation), "mistakes": [asdict(m) for m in evaluation.mistakes]}}
    (out / "metrics.json").write_text(json.dumps(data, indent=1))
    draw_confusion(evaluation, out / "confusion_matrix.png")
    (out / "report.md").write_text(_markdown(evaluation, extra))


def _markdown(evaluation: Evaluation, extra: dict) -> str:
    lines = [
        f"# Model report: {extra.get('dataset', '')}",
        "",
        f"Backbone `{extra.get('backbone')}`; {extra.get('images', {}).get('train', 0)} training, "
        f"{extra.get('images', {}).get('validation', 0)} validation, {evaluation.count} test images.",
        "",
        f"**Test accuracy: {evaluation.accuracy * 100:.1f}%** (validation {extra.get('validation_accuracy', 0) * 100:.1f}%).",
        "",
        "```",
        evaluation.table(),
        "```",
        "",
        "Confusion matrix (rows: true label; columns: predicted), also `confusion_matrix.png`:",
        "",
        "```",
        evaluation.confusion_table(),
        "```",
        "",
    ]
    if evaluation.mistakes:
        lines += ["Misclassified test images (most confident first):", "", "| image | true | predicted | probability |", "|---|---|---|---|"]
        lines += [f"| `{m.path}` | {m.true} | {m.predicted} | {m.probability:.2f} |" for m in evaluation.mistakes]
    else:
        lines.append("No test image was misclassified.")
    return "\n".join(lines) + "\n"


def draw_confusion(evaluation: Evaluation, target: Path, cell: int = 56) -> None:
    labels = evaluation.labels
    n = len(labels)
    margin = 12 + 7 * max(len(label) for label in labels)
    image = Image.new("RGB", (margin + cell * n + 10, margin + cell * n + 10), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    matrix = np.array(evaluation.confusion, dtype=float)
    rows = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    for i in range(n):
        draw.text((4, margin + i * cell + cell // 2 - 6), labels[i], fill="black", font=font)
        draw.text((margin + i * cell + 4, margin - 16), labels[i][:8], fill="black", font=font)
        for j in range(n):
            shade = int(255 - 200 * shares[i, j])
            box = (margin + j * cell, margin + i * cell, margin + (j + 1) * cell - 2, margin + (i + 1) * cell - 2)
            draw.rectangle(box, fill=(shade, shade, 255) if i == j else (255, shade, shade))
            draw.text((box[0] + cell // 2 - 8, box[1] + cell // 2 - 6), str(int(matrix[i, j])), fill="black", font=font)
    image.save(target)
