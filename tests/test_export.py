"""Exports beside the SavedModel: the pixels-in signature, ONNX in onnxruntime, the LiteRT open-set file, MediaPipe's
files from a folder trained without them, and the bad inputs of `retrainkit-export`.

One quick model of the shipped sample (conftest's `quick_flower_model`), exported once by the command itself.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from retrainkit.model.preprocessing import decoded_pixels
from train.outputs.export_cli import main as export_main
from train.outputs.saved_model import PIXELS_SIGNATURE, SIGNATURE

#: scikit-image's cat and coffee cup: no flower (a model of 120 flower photos calls them none of the labels)
STRANGERS = ("chelsea.png", "coffee.png")


def strangers() -> list[Path]:
    import skimage

    return [Path(skimage.__file__).parent / "data" / name for name in STRANGERS]


@pytest.fixture(scope="module")
def exported(quick_flower_model) -> tuple[Path, Path]:
    """The quick model (trained without --tflite or --onnx), after `retrainkit-export MODEL --dataset DATASET`."""
    model, dataset = quick_flower_model
    assert export_main([str(model), "--dataset", str(dataset), "--quiet"]) == 0
    return model, dataset


@pytest.fixture(scope="module")
def photos(exported) -> tuple[list[Path], np.ndarray, dict]:
    """The model's test photos and two strangers, their pixels as docs/export.md makes them, and the pixels-in answers."""
    model, dataset = exported
    files = [dataset / row["path"] for row in json.loads((model / "metrics.json").read_text())["test_predictions"]] + strangers()
    size = json.loads((model / "model.json").read_text())["image_size"]
    pixels = tf.stack([decoded_pixels(tf.constant(_png_or_jpeg(f)), size) for f in files]).numpy()
    answers = tf.saved_model.load(str(model / "saved_model")).signatures[PIXELS_SIGNATURE](pixels=tf.constant(pixels))
    return files, pixels, {key: value.numpy() for key, value in answers.items()}


def _png_or_jpeg(path: Path) -> bytes:
    from retrainkit.model.image_bytes import model_bytes

    return model_bytes(path)


@pytest.mark.slow
def test_a_folder_trained_without_tflite_or_onnx_gets_both(exported):
    model, _ = exported
    for name in ("model.onnx", "model_float16.tflite", "model_int8.tflite", "model_open_set.tflite"):
        assert (model / name).stat().st_size > 1_000_000, name
    assert not list(model.glob(".*partial"))


@pytest.mark.slow
def test_model_json_describes_the_pixels_signature(exported):
    model, _ = exported
    described = json.loads((model / "model.json").read_text())
    assert described["signature"] == SIGNATURE  # what older readers look for is unchanged
    pixels = described["pixels"]
    assert pixels["signature"] == PIXELS_SIGNATURE
    assert pixels["input"] == "pixels: float32[batch, 224, 224, 3]"
    assert (pixels["mean"], pixels["std"]) == (127.0, 128.0)
    assert "bicubic" in pixels["resize"] and "0.875" in pixels["resize"]


@pytest.mark.slow
def test_bytes_in_is_pixels_in_after_the_documented_preprocessing(exported, photos):
    model, _ = exported
    files, _, answers = photos
    by_bytes = tf.saved_model.load(str(model / "saved_model")).signatures[SIGNATURE](
        image_bytes=tf.constant([_png_or_jpeg(f) for f in files]))
    np.testing.assert_allclose(by_bytes["probabilities"].numpy(), answers["probabilities"], atol=1e-6)
    assert (by_bytes["known"].numpy() == answers["known"]).all()


@pytest.mark.slow
def test_onnxruntime_answers_as_the_pixels_signature_does(exported, photos):
    import onnxruntime

    model, _ = exported
    files, pixels, answers = photos
    session = onnxruntime.InferenceSession(str(model / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == ["pixels"]
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"pixels": pixels})))
    np.testing.assert_allclose(got["probabilities"], answers["probabilities"], atol=1e-4)
    np.testing.assert_allclose(got["novelty"], answers["novelty"], atol=1e-4)
    labels = json.loads(session.get_modelmeta().custom_metadata_map["labels"])
    assert labels == (model / "labels.txt").read_text().splitlines()
    assert [labels[i] for i in got["probabilities"].argmax(axis=1)] == [label.decode() for label in answers["label"]]
    assert (got["known"] == answers["known"]).all()
    assert not got["known"][-len(STRANGERS):].any(), "a cat and a coffee cup are none of the labels"
    assert got["known"][:-len(STRANGERS)].sum() >= len(files) - len(STRANGERS) - 1  # the labels' own test photos


@pytest.mark.slow
def test_the_litert_open_set_file_answers_novelty_and_known(exported, photos):
    from ai_edge_litert.interpreter import Interpreter

    model, _ = exported
    _, pixels, answers = photos
    runner = Interpreter(model_path=str(model / "model_open_set.tflite")).get_signature_runner()
    rows = [runner(pixels=pixels[i:i + 1]) for i in range(len(pixels))]
    probabilities = np.concatenate([row["probabilities"] for row in rows])
    known = np.concatenate([row["known"] for row in rows])
    np.testing.assert_allclose(probabilities, answers["probabilities"], atol=0.02)  # float16 weights
    assert (probabilities.argmax(axis=1) == answers["probabilities"].argmax(axis=1)).mean() >= 0.95
    assert (known == answers["known"]).mean() >= 0.95
    assert not known[-len(STRANGERS):].any()


