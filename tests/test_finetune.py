"""Fine-tuning the embedded EfficientNet-Lite0's last blocks with the head, from cached activations."""

from __future__ import annotations

import json
import re

import keras
import numpy as np
import pytest
from PIL import Image

from retrainkit.model.classifier import classify
from tests.conftest import SAMPLE_FLOWERS
from tests.images import COLOURS, coloured, encode, write
from train.errors import TrainError
from train.finetune.loop import ArrayBatches, build_model, calibrated, copy_into_backbone, fine_tune
from train.head import build_head
from train.network import efficientnet_lite
from train.pipeline import train
from train.settings import TrainSettings


def test_only_the_unfrozen_blocks_change(tmp_path):
    settings = TrainSettings(fine_tune_epochs=3, fine_tune_learning_rate=0.0001, dropout=0.0)
    cut = 15
    shape = efficientnet_lite.LITE0.activation_shape(cut)
    rng = np.random.default_rng(0)
    activations = np.abs(rng.normal(0, 0.3, (24, *shape))).astype(np.float32)
    labels = np.arange(24) % 3
    for i, label in enumerate(labels):  # a learnable signal: each label lights up its own channels
        activations[i, :, :, label * 64:(label + 1) * 64] += 1.0
    model = build_model(efficientnet_lite.LITE0, cut, build_head(efficientnet_lite.FEATURES, 3, settings), settings)
    history = fine_tune(model, ArrayBatches(activations, labels, 32), ArrayBatches(activations, labels, 32), 3, settings, tmp_path,
                        progress=False)
    assert history.best_epoch > 0  # validation is the training data here: every epoch fits it better
    network, original = efficientnet_lite.LITE0.build(), efficientnet_lite.LITE0.build()
    assert copy_into_backbone(model, network) == 4  # block 15: expand, depthwise, project; then the head conv
    changed = {layer.name for layer in network.layers
               if layer.weights and any(not np.array_equal(a, b) for a, b in zip(layer.get_weights(), original.get_layer(layer.name).get_weights()))}
    assert changed == {"block15_expand", "block15_depthwise", "block15_project", "head"}


def test_one_pass_gives_the_backbones_features_and_the_activations_at_the_cut():
    """The split network that fills both caches at once computes what the two networks apart compute."""
    images = np.random.default_rng(2).uniform(-1, 1, (3, 224, 224, 3)).astype(np.float32)
    activations, features = efficientnet_lite.LITE0.build_split(15)(images, training=False)
    network = efficientnet_lite.LITE0.build()
    entering_block15 = keras.Model(network.input, network.get_layer("block15_expand").input)
    np.testing.assert_allclose(features, network(images, training=False), atol=1e-5)
    np.testing.assert_allclose(activations, entering_block15(images, training=False), atol=1e-5)


def test_a_big_set_gets_fewer_epochs_within_the_example_budget(tmp_path):
    settings = TrainSettings(fine_tune_epochs=15, fine_tune_max_examples=50, fine_tune_patience=15, dropout=0.0)
    assert [settings.fine_tune_epochs_for(n) for n in (3, 24, 50, 80)] == [15, 2, 1, 1]
    assert settings.but(fine_tune_max_examples=0).fine_tune_epochs_for(10**6) == 15
    cut = 15
    activations = np.random.default_rng(4).uniform(0, 1, (24, *efficientnet_lite.LITE0.activation_shape(cut))).astype(np.float32)
    labels = np.arange(24) % 2
    model = build_model(efficientnet_lite.LITE0, cut, build_head(efficientnet_lite.FEATURES, 2, settings), settings)
    history = fine_tune(model, ArrayBatches(activations, labels, 8), ArrayBatches(activations, labels, 8), 2, settings, tmp_path,
                        progress=False)
    assert history.epochs == 2 and len(history.curve) == 3


