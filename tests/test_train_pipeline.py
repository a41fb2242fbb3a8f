"""train() and classify() end to end, on generated trees, with a SavedModel backbone the tests build."""

from __future__ import annotations

import http.server
import json
import os
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from retrainkit.model.classifier import classify
from retrainkit.model.cli import main as classify_main
from tests.images import COLOURS, coloured, encode, write
from tests.tiny_backbone import SIZE
from train.cli import train_main
from train.errors import TrainError
from train.features.cache import BottleneckCache, key_for
from train.features.decoding import Job
from train.features.extraction import extract
from train.pipeline import train


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "colours"
    for label, colour in COLOURS.items():
        for i in range(14):
            # crc32, not hash(): string hashing changes with every process, and a failure must replay
            write(root / label / f"{label}-{i:02d}.jpg", encode(coloured(zlib.crc32(f"{label}-{i}".encode()) % 10_000, colour)))
    return root


def test_trains_exports_and_reports(tree, options):
    result = train(tree, **options)
    out = options["out"]
    assert result.labels == ["blue", "green", "red"]
    assert result.evaluation.accuracy >= 0.8
    for name in ("saved_model/saved_model.pb", "labels.txt", "metrics.json", "report.md", "confusion_matrix.png", "split.json", "model.json"):
        assert (out / name).is_file(), name
    assert list((out / "logs").rglob("events.out.tfevents.*")), "TensorBoard logs"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] == result.evaluation.accuracy
    assert set(metrics["test"]["precision"]) == {"blue", "green", "red"}
    assert "Test accuracy" in (out / "report.md").read_text()
    split = json.loads((out / "split.json").read_text())
    for label in COLOURS:
        for part in ("train", "validation", "test"):
            assert any(p.startswith(f"{label}/") for p in split[part]), (label, part)


def test_classify_gives_exactly_the_evaluated_probabilities(tree, options):
    """No train/serve skew: the exported model, fed the test files, reproduces the evaluation."""
    train(tree, **options)
    predictions = json.loads((options["out"] / "metrics.json").read_text())["test_predictions"]
    served = classify(options["out"], [tree / p["path"] for p in predictions], top_k=3)
    for expected, got in zip(predictions, served):
        np.testing.assert_allclose(got.probabilities, expected["probabilities"], atol=1e-4)


def test_cache_is_keyed_by_content(tree, options):
    assert train(tree, **options).extracted == 42
    assert train(tree, **options).extracted == 0
    (tree / "red" / "red-00.jpg").rename(tree / "red" / "renamed.jpg")
    assert train(tree, **options).extracted == 0
    write(tree / "red" / "red-01.jpg", encode(coloured(999, COLOURS["red"])))
    assert train(tree, **options).extracted == 1


def test_an_unchanged_rerun_keeps_the_model_says_so_and_answers_the_same(tree, options):
    first = train(tree, **options)
    model = options["out"]
    graph = model / "saved_model" / "saved_model.pb"
    written = graph.stat().st_mtime_ns
    photos = sorted(tree.glob("*/*.jpg"))[:6]
    before = [p.probabilities for p in classify(model, photos)]

    again = train(tree, **options)
    assert again.reused is not None and again.extracted == 0
    assert again.summary().startswith(f"Nothing changed since the last train into {model}")
    assert first.summary().splitlines()[0] in again.summary()  # what the last train said, said again
    assert again.evaluation.accuracy == first.evaluation.accuracy and again.labels == first.labels
    assert graph.stat().st_mtime_ns == written
    np.testing.assert_array_equal(before, [p.probabilities for p in classify(model, photos)])

    assert train(tree, force=True, **options).reused is None  # --force trains again
    write(tree / "red" / "red-new.jpg", encode(coloured(4242, COLOURS["red"])))
    assert train(tree, **options).reused is None  # a new photo: trained again
    assert train(tree, **{**options, "learning_rate": 0.02}).reused is None  # another setting: trained again
    graph.unlink()
    assert train(tree, **{**options, "learning_rate": 0.02}).reused is None  # a damaged model folder is not kept