@pytest.mark.slow
def test_mediapipe_loads_the_exported_tflite_file(exported, photos):
    import mediapipe
    from mediapipe.tasks.python import BaseOptions, vision

    model, _ = exported
    files, _, answers = photos
    flowers = files[:-len(STRANGERS)]
    ours = [label.decode() for label in answers["label"][:len(flowers)]]
    for name in ("model_float16.tflite", "model_int8.tflite"):
        options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(model / name)), max_results=1)
        with vision.ImageClassifier.create_from_options(options) as classifier:
            theirs = [classifier.classify(mediapipe.Image.create_from_file(str(f))).classifications[0].categories[0].category_name
                      for f in flowers]
        # MediaPipe resizes the whole photo where we crop its centre first, so a near call may differ
        assert sum(a == b for a, b in zip(ours, theirs)) >= len(flowers) - 2, (name, ours, theirs)


@pytest.mark.slow
def test_without_dataset_the_int8_file_is_left_out_and_said(exported, tmp_path, capsys):
    model, _ = exported
    copy = tmp_path / "copy"
    shutil.copytree(model, copy, ignore=shutil.ignore_patterns("*.tflite", "*.onnx", "logs", "misclassified"))
    assert export_main([str(copy), "--format", "tflite"]) == 0
    assert sorted(p.name for p in copy.glob("*.tflite")) == ["model_float16.tflite", "model_open_set.tflite"]
    assert "model_int8.tflite left out: it needs calibration photos (--dataset DIR" in capsys.readouterr().out


@pytest.mark.slow
def test_train_onnx_writes_the_onnx_file_also_when_it_keeps_the_model(exported, capsys):
    """The same options as the fixture's train: nothing changed, so the model is kept and converted."""
    from train.cli import train_main

    model, dataset = exported
    (model / "model.onnx").unlink()
    assert train_main([str(dataset), "--out", str(model), "--onnx", "--no-suspects", "--epochs", "30", "--fine-tune", "0", "-q"]) == 0
    assert f"Wrote {model / 'model.onnx'}" in capsys.readouterr().out
    assert (model / "model.onnx").is_file()


# -- bad input ------------------------------------------------------------------------------------

def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_export_help_and_its_mistakes_do_not_load_tensorflow():
    import subprocess
    import sys

    code = "import sys, train.outputs.export_cli; print('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_a_folder_that_is_not_a_model_is_one_line(tmp_path, capsys):
    assert export_main([str(tmp_path)]) == 2
    assert "not a model folder made by train" in _one_line(capsys)


def test_an_unknown_format_is_one_line_exit_2(tmp_path, capsys):
    assert export_main([str(tmp_path), "--format", "onnx,coreml"]) == 2
    assert "unknown export format 'coreml' (choose from onnx, tflite)" in _one_line(capsys)


@pytest.mark.slow
def test_a_model_from_before_the_pixels_signature_is_one_line_and_still_classifies(exported, photos, tmp_path, capsys):
    from retrainkit.model.classifier import classify

    model, _ = exported
    old = tmp_path / "old"
    shutil.copytree(model, old, ignore=shutil.ignore_patterns("*.tflite", "*.onnx", "logs", "misclassified", "saved_model"))
    loaded = tf.saved_model.load(str(model / "saved_model"))
    tf.saved_model.save(loaded, str(old / "saved_model"), signatures={SIGNATURE: loaded.signatures[SIGNATURE]})
    assert export_main([str(old)]) == 2
    assert "exported before the pixels-in signature" in _one_line(capsys)
    files, _, answers = photos
    np.testing.assert_allclose([p.probabilities for p in classify(old, files[:3])], answers["probabilities"][:3], atol=1e-5)


@pytest.mark.slow
def test_a_conversion_failure_is_exit_1_and_leaves_no_half_file(exported, tmp_path, capsys, monkeypatch):
    import tf2onnx

    def fails(*args, **kwargs):
        raise RuntimeError("an op it cannot convert\nand more")

    model, _ = exported
    copy = tmp_path / "copy"
    shutil.copytree(model, copy, ignore=shutil.ignore_patterns("*.tflite", "logs", "misclassified"))
    before = (copy / "model.onnx").read_bytes()
    monkeypatch.setattr(tf2onnx.convert, "from_function", fails)
    assert export_main([str(copy), "--format", "onnx"]) == 1
    assert "tf2onnx could not convert the model to ONNX (RuntimeError: an op it cannot convert)" in _one_line(capsys)
    assert (copy / "model.onnx").read_bytes() == before
    assert sorted(p.name for p in copy.iterdir() if "onnx" in p.name) == ["model.onnx"]


@pytest.mark.slow
def test_without_the_onnx_extra_it_says_what_to_install(exported, capsys, monkeypatch):
    import sys

    model, _ = exported
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    assert export_main([str(model), "--format", "onnx"]) == 2
    assert "pip install 'retrainkit[onnx]'" in _one_line(capsys)
