"""The report's pictures, drawn with matplotlib: the confusion matrix and the learning curves.

Why matplotlib: a chart needs axis titles, a colour scale, label names that are never cut and
that stay readable at 60 labels; matplotlib does all of that and writes PNGs anyone can paste
into slides. Only the headless Agg canvas is used (no display, no GUI toolkit, thread-safe
figures made with `Figure()` rather than pyplot's global state).

How 50+ labels stay readable: the figure grows with the number of labels (a fixed size per
cell), predicted-label names are turned upright, names over 28 characters wrap, and the counts
in the cells shrink with the cells (zeros are left blank past 12 labels, so the eye finds the
mistakes). tests/test_report_page.py checks that no two drawn texts overlap at 60 labels.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

WRAP = 28
#: past this many labels the matrix switches to small cells, upright names and blank zeros
MANY_LABELS = 12


def confusion_figure(labels: list[str], confusion: list[list[int]], normalised: bool) -> Figure:
    """Counts, or each row as a share of its true label (%): the diagonal is each label's recall."""
    matrix = np.array(confusion, dtype=float).reshape(len(labels), len(labels))
    rows = matrix.sum(axis=1, keepdims=True)
    shown = np.divide(matrix * 100, rows, out=np.zeros_like(matrix), where=rows > 0) if normalised else matrix
    n = len(labels)
    many = n > MANY_LABELS
    cell = 0.32 if many else 0.75
    name_size, cell_size = (7, 5.5 if n > 40 else 6.5) if many else (10, 10)
    longest = max(len(line) for label in labels for line in _wrapped(label).splitlines())
    margin = 0.9 + longest * name_size / 72 * 0.6  # inches for the names beside and below the matrix
    figure = Figure(figsize=(n * cell + margin + 1.6, n * cell + margin + 0.9), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(shown, cmap="Blues", vmin=0, vmax=100 if normalised else max(1.0, float(shown.max())))
    figure.colorbar(image, ax=axes, fraction=0.046 if not many else 0.02, pad=0.02,
                    label="% of the true label's test images" if normalised else "test images")
    names = [_wrapped(label) for label in labels]
    axes.set_xticks(range(n), names, rotation=90 if many else 30, ha="center" if many else "right",
                    rotation_mode="anchor" if not many else "default", fontsize=name_size)
    axes.set_yticks(range(n), names, fontsize=name_size)
    axes.set_xlabel("predicted label", fontsize=name_size + 2)
    axes.set_ylabel("true label", fontsize=name_size + 2)
    total = int(matrix.sum())
    axes.set_title(("Confusion matrix, share of each true label (%)" if normalised else "Confusion matrix, counts")
                   + f"\n{total} test images", fontsize=name_size + 3)
    threshold = (100 if normalised else max(1.0, float(shown.max()))) / 2
    for i in range(n):
        for j in range(n):
            value = shown[i, j]
            if many and matrix[i, j] == 0:
                continue
            text = f"{value:.0f}" if normalised or value == int(value) else f"{value:.1f}"
            axes.text(j, i, text, ha="center", va="center", fontsize=cell_size,
                      color="white" if value > threshold else "black")
    return figure


def learning_curves_figure(head: dict, fine_tune: dict | None) -> Figure:
    """Loss and accuracy per epoch, training and validation, one row per phase; the kept epoch marked.

    `head` / `fine_tune`: {"best_epoch": int, "epochs": [{"epoch", "train_loss", "train_accuracy",
    "val_loss", "val_accuracy"}, ...]} as metrics.json keeps them.
    """
    phases = [("Head on the frozen backbone", head)] + ([("Fine-tuning (epoch 0: the head's weights)", fine_tune)]
                                                       if fine_tune and fine_tune.get("epochs") else [])
    figure = Figure(figsize=(10, 3.6 * len(phases)), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.subplots(len(phases), 2, squeeze=False)
    for row, (title, phase) in enumerate(phases):
        epochs = phase.get("epochs", [])
        for column, (measure, what) in enumerate((("loss", "cross entropy"), ("accuracy", "accuracy (%)"))):
            axes = grid[row][column]
            for split, style in (("train", "-"), ("val", "--")):
                points = [(e["epoch"], e[f"{split}_{measure}"]) for e in epochs if e.get(f"{split}_{measure}") is not None]
                if points:
                    x, y = zip(*points)
                    y = [v * 100 for v in y] if measure == "accuracy" else list(y)
                    axes.plot(x, y, style, marker="o" if len(points) < 30 else None, markersize=3,
                              label="training" if split == "train" else "validation")
            best = phase.get("best_epoch")
            if best is not None and epochs:
                axes.axvline(best, color="tab:red", linestyle=":", linewidth=1.5, label=f"kept: epoch {best}")
            axes.set_title(f"{title}: {measure}", fontsize=10)
            axes.set_xlabel("epoch")
            axes.set_ylabel(what)
            axes.grid(alpha=0.3)
            axes.legend(fontsize=8)
    return figure


def save(figure: Figure, target: Path) -> None:
    figure.savefig(target, format="png", bbox_inches="tight", facecolor="white")


def _wrapped(label: str) -> str:
    return textwrap.fill(label, WRAP, break_long_words=True) if len(label) > WRAP else label
