"""model.json and metrics.json: typed, versioned, and old model folders still read."""

from __future__ import annotations

import json

import pytest

from retrainkit.model.card import CARD_VERSION, Calibration, Metrics, ModelCard, OpenSetMetrics, ScoresOnTest
from retrainkit.model.errors import ModelError

#: model.json as train wrote it before the card had a version, the pixels-in signature or the open set's space
OLD_MODEL_JSON = {
    "backbone": "efficientnet_lite0", "backbone_id": "efficientnet_lite0-abc", "image_size": 224,
    "preprocessing": {"mean": 127.0, "std": 128.0}, "labels": ["daisy", "rose"], "signature": "serving_default",
    "input": "image_bytes: string[batch] (encoded JPEG/PNG/GIF/BMP)", "outputs": ["probabilities: float32[batch, labels]"],
    "open_set": {"threshold": 0.31, "known_pct": 98.0, "neighbours": 10, "reference": 40, "calibration_photos": 40,
                 "validation_kept_pct": 97.5},
    "a_field_from_elsewhere": 1,
}


def test_a_card_from_before_versions_reads_with_its_open_set(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps(OLD_MODEL_JSON))
    card = ModelCard.read(tmp_path)
    assert card.version == 1 and card.image_size == 224 and card.labels == ["daisy", "rose"]
    assert card.pixels is None  # exported before the pixels-in signature
    assert card.open_set == Calibration(0.31, 98.0, 10, 40, 40, 97.5, space="")
    assert "0.3100" in card.open_set.describe()


def test_a_card_written_reads_back_the_same_and_says_its_version(tmp_path):
    card = ModelCard(backbone="efficientnet_lite2", image_size=260, labels=["a", "b", "c"], backbone_id="lite2-x",
                     pixels={"mean": 127.0, "std": 128.0}, open_set=Calibration(0.2, 98.0, 10, 30, 30, None, "frozen"))
    card.write(tmp_path)
    written = json.loads((tmp_path / "model.json").read_text())
    assert written["version"] == CARD_VERSION and written["open_set"]["space"] == "frozen"
    assert ModelCard.read(tmp_path) == card
    assert not [p for p in tmp_path.iterdir() if p.name != "model.json"], "no temporary file is left behind"


def test_metrics_round_trip_and_old_metrics_without_open_set(tmp_path):
    metrics = Metrics(dataset="flowers", backbone="efficientnet_lite0", labels=["a", "b"],
                      test=ScoresOnTest(["a", "b"], 0.75, 4, {"a": 1.0, "b": 0.5}, {"a": 0.5, "b": 1.0}, {"a": 2, "b": 2},
                                      [[1, 1], [0, 2]], [{"path": "a/1.jpg", "true": "a", "predicted": "b", "probability": 0.6}]),
                      images={"train": 10, "validation": 2, "test": 4}, validation_accuracy=1.0,
                      open_set=OpenSetMetrics(0.3, 98.0, 10, 10, 10, 100.0, "frozen", test_kept_pct=75.0, measured_photos=6))
    metrics.write(tmp_path)
    assert Metrics.read(tmp_path) == metrics
    old = metrics.to_dict()
    del old["version"], old["open_set"]
    (tmp_path / "metrics.json").write_text(json.dumps(old))
    again = Metrics.read(tmp_path)
    assert again.version == 1 and again.open_set is None and again.test.accuracy == 0.75


@pytest.mark.parametrize("content", [None, "{not json", "[1, 2]", '{"backbone": "x"}'])
def test_an_unreadable_card_is_one_line_naming_the_file(tmp_path, content):
    if content is not None:
        (tmp_path / "model.json").write_text(content)
    with pytest.raises(ModelError, match=r"no readable model\.json") as caught:
        ModelCard.read(tmp_path)
    assert "\n" not in str(caught.value)
    assert ModelCard.read_if_any(tmp_path) is None


def test_a_model_that_does_not_load_is_one_line_and_exit_1(tmp_path, capsys):
    """The input was a model folder as train writes it, but its SavedModel is damaged: ours to report, not the user's typo."""
    from retrainkit.model.cli import main as classify_main
    from tests.conftest import SAMPLE_FLOWERS

    folder = tmp_path / "model"
    (folder / "saved_model").mkdir(parents=True)
    (folder / "saved_model" / "saved_model.pb").write_bytes(b"\x00 not a protocol buffer \xff" * 10)
    (folder / "labels.txt").write_text("daisy\nroses\n")
    photo = sorted((SAMPLE_FLOWERS / "daisy").iterdir())[0]
    assert classify_main([str(folder), str(photo)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot load the model" in err and "train it again" in err, err