def test_early_stopping_judges_the_ranking_not_the_confidence_scale():
    """An overconfident copy of a model (logits x4) ranks exactly as well: its raw loss is far worse,
    its calibrated loss the same, at a temperature about 4 times higher."""
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 1.5, (400, 4))
    chances = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(4, p=row) for row in chances])
    loss, temperature = calibrated(logits, labels)
    confident_loss, confident_temperature = calibrated(logits * 4, labels)
    raw = float(np.mean(keras.losses.sparse_categorical_crossentropy(labels, logits * 4, from_logits=True)))
    assert raw > 1.5 * loss
    assert confident_loss == pytest.approx(loss, rel=0.01)
    assert confident_temperature == pytest.approx(4 * temperature, rel=0.05)


def test_early_stopping_keeps_the_best_epoch(tmp_path):
    """Validation labels the training data contradicts: validation loss rises once training starts to fit."""
    settings = TrainSettings(fine_tune_epochs=6, fine_tune_patience=2, fine_tune_learning_rate=0.003, dropout=0.0)
    cut = 15
    rng = np.random.default_rng(1)
    activations = np.abs(rng.normal(0, 1, (32, *efficientnet_lite.LITE0.activation_shape(cut)))).astype(np.float32)
    labels = np.arange(32) % 2
    model = build_model(efficientnet_lite.LITE0, cut, build_head(efficientnet_lite.FEATURES, 2, settings), settings)
    history = fine_tune(model, ArrayBatches(activations, labels, 32), ArrayBatches(activations[:16], 1 - labels[:16], 32), 2, settings,
                        tmp_path, progress=False)
    assert history.best_epoch < history.epochs
    assert len(history.watched) == history.epochs + 1  # epoch 0, the warm start, counts
    assert history.best_epoch == int(np.argmin(history.watched))
    logits = model(activations[:16], training=False)
    kept = float(np.mean(keras.losses.sparse_categorical_crossentropy(1 - labels[:16], logits, from_logits=True)))
    assert kept == pytest.approx(min(history.watched), rel=1e-4)


def small_flowers(root):
    """Eight sample photos of each of three labels."""
    for label in ("daisy", "sunflowers", "tulips"):
        (root / label).mkdir(parents=True)
        for source in sorted((SAMPLE_FLOWERS / label).iterdir())[:8]:
            (root / label / source.name).write_bytes(source.read_bytes())
    return root


@pytest.mark.slow
def test_train_fine_tunes_the_last_block_by_default_and_not_with_zero(tmp_path):
    dataset = small_flowers(tmp_path / "flowers")
    options = {"progress": False, "epochs": 30, "fine_tune_epochs": 2, "test_pct": 25, "suspects": False}
    by_default = train(dataset, out=tmp_path / "default", **options)
    metrics = json.loads((tmp_path / "default" / "metrics.json").read_text())
    assert by_default.fine_tuned is not None and by_default.fine_tuned.tuning.blocks == 1
    assert metrics["settings"]["fine_tune"] == "1" and "fine_tune" in metrics["curves"]
    assert "Fine-tuned the last 1 block(s)" in by_default.summary()
    told_not_to = train(dataset, out=tmp_path / "off", fine_tune="0", **options)
    metrics = json.loads((tmp_path / "off" / "metrics.json").read_text())
    assert told_not_to.fine_tuned is None and metrics["settings"]["fine_tune"] == "0" and "fine_tune" not in metrics["curves"]
    assert "Fine-tuned" not in told_not_to.summary() and "Not fine-tuned" not in told_not_to.summary()


def test_the_default_leaves_a_sealed_backbone_frozen_and_says_so(tmp_path, tiny_backbone):
    for label, colour in COLOURS.items():
        for i in range(6):
            write(tmp_path / "colours" / label / f"{label}-{i}.jpg", encode(coloured(i, colour)))
    result = train(tmp_path / "colours", out=tmp_path / "model", backbone=tiny_backbone, progress=False, epochs=5,
                   suspects=False)
    assert result.fine_tuned is None
    assert "Not fine-tuned: a TF Hub or SavedModel backbone is a sealed graph" in result.summary()


