"""Suspects: out-of-fold mislabel and off-topic detection, on generated trees with the tiny test backbone."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import curate
from curate.record import ImageRecord
from tests.images import COLOURS, encode, write
from train.cli import train_main
from train.features.cache import BottleneckCache, key_for
from train.judging import novelty
from train.judging import suspects as suspects_module
from train.network import backbones
from train.pipeline import find_suspects_in, train
from train.settings import TrainSettings
from train.split import folds

SWAPPED = {"red/swap-green-0.jpg": "green", "red/swap-green-1.jpg": "green", "blue/swap-red-0.jpg": "red"}
OFF_TOPIC = ("green/offtopic-grey-0.png", "green/offtopic-checks-1.png")


def noise(seed: int) -> Image.Image:
    """Not a colour of any label: grey noise, or black and white checks."""
    rng = np.random.default_rng(seed)
    if seed % 2:
        checks = (np.indices((120, 90)).sum(axis=0) // 8 % 2 * 255).astype(np.uint8).T
        return Image.fromarray(checks).convert("RGB")
    return Image.fromarray(rng.integers(90, 160, (90, 120, 3), dtype=np.uint8))


def photo(seed: int, colour: tuple[int, int, int]) -> Image.Image:
    """A photo of its label: the label's colour, shifted a little, with grain."""
    rng = np.random.default_rng(seed)
    base = np.array(colour, dtype=np.int16) + rng.integers(-12, 12, size=3)
    return Image.fromarray(np.clip(base + rng.normal(0, 25, (90, 120, 3)), 0, 255).astype(np.uint8))


def clean_tree(root, per_label: int = 16):
    for label, colour in COLOURS.items():
        for i in range(per_label):
            write(root / label / f"{label}-{i:02d}.jpg", encode(photo(1000 * len(label) + i, colour)))
    return root


@pytest.fixture
def noisy(tmp_path):
    root = clean_tree(tmp_path / "noisy")
    for number, (path, colour) in enumerate(SWAPPED.items()):
        write(root / path, encode(photo(500 + number, COLOURS[colour])))
    for number, path in enumerate(OFF_TOPIC):
        write(root / path, encode(noise(number), "PNG"))
    return root


@pytest.fixture
def options(tiny_backbone, tmp_path) -> dict:
    return {"backbone": tiny_backbone, "progress": False, "epochs": 150, "learning_rate": 0.01, "seed": 1}


def read_suspects(root) -> dict[str, dict]:
    return {s["path"]: s for s in json.loads((root / ".curate" / "suspects.json").read_text())}


@pytest.mark.slow
def test_finds_swapped_and_off_topic_photos_and_says_why(noisy, options):
    report = find_suspects_in(noisy, **options)
    found = read_suspects(noisy)
    for path, colour in SWAPPED.items():
        assert found[path]["kind"] == "mislabeled" and found[path]["looks_like"] == colour, path
        assert colour in found[path]["reason"]
    for path in OFF_TOPIC:
        assert found[path]["kind"] == "off-topic", path
        assert "unlike the other green photos" in found[path]["reason"]
    clean = [p for p in found if p not in SWAPPED and p not in OFF_TOPIC]
    assert len(clean) <= 2, clean  # of 48 clean photos
    scores = [s["score"] for s in json.loads((noisy / ".curate" / "suspects.json").read_text())]
    assert scores == sorted(scores, reverse=True)
    assert report.cross_validated_accuracy > 0.85


@pytest.mark.slow
def test_a_clean_tree_has_next_to_no_suspects(tmp_path, options):
    root = clean_tree(tmp_path / "clean")
    report = find_suspects_in(root, **options)
    assert report.suspects == []
    assert read_suspects(root) == {}


@pytest.mark.slow
def test_train_reports_suspects_and_drop_suspects_leaves_them_out_of_training_only(noisy, options, tmp_path):
    result = train(noisy, out=tmp_path / "model", drop_suspects=True, **options)
    assert result.suspects is not None and set(SWAPPED) <= result.suspects.paths
    placement = json.loads((tmp_path / "model" / "split.json").read_text())
    in_training = set(placement["train"]) & result.suspects.paths
    assert set(result.dropped) == in_training and in_training
    assert json.loads((tmp_path / "model" / "metrics.json").read_text())["dropped_suspects"] == result.dropped
    assert all((noisy / p).is_file() for p in result.dropped)  # never off the disk
    summary = result.summary()
    assert "look mislabeled" in summary and f"curate review {noisy}" in summary and "--drop-suspects" in summary


