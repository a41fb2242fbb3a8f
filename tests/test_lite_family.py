"""EfficientNet-Lite1 and Lite2: offline from their wheels, faithful to ImageNet, and every stage works with them."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from retrainkit.model.classifier import classify
from retrainkit.model.preprocessing import preprocess
from tests.conftest import SAMPLE_FLOWERS
from tests.test_finetune import small_flowers
from train.errors import TrainError
from train.network import backbones, efficientnet_lite
from train.pipeline import train

ESPRESSO, DAISY = 967, 985


def test_each_variant_reads_its_own_checkpoint_and_its_layout_matches():
    """The layout comes from the multipliers; the first and last stages keep one block (21 in Lite1 and Lite2)."""
    for name, blocks, last_channels in (("efficientnet_lite0", 16, 320), ("efficientnet_lite1", 21, 320),
                                        ("efficientnet_lite2", 21, 352)):
        variant = efficientnet_lite.VARIANTS[name]
        state = variant._state()
        assert len(variant.blocks) == blocks
        assert state[f"_blocks.{blocks - 1}._project_conv.weight"].shape[0] == last_channels == variant.blocks[-1][3]
    # a layout that scales the last stage too (as plain EfficientNet does) does not fit Lite1's checkpoint
    wrong = replace(efficientnet_lite.VARIANTS["efficientnet_lite1"], name="wrong", depth=1.6)
    with pytest.raises(TrainError, match="blocks, the wrong layout has"):
        wrong._state()


def test_lite2_activations_keep_sames_rounding():
    """260 px halves to 130, 65, 33, 17, 9: "same" padding rounds up, and the cut's shape must say so."""
    variant = efficientnet_lite.VARIANTS["efficientnet_lite2"]
    activations, _ = variant.build_split(20)(np.zeros((1, 260, 260, 3), np.float32), training=False)
    assert activations.shape[1:] == variant.activation_shape(20) == (9, 9, 208)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "daisies"), [("efficientnet_lite1", 19), ("efficientnet_lite2", 20)])
def test_imagenet_classes_come_out_right(name, daisies):
    """Daisy photos get ImageNet's class 985 'daisy' and scikit-image's coffee gets 'espresso'. A faithful port
    (measured: Lite1 20 of the sample's 24 daisies, Lite2 21); a wrong padding, layout or weight order drops far below."""
    import skimage.data

    network = efficientnet_lite.VARIANTS[name].build(with_classifier=True)
    preprocessing = backbones.load(name).preprocessing
    files = sorted((SAMPLE_FLOWERS / "daisy").iterdir())[:40]
    images = tf.stack([preprocess(tf.io.read_file(str(p)), preprocessing) for p in files])
    top1 = tf.argmax(network(images, training=False), axis=1).numpy()
    assert (top1 == DAISY).sum() >= daisies
    coffee = io.BytesIO()
    Image.fromarray(skimage.data.coffee()).save(coffee, "PNG")
    logits = network(preprocess(tf.constant(coffee.getvalue()), preprocessing)[None], training=False)
    assert int(tf.argmax(logits, axis=1)[0]) == ESPRESSO


@pytest.mark.slow
def test_lite2_fine_tunes_exports_and_runs_in_mediapipe(tmp_path):
    """Default fine-tuning on Lite2 (its own caches beside Lite0's), the SavedModel classifying its test photos
    like the evaluation, and the TFLite file with metadata that MediaPipe's ImageClassifier loads as it is."""
    import mediapipe
    from mediapipe.tasks.python import BaseOptions, vision

    dataset = small_flowers(tmp_path / "flowers")
    options = {"progress": False, "epochs": 30, "fine_tune_epochs": 2, "test_pct": 25, "suspects": False}
    train(dataset, out=tmp_path / "lite0", **options)
    result = train(dataset, out=tmp_path / "lite2", backbone="efficientnet_lite2", tflite=True, **options)
    assert result.fine_tuned is not None and result.fine_tuned.extracted > 18  # its own activations, not Lite0's
    assert "Fine-tuned the last 1 block(s)" in result.summary()
    caches = {p.name.split("-v1-")[0] for p in (dataset / ".cache").iterdir() if p.suffix == ".sqlite"}
    assert {"bottlenecks-efficientnet_lite0", "bottlenecks-efficientnet_lite2"} <= caches

    model = json.loads((tmp_path / "lite2" / "model.json").read_text())
    assert (model["backbone"], model["image_size"]) == ("efficientnet_lite2", 260)
    predictions = json.loads((tmp_path / "lite2" / "metrics.json").read_text())["test_predictions"]
    photos = [dataset / p["path"] for p in predictions]
    served = classify(tmp_path / "lite2", photos)
    for expected, got in zip(predictions, served):
        np.testing.assert_allclose(got.probabilities, expected["probabilities"], atol=1e-4)

    settings = vision.ImageClassifierOptions(
        base_options=BaseOptions(model_asset_path=str(tmp_path / "lite2" / "model_float16.tflite")), max_results=1)
    with vision.ImageClassifier.create_from_options(settings) as classifier:
        theirs = [classifier.classify(mediapipe.Image.create_from_file(str(photo))).classifications[0].categories[0].category_name
                  for photo in photos]
    ours = [prediction.top[0][0] for prediction in served]
    # MediaPipe resizes the whole photo where we crop its centre first, so probabilities differ a little
    assert sum(a == b for a, b in zip(ours, theirs)) >= len(photos) - 1, (ours, theirs)


def test_the_settings_know_every_built_in_backbone_by_name():
    """`fine_tune = "auto"` is decided when the settings are read, from the backbone's name alone."""
    from train.settings import BUILT_IN_BACKBONES, TrainSettings

    assert tuple(efficientnet_lite.VARIANTS) == BUILT_IN_BACKBONES
    assert TrainSettings().fine_tuning.blocks == 1 and not TrainSettings().fine_tuning.note
    sealed = TrainSettings(backbone="https://tfhub.dev/some/feature_vector/5").fine_tuning
    assert not sealed and "sealed graph" in sealed.note
    assert TrainSettings(fine_tune="all").fine_tuning.whole and str(TrainSettings(fine_tune="0").fine_tuning) == "0"