@pytest.mark.slow
def test_fine_tuned_export_classifies_like_the_evaluation_and_activations_are_cached(tmp_path):
    dataset = small_flowers(tmp_path / "flowers")
    options = {"progress": False, "epochs": 30, "fine_tune": 1, "fine_tune_epochs": 2, "test_pct": 25, "suspects": False}
    result = train(dataset, out=tmp_path / "model", **options)
    assert result.fine_tuned is not None and result.fine_tuned.extracted > 24  # plain + a variant of each training photo
    assert "Fine-tuned the last 1 block(s)" in result.summary()
    predictions = json.loads((tmp_path / "model" / "metrics.json").read_text())["test_predictions"]
    served = classify(tmp_path / "model", [dataset / p["path"] for p in predictions])
    for expected, got in zip(predictions, served):
        np.testing.assert_allclose(got.probabilities, expected["probabilities"], atol=1e-4)

    assert train(dataset, out=tmp_path / "model", force=True, **options).fine_tuned.extracted == 0  # all from the cache
    replaced = sorted((dataset / "daisy").iterdir())[0]
    Image.open(replaced).transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(replaced, "JPEG")
    again = train(dataset, out=tmp_path / "model", **options).fine_tuned.extracted
    assert 1 <= again <= 2  # the replaced photo: plain, and its variant if it trains


@pytest.mark.slow
def test_fine_tune_all_trains_every_layer_from_the_images_with_progress(tmp_path, capsys):
    """The whole network from the files: every layer (the stem too) changes; an ETA is shown."""
    from train.features.cache import key_for
    from train.features.decoding import Job
    from train.finetune.images import ImageBatches
    from train.network.backbones import load

    photos = [(source, label) for label, name in enumerate(("daisy", "sunflowers"))
              for source in sorted((SAMPLE_FLOWERS / name).iterdir())[:6]]
    jobs = [Job(key_for(f"photo{i}"), path) for i, (path, _) in enumerate(photos)]
    labels = np.array([label for _, label in photos])
    backbone = load("efficientnet_lite0")
    source = ImageBatches(jobs, labels, [p.name for p, _ in photos], backbone, 4, seed=0)
    settings = TrainSettings(fine_tune="all", fine_tune_epochs=2, fine_tune_all_learning_rate=0.001, dropout=0.0)
    head = build_head(efficientnet_lite.FEATURES, 2, settings)
    model = build_model(efficientnet_lite.LITE0, None, head, settings)
    history = fine_tune(model, source, ImageBatches(jobs, labels, [], backbone, 4, augment=False), 2, settings,
                        tmp_path, progress=True)
    assert history.best_epoch > 0  # validation is the training photos: an epoch of training fits them better
    assert [e.epoch for e in history.curve] == [0, 1, 2] and history.curve[1].train_loss is not None
    shown = capsys.readouterr().err
    assert re.search(r"fine-tune: .*\d+/24 .*\d\d:\d\d<\d\d:\d\d", shown), shown[-300:]  # progress with an ETA
    network, original = efficientnet_lite.LITE0.build(), efficientnet_lite.LITE0.build()
    copy_into_backbone(model, network)
    unchanged = {layer.name for layer in network.layers if layer.weights
                 and all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), original.get_layer(layer.name).get_weights()))}
    assert unchanged == set()


@pytest.mark.slow
def test_fine_tune_all_exports_what_it_evaluated(tmp_path):
    dataset = tmp_path / "flowers"
    for label in ("daisy", "tulips"):
        (dataset / label).mkdir(parents=True)
        for source in sorted((SAMPLE_FLOWERS / label).iterdir())[:6]:
            (dataset / label / source.name).write_bytes(source.read_bytes())
    result = train(dataset, out=tmp_path / "model", progress=False, epochs=20, fine_tune="all", fine_tune_epochs=1,
                   test_pct=34, suspects=False)
    assert "Fine-tuned the whole backbone" in result.summary()
    assert result.fine_tuned.extracted == 0  # nothing cached at a cut: it ran from the files
    predictions = json.loads((tmp_path / "model" / "metrics.json").read_text())["test_predictions"]
    assert predictions
    served = classify(tmp_path / "model", [dataset / p["path"] for p in predictions])
    for expected, got in zip(predictions, served):
        np.testing.assert_allclose(got.probabilities, expected["probabilities"], atol=1e-4)