def test_the_cli_says_in_one_line_that_nothing_changed(tree, options, capsys):
    argv = [str(tree), "--out", str(options["out"]), "--backbone", options["backbone"], "--epochs", "50", "--seed", "1", "-q"]
    assert train_main(argv) == 0
    capsys.readouterr()
    assert train_main(argv) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("Nothing changed since the last train into")
    assert "train --force trains it again" in out.splitlines()[0]


def test_a_killed_extraction_resumes_where_it_stopped(tree, options, tiny_backbone):
    from train.network import backbones

    backbone = backbones.load(tiny_backbone)
    cache = BottleneckCache(tree / ".cache", backbone.id)
    import curate

    first_ten = [Job(key_for(r.sha256), tree / r.path) for r in curate.scan(tree, progress=False).records[:10]]
    assert extract(first_ten, backbone, cache, 4, progress=False) == (10, {})
    cache.close()
    assert train(tree, **options).extracted == 32


def test_augmented_variants_are_extracted_once(tree, options):
    first = train(tree, augment=2, **options)
    assert first.extracted == 42 + 2 * first.images["train"]
    assert train(tree, augment=2, **options).extracted == 0


def test_a_corrupt_image_is_skipped_and_reported(tree, options):
    write(tree / "red" / "broken.jpg", encode(coloured(1, COLOURS["red"]))[:300])
    result = train(tree, **options)
    assert result.skipped == {"red/broken.jpg": "corrupt"}
    assert "red/broken.jpg" in result.summary()


def test_exif_rotated_photo_is_classified_like_the_upright_one(tree, options, tmp_path):
    train(tree, **options)
    upright = coloured(5, COLOURS["green"], (160, 90))
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways = write(tmp_path / "sideways.png", encode(upright.transpose(Image.Transpose.ROTATE_90), "PNG", exif=exif.tobytes()))
    straight = write(tmp_path / "straight.png", encode(upright, "PNG"))
    a, b = classify(options["out"], [straight, sideways])
    np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-5)


def test_image_size_comes_from_the_saved_models_signature(tiny_backbone):
    from train.network import backbones

    assert backbones.load(tiny_backbone).preprocessing.image_size == SIZE


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("one-label", "at least two labels"),
        ("empty-label", "has no usable images"),
        ("unknown-backbone", "unknown backbone"),
        ("not-a-savedmodel", "not a SavedModel"),
        ("fine-tune-nine", "takes 1 to 8 .* or 'all'"),
        ("fine-tune-a-savedmodel", "built-in efficientnet_lite0"),
    ],
)
def test_bad_training_input_is_one_clear_error(tree, options, tmp_path, change, message):
    if change == "one-label":
        for label in ("green", "blue"):
            for f in (tree / label).iterdir():
                f.unlink()
            (tree / label).rmdir()
    elif change == "empty-label":
        (tree / "violet").mkdir()
    elif change == "unknown-backbone":
        options = {**options, "backbone": "resnet9000"}
    elif change == "not-a-savedmodel":
        (tmp_path / "plain-folder").mkdir()
        options = {**options, "backbone": str(tmp_path / "plain-folder")}
    elif change == "fine-tune-nine":
        options = {**options, "fine_tune": 9}
    elif change == "fine-tune-a-savedmodel":
        options = {**options, "fine_tune": "all"}  # the tiny test backbone is a SavedModel
    with pytest.raises(TrainError, match=message):
        train(tree, **options)


def test_unreachable_hub_handle_names_the_offline_default(tree, options, tmp_path, monkeypatch):
    """TF Hub is served by a local server that has nothing: what a user without internet sees."""
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub-cache"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        handle = f"http://127.0.0.1:{server.server_address[1]}/no-such/feature_vector/5"
        with pytest.raises(TrainError, match="efficientnet_lite0.*local SavedModel"):
            train(tree, **{**options, "backbone": handle})
    finally:
        server.shutdown()


