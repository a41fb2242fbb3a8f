"""Every mode and format Pillow reads goes through curate, train and classify; only broken data is corrupt."""

from __future__ import annotations

import io
import json
import logging

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import curate
from curate.decode import inspect_file
from retrainkit.model.classifier import classify
from retrainkit.model.image_bytes import model_bytes
from retrainkit.model.preprocessing import decode_upright
from retrainkit.pixels import to_rgb
from tests.images import COLOURS, coloured, encode, every_mode, transparent_picture, write
from train.pipeline import train

#: Below the working copy (32 px) and well above it, where the reduced decode path is used.
SIZES = {"small": (24, 20), "large": (300, 200)}


@pytest.fixture
def corpus(tmp_path):
    """Label `modes`: every mode/format at both sizes; labels `red` and `blue`: plain JPEGs to train against."""
    root = tmp_path / "modes-tree"
    for size_name, (width, height) in SIZES.items():
        for name, data in every_mode(7, width, height).items():
            write(root / "modes" / f"{size_name}-{name}", data)
    for label in ("red", "blue"):
        for i in range(10):
            write(root / label / f"{label}-{i}.jpg", encode(coloured(i, COLOURS[label])))
    return root


def test_curate_reads_every_mode_and_format(corpus):
    analysis = curate.analyse(corpus, progress=False)
    modes = [r for r in analysis.records if r.label == "modes"]
    assert len(modes) == 2 * len(every_mode(7, 24, 20))
    assert {r.path: r.problem for r in modes if not r.ok} == {}
    seen = {r.mode for r in modes}
    assert {"1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"} <= seen
    large = {r.name: r for r in modes if r.name.startswith("large-")}
    assert all((r.width, r.height) == SIZES["large"] for r in large.values())
    assert large["large-rgba.png"].transparent and large["large-palette-transparent.gif"].transparent
    assert not large["large-palette.gif"].transparent


@pytest.mark.parametrize("size_name", SIZES)
def test_truncated_files_of_every_format_are_corrupt(tmp_path, size_name):
    for name, data in every_mode(9, *SIZES[size_name]).items():
        # 40% keeps the header (a palette too) and cuts into the first frame of the animated ones
        write(tmp_path / "t" / name, data[: int(len(data) * 0.4)])
        assert inspect_file(str(tmp_path), f"t/{name}").problem == "corrupt", name


def test_an_rgba_png_and_its_flattened_jpeg_twin_are_duplicates(tmp_path):
    rgba = transparent_picture(11, 400, 300)
    flattened = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    write(tmp_path / "tree" / "a" / "logo.png", encode(rgba, "PNG"))
    write(tmp_path / "tree" / "a" / "logo.jpg", encode(flattened, "JPEG", quality=85))
    write(tmp_path / "tree" / "b" / "other.jpg", encode(transparent_picture(12, 400, 300).convert("RGB")))
    analysis = curate.analyse(tmp_path / "tree", progress=False)
    assert [sorted(m.path for m in g.members) for g in analysis.groups] == [["a/logo.jpg", "a/logo.png"]]


def test_the_model_sees_transparency_as_curation_does(tmp_path):
    """What TensorFlow decodes from model_bytes() is exactly curate's RGB view: alpha on white, palette, 16-bit."""
    for name in ("rgba.png", "palette-transparent.gif", "grey16.png", "grey-alpha.png", "bilevel.pbm", "float.tiff"):
        data = every_mode(5, 60, 40)[name]
        path = write(tmp_path / name, data)
        seen_by_model = decode_upright(tf.constant(model_bytes(path))).numpy()
        seen_by_curate = np.asarray(to_rgb(Image.open(io.BytesIO(data))))
        np.testing.assert_array_equal(seen_by_model, seen_by_curate, err_msg=name)


@pytest.mark.slow
def test_train_and_classify_take_every_mode(corpus, options):
    result = train(corpus, **{**options, "epochs": 20})
    assert result.skipped == {}
    placed = json.loads((options["out"] / "split.json").read_text())
    modes = sorted(p.name for p in (corpus / "modes").iterdir())
    assert sorted(p.split("/")[1] for split in placed.values() for p in split if p.startswith("modes/")) == modes
    predictions = classify(options["out"], sorted((corpus / "modes").iterdir()))
    assert len(predictions) == len(modes)
    for prediction in predictions:
        assert abs(sum(prediction.probabilities) - 1) < 1e-4 and len(prediction.probabilities) == 3


def test_a_bug_in_our_decoding_is_logged_not_called_corrupt(tmp_path, monkeypatch, caplog):
    from curate import decode

    def broken(*_):
        raise TypeError("a bug of ours")

    monkeypatch.setattr(decode, "upright_working_copy", broken)
    write(tmp_path / "x" / "fine.png", encode(Image.new("RGB", (50, 50), (1, 2, 3)), "PNG"))
    with caplog.at_level(logging.ERROR):
        record = inspect_file(str(tmp_path), "x/fine.png")
    assert record.problem == "error"
    assert "x/fine.png" in caplog.text and "TypeError" in caplog.text