def test_folds_keep_near_duplicates_together_and_spread_every_label():
    records = [ImageRecord(path=f"{label}/{i}.jpg", label=label, bytes=1, mtime_ns=0) for label in "ab" for i in range(20)]
    groups = [["a/1.jpg", "a/2.jpg", "b/3.jpg"], ["b/5.jpg", "b/6.jpg"]]
    for shuffle in (0, 1):
        fold_of = folds(records, groups, 5, shuffle)
        for group in groups:
            assert len({fold_of[p] for p in group}) == 1
        for label in "ab":
            per_fold = np.bincount([fold_of[r.path] for r in records if r.label == label], minlength=5)
            assert per_fold.min() >= 3 and per_fold.max() <= 5
    # a repeat of cross-validation deals a different partition, the same one every time it is asked for
    assert folds(records, groups, 5, 1) == folds(records, groups, 5, 1) != folds(records, groups, 5)


@pytest.mark.slow
def test_small_labels_and_all_duplicates_never_crash(tmp_path, options, capsys):
    root = clean_tree(tmp_path / "odd", per_label=12)
    write(root / "tiny" / "only.jpg", encode(photo(5, (250, 250, 0))))
    for i in range(3):
        write(root / "few" / f"f{i}.jpg", encode(photo(10 + i, (0, 250, 250))))
    code = train_main([str(root), "--suspects-only", "--backbone", options["backbone"], "--quiet", "--epochs", "50"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Too few images to judge for suspects (at least 10): few (3), tiny (1)" in out
    assert not any(p.startswith(("tiny/", "few/")) for p in read_suspects(root))
    assert not (tmp_path / "models").exists()  # --suspects-only trains no model

    copies = clean_tree(tmp_path / "copies", per_label=10)
    for file in list(copies.glob("*/*.jpg")):
        (file.parent / f"copy-{file.name}").write_bytes(file.read_bytes())  # every image has a twin
    report = find_suspects_in(copies, **options)
    assert report.cross_validated_accuracy > 0.8


def test_suspects_json_is_never_left_half_written(tmp_path, monkeypatch):
    root = tmp_path / "d"
    (root / ".curate").mkdir(parents=True)
    before = '[{"path": "a/1.jpg"}]'
    (root / ".curate" / "suspects.json").write_text(before)
    report = suspects_module.SuspectReport([suspects_module.Suspect("a/2.jpg", "a", "off-topic", 0.5, "odd")], {}, 0.9, 5)

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    import retrainkit.atomic

    monkeypatch.setattr(retrainkit.atomic.os, "replace", interrupted)  # every file that must not tear is written through it
    with pytest.raises(KeyboardInterrupt):
        suspects_module.write_suspects(root, report)
    assert (root / ".curate" / "suspects.json").read_text() == before
    assert [p.name for p in (root / ".curate").iterdir()] == ["suspects.json"]  # no temporary file left behind
    monkeypatch.undo()
    suspects_module.write_suspects(root, report)
    assert json.loads((root / ".curate" / "suspects.json").read_text())[0]["path"] == "a/2.jpg"


@pytest.mark.slow
def test_off_topic_suspects_come_from_the_models_novelty_score(tmp_path, options, monkeypatch):
    """The suspects step judges distance with train/judging/novelty.py's label distances, the very rule behind the
    exported model's "none of the labels": a photo that rule puts far from every label becomes off-topic."""
    root = clean_tree(tmp_path / "clean")
    find_suspects_in(root, **options)  # also fills the cache, where the chosen photo's features are read from
    assert read_suspects(root) == {}
    chosen = "red/red-03.jpg"
    record = next(r for r in curate.analyse(root, progress=False).records if r.path == chosen)
    cache = BottleneckCache(TrainSettings().cache_folder(root), backbones.load(options["backbone"]).id)
    marked = novelty.unit(cache.get([key_for(record.sha256)]))[0]
    cache.close()
    shared = novelty.label_distances

    def far_for_the_chosen_photo(features, vectors, ranges, excluded=None):
        distances = shared(features, vectors, ranges, excluded).numpy()
        distances[np.all(np.isclose(np.asarray(features), marked, atol=1e-5), axis=1)] = 1.0
        return tf.constant(distances)

    monkeypatch.setattr(suspects_module, "label_distances", far_for_the_chosen_photo)
    find_suspects_in(root, **options)
    found = read_suspects(root)
    assert list(found) == [chosen]
    assert found[chosen]["kind"] == "off-topic" and "every photo of the other labels" in found[chosen]["reason"]