def test_cli_exit_codes_and_one_line_errors(tree, options, capsys, tmp_path):
    assert train_main([str(tree), "--backbone", options["backbone"], "--out", str(options["out"]), "-q", "--epochs", "5"]) == 0
    out, _ = capsys.readouterr()
    assert "Test accuracy" in out and "classify" in out

    image = tree / "red" / "red-03.jpg"
    assert classify_main([str(options["out"]), str(image), "--json", "--top-k", "2"]) == 0
    line = json.loads(capsys.readouterr()[0].strip())
    assert line["image"] == str(image) and len(line["top"]) == 2

    not_image = write(tmp_path / "notes.jpg", b"just text")
    for argv in ([str(options["out"]), str(not_image)], [str(tmp_path), str(image)], [str(options["out"]), str(tmp_path / "missing.jpg")]):
        assert classify_main(argv) == 2
        err = capsys.readouterr()[1]
        assert len(err.strip().splitlines()) == 1 and err.startswith("classify: ")
    assert train_main([str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr()[1].strip() == f"train: {tmp_path / 'nowhere'}: no such folder"


def test_train_help_does_not_load_tensorflow():
    import subprocess
    import sys

    code = "import sys, train.cli; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert result.stdout.strip() == "False"


@pytest.mark.slow
def test_tflite_exports_agree_with_the_saved_model(tree, options):
    """Run in LiteRT (ai-edge-litert), the runtime that replaces the deprecated tf.lite.Interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    from retrainkit.model.preprocessing import preprocess
    from train.network import backbones

    train(tree, tflite=True, **options)
    image = tree / "green" / "green-02.jpg"
    expected = classify(options["out"], [image])[0].probabilities
    pixels = preprocess(tf.constant(image.read_bytes()), backbones.load(options["backbone"]).preprocessing)[None].numpy()
    for name, tolerance in (("model_float16.tflite", 0.02), ("model_int8.tflite", 0.15)):
        interpreter = Interpreter(model_path=str(options["out"] / name))
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], pixels)
        interpreter.invoke()
        got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]
        assert got.argmax() == expected.argmax(), name
        np.testing.assert_allclose(got, expected, atol=tolerance)


@pytest.mark.slow
def test_mediapipe_loads_the_tflite_files_as_they_are(tree, options):
    """The files carry TFLite metadata (normalisation, labels): MediaPipe's ImageClassifier needs nothing else."""
    import mediapipe
    from mediapipe.tasks.python import BaseOptions, vision

    train(tree, tflite=True, **options)
    photos = sorted(tree.glob("*/*-0[0-3].jpg"))
    ours = [prediction.top[0][0] for prediction in classify(options["out"], photos)]
    for name in ("model_float16.tflite", "model_int8.tflite"):
        settings = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(options["out"] / name)), max_results=1)
        with vision.ImageClassifier.create_from_options(settings) as classifier:
            theirs = [classifier.classify(mediapipe.Image.create_from_file(str(photo))).classifications[0].categories[0].category_name
                      for photo in photos]
        # MediaPipe resizes the whole photo where we crop its centre first, so probabilities differ a little
        assert sum(a == b for a, b in zip(ours, theirs)) >= len(photos) - 1, (name, ours, theirs)


@pytest.mark.slow
def test_real_backbone_end_to_end_without_skew(tmp_path):
    """The embedded EfficientNet-Lite0 on real flowers: train, export, and classify the test images."""
    from tests.conftest import SAMPLE_FLOWERS

    dataset = tmp_path / "flowers"
    for label in ("daisy", "roses", "sunflowers"):
        (dataset / label).mkdir(parents=True)
        for source in sorted((SAMPLE_FLOWERS / label).iterdir())[:10]:
            (dataset / label / source.name).write_bytes(source.read_bytes())
    result = train(dataset, out=tmp_path / "model", progress=False, epochs=40, test_pct=20)
    assert result.evaluation.count >= 3
    predictions = json.loads((tmp_path / "model" / "metrics.json").read_text())["test_predictions"]
    served = classify(tmp_path / "model", [dataset / p["path"] for p in predictions])
    for expected, got in zip(predictions, served):
        np.testing.assert_allclose(got.probabilities, expected["probabilities"], atol=1e-4)
