"""The model report page (report.html) and its plots: complete, self-contained, readable at 60 labels."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SCREENSHOTS
from tests.images import COLOURS, coloured, encode, write
from train.outputs.report_page import PICTURES, write_report_page
from train.outputs.report_plots import confusion_figure
from train.pipeline import train

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?!data:|#)[^"'\s>]+|https?://|url\(\s*["']?(?!data:)""", re.I)


@pytest.fixture(scope="module")
def trained(tiny_backbone, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("report") / "colours"
    for label, colour in COLOURS.items():
        for i in range(12):
            write(root / label / f"{label}-{i:02d}.jpg", encode(coloured(300 + i, colour)))
    out = root.parent / "model"
    result = train(root, out=out, backbone=tiny_backbone, progress=False, epochs=40, learning_rate=0.01)
    assert result.report_page == out / "report.html"
    assert f"Report: {out / 'report.html'}" in result.summary()
    return root, out


def test_the_page_has_every_label_its_plots_embedded_and_nothing_external(trained):
    _, out = trained
    text = (out / "report.html").read_text()
    for label in COLOURS:
        assert f"<td>{label}</td>" in text  # the per-label table
    assert "test accuracy" in text and "validation accuracy" in text and "training time" in text
    assert "Learning curves" in text and "Suspect photos" in text
    for name in PICTURES.values():
        png = (out / name).read_bytes()
        assert png.startswith(b"\x89PNG")
        assert png[16:24] != b"\0" * 8  # a real width and height
    assert text.count("data:image/png;base64,") == 3  # both matrices and the curves, in the page itself
    assert not EXTERNAL.findall(text), EXTERNAL.findall(text)[:3]
    metrics = json.loads((out / "metrics.json").read_text())
    head = metrics["curves"]["head"]
    assert 1 <= head["best_epoch"] <= len(head["epochs"])
    assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy"} <= set(head["epochs"][0])


def test_mistakes_and_suspects_show_as_thumbnails_with_their_labels(trained, tmp_path):
    """A model folder whose test set has two mistakes, and a suspect list: both shown as pictures."""
    root, out = trained
    model = tmp_path / "model"
    shutil.copytree(out, model)
    metrics = json.loads((model / "metrics.json").read_text())
    red, green = "red/red-00.jpg", "green/green-01.jpg"
    metrics["test"]["mistakes"] = [{"path": red, "true": "red", "predicted": "blue", "probability": 0.91},
                                   {"path": green, "true": "green", "predicted": "red", "probability": 0.55}]
    metrics["test_predictions"] = [{"path": red, "true": "red", "probabilities": [0.91, 0.02, 0.07]}]
    (model / "metrics.json").write_text(json.dumps(metrics))
    suspect = {"path": "blue/blue-03.jpg", "label": "blue", "kind": "off-topic", "score": 0.4,
               "reason": "far from every other blue photo", "looks_like": None, "imagenet": ["velvet", "pool table"]}
    text = write_report_page(model, root, 12.0, [suspect]).read_text()
    mistakes = text[text.index("Misclassified test images"):text.index("Suspect photos")]
    assert mistakes.count("data:image/jpeg;base64,") == 2
    assert mistakes.index(red) < mistakes.index(green)  # the most confident mistake first
    assert "predicted: blue 91%" in mistakes and "(7% red)" in mistakes
    suspects = text[text.index("Suspect photos"):]
    assert suspects.count("data:image/jpeg;base64,") == 1
    assert "far from every other blue photo" in suspects and "velvet" in suspects and f"curate review {root}" in suspects


def test_the_page_renders_in_chromium_with_the_matrix_and_curves(trained, page):
    _, out = trained
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto((out / "report.html").as_uri())
    page.wait_for_load_state("load")
    for alt in ("confusion matrix, counts", "confusion matrix, share of each true label", "learning curves"):
        picture = page.locator(f'img[alt="{alt}"]')
        assert picture.evaluate("img => img.complete && img.naturalWidth > 200"), alt
        assert picture.bounding_box()["width"] > 200, alt
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "model-report.png"), full_page=True)
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests


def test_sixty_labels_get_a_matrix_whose_texts_do_not_overlap(tmp_path):
    rng = np.random.default_rng(0)
    labels = [f"label {i:02d}" + (" with a rather long descriptive name" if i % 7 == 0 else "") for i in range(60)]
    confusion = np.diag(rng.integers(5, 60, 60))
    for _ in range(150):
        confusion[rng.integers(60), rng.integers(60)] += int(rng.integers(1, 9))
    for normalised in (False, True):
        figure = confusion_figure(labels, confusion.tolist(), normalised)
        figure.canvas.draw()
        renderer = figure.canvas.get_renderer()
        axes = figure.axes[0]
        groups = {"x names": axes.get_xticklabels(), "y names": axes.get_yticklabels(), "cells": axes.texts}
        for what, texts in groups.items():
            boxes = [t.get_window_extent(renderer) for t in texts if t.get_text()]
            assert len(boxes) >= (60 if what != "cells" else 60), what
            _assert_apart(boxes, what)
        names = [t.get_window_extent(renderer) for t in axes.get_yticklabels()]
        cells = axes.get_window_extent(renderer)
        assert all(box.x1 <= cells.x0 + 1 for box in names)  # the names stay beside the matrix, not over it
        assert {t.get_text() for t in axes.get_xticklabels()} >= {"label 01", "label 59"}  # full names, not cut
        figure.savefig(tmp_path / f"sixty-{normalised}.png")


def _assert_apart(boxes, what: str) -> None:
    edges = np.array([[b.x0, b.y0, b.x1, b.y1] for b in boxes])
    for i in range(len(edges)):
        others = edges[i + 1:]
        overlap_x = np.minimum(edges[i, 2], others[:, 2]) - np.maximum(edges[i, 0], others[:, 0])
        overlap_y = np.minimum(edges[i, 3], others[:, 3]) - np.maximum(edges[i, 1], others[:, 1])
        clash = np.flatnonzero((overlap_x > 0.5) & (overlap_y > 0.5))
        assert not len(clash), f"{what}: text {i} overlaps text {i + 1 + clash[0]}"