def test_fine_tuning_learns_from_one_augmented_variant_at_every_size_unless_told():
    """The variant is what made fine-tuning generalise to other photographers' photos, big set or small;
    the user can ask for any number, 0 included."""
    from train.inputs import fine_tune_variants

    default = TrainSettings()
    assert fine_tune_variants(default, 100) == 1
    assert fine_tune_variants(default, 5000) == 1
    assert fine_tune_variants(default.but(fine_tune_variants=2), 5000) == 2
    assert fine_tune_variants(default.but(fine_tune_variants=0), 100) == 0
    assert fine_tune_variants(default.but(fine_tune_variants=0, augment=3), 100) == 3  # --augment's variants are cached anyway
    with pytest.raises(TrainError, match="fine_tune_variants"):
        TrainSettings.load(None, fine_tune_variants=-1)
    with pytest.raises(TrainError, match="photos_per_call"):
        TrainSettings.load(None, photos_per_call=-4)


def test_a_costlier_top_gets_fewer_examples():
    """fine_tune_max_examples counts examples of Lite0's last block: Lite2's last block costs 1.9x its
    multiply-adds, so a big set gets about half the examples (the same time), a small set all its epochs."""
    from train.finetune.loop import relative_cost
    from train.network.efficientnet_lite import LITE0, VARIANTS

    lite2 = VARIANTS["efficientnet_lite2"]
    assert relative_cost(LITE0, len(LITE0.blocks) - 1) == 1.0
    assert 1.8 < relative_cost(lite2, len(lite2.blocks) - 1) < 2.0
    assert relative_cost(LITE0, len(LITE0.blocks) - 2) > 1.3  # two blocks cost more than one
    settings = TrainSettings()
    assert settings.fine_tune_epochs_for(2400) == 8  # 20,000 // 2,400
    assert settings.fine_tune_epochs_for(2400, relative_cost(lite2, len(lite2.blocks) - 1)) == 4
    assert settings.fine_tune_epochs_for(300, relative_cost(lite2, len(lite2.blocks) - 1)) == settings.fine_tune_epochs


def test_warm_start_is_sound_only_for_the_same_network_and_labels_and_an_unseen_test_split():
    from train.finetune.warm_start import Previous, sound

    previous = Previous([np.zeros(2)], "lite0", 15, ["a", "b"], frozenset({"a/1.jpg", "b/2.jpg"}))
    assert sound(previous, "lite0", 15, ["a", "b"], ["a/3.jpg"])
    assert not sound(previous, "lite0", 15, ["a", "b"], ["b/2.jpg"])  # a test photo the weights learned from
    assert not sound(previous, "lite2", 15, ["a", "b"], ["a/3.jpg"])
    assert not sound(previous, "lite0", 14, ["a", "b"], ["a/3.jpg"])
    assert not sound(previous, "lite0", 15, ["a", "b", "c"], ["a/3.jpg"])
    assert not sound(None, "lite0", 15, ["a", "b"], ["a/3.jpg"])


@pytest.mark.slow
def test_after_a_move_fine_tuning_starts_from_the_last_weights_and_keeps_its_test_split_unseen(tmp_path):
    from train.finetune.warm_start import read

    dataset = small_flowers(tmp_path / "flowers")
    out = tmp_path / "model"
    options = {"progress": False, "epochs": 30, "fine_tune_epochs": 6, "test_pct": 25, "suspects": False}
    first = train(dataset, out=out, **options)
    assert not first.fine_tuned.warm_started
    trained_before = set(json.loads((out / "split.json").read_text())["train"])
    assert read(out).trained == trained_before

    photo = sorted((dataset / "daisy").iterdir())[-1]
    photo.rename(dataset / "tulips" / photo.name)  # filed anew, as curate move does
    second = train(dataset, out=out, **options)
    tests_now = set(json.loads((out / "split.json").read_text())["test"])
    assert second.fine_tuned.warm_started
    assert not tests_now & trained_before  # no test photo was learned from by the weights it started from
    assert second.fine_tuned.history.epochs <= 2
    assert "Started from the last run's fine-tuned weights" in second.summary()
    assert not train(dataset, out=out, force=True, **options).fine_tuned.warm_started  # --force: a cold fine-tuning
