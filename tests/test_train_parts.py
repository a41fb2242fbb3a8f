"""The train stage's pieces: the restricted unpickler, the Keras port, TF preprocessing, the split."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageOps

from curate.record import ImageRecord
from tests.conftest import SAMPLE_FLOWERS
from tests.images import encode, picture
from train.network.torch_pickle import (
    MAGIC_NUMBER,
    PROTOCOL_VERSION,
    UnsafePickleError,
    load_legacy_state_dict,
)
from train.split import TEST, TRAIN, VALIDATION, split

# -- the restricted unpickler ----------------------------------------------------------------------

def legacy_file(path: Path, payload: bytes) -> Path:
    header = b"".join(pickle.dumps(x, protocol=2) for x in (MAGIC_NUMBER, PROTOCOL_VERSION, {"little_endian": True}))
    path.write_bytes(header + payload + pickle.dumps([], protocol=2))
    return path


class _Exploit:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned > /tmp/retrainkit-pwned",))


def test_unpickler_refuses_any_other_global(tmp_path):
    weights = legacy_file(tmp_path / "evil.pth", pickle.dumps({"x": _Exploit()}, protocol=2))
    with pytest.raises(UnsafePickleError, match="posix.system|os.system"):
        load_legacy_state_dict(weights)
    assert not Path("/tmp/retrainkit-pwned").exists()


def test_unpickler_refuses_globals_in_the_header(tmp_path):
    weights = tmp_path / "evil-header.pth"
    weights.write_bytes(pickle.dumps(_Exploit(), protocol=2))
    with pytest.raises(UnsafePickleError):
        load_legacy_state_dict(weights)


def test_unpickler_reads_the_real_weights_exactly():
    from train.network.efficientnet_lite import LITE0
    weights_file = LITE0.weights_file

    state = load_legacy_state_dict(weights_file())
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280)
    # values found in the file's raw bytes, read independently of our reader
    raw = weights_file().read_bytes()
    assert state["_bn0.weight"].astype("<f4").tobytes() in raw
    assert state["_fc.bias"].astype("<f4").tobytes() in raw
    # the stem is stored with stride 1 along its first axis: those elements lie side by side on disk
    assert state["_conv_stem.weight"][:8, 0, 0, 0].astype("<f4").tobytes() in raw


# -- the EfficientNet-Lite0 port -------------------------------------------------------------------

@pytest.mark.slow
def test_imagenet_head_calls_daisies_daisy():
    from retrainkit.model.preprocessing import preprocess
    from train.network import efficientnet_lite
    from train.network.backbones import load

    network = efficientnet_lite.LITE0.build(with_classifier=True)
    preprocessing = load("efficientnet_lite0").preprocessing
    files = sorted((SAMPLE_FLOWERS / "daisy").iterdir())[:40]
    images = tf.stack([preprocess(tf.io.read_file(str(p)), preprocessing) for p in files])
    top1 = tf.argmax(network(images, training=False), axis=1).numpy()
    # ImageNet class 985 is 'daisy'. A faithful port: 22 of the sample's 24; a wrong padding or weight layout drops far below.
    assert (top1 == 985).sum() >= 21


# -- preprocessing in TensorFlow ops ---------------------------------------------------------------

def _with_orientation(image: Image.Image, orientation: int, fmt: str) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, fmt, exif=exif.tobytes())


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_exif_orientation_matches_pillow(orientation, fmt):
    from retrainkit.model.preprocessing import decode_upright

    stored = picture(orientation, 96, 64)
    data = _with_orientation(stored, orientation, fmt)
    ours = decode_upright(tf.constant(data)).numpy()
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    assert ours.shape == expected.shape
    assert np.abs(ours.astype(int) - expected.astype(int)).mean() < (0.01 if fmt == "PNG" else 1.5)


def test_a_batch_prepared_in_one_call_equals_photo_by_photo():
    """Extraction prepares a batch in one graph call; the network must get exactly what the
    per-photo path (the exported model's) gives, plain and augmented."""
    from train.features.decoding import decode_graph
    from train.network import backbones

    preparation = decode_graph(backbones.load("efficientnet_lite0"))
    files = sorted(p for p in SAMPLE_FLOWERS.glob("*/*.jpg"))[::9][:12]
    data = [f.read_bytes() for f in files]
    keys = [f"photo{i}" for i in range(len(files))]
    for variant in (0, 2):
        together = preparation.many(tf.constant(data), tf.constant(keys), tf.constant([variant] * len(files), tf.int32)).numpy()
        alone = [preparation.one(tf.constant(d), tf.constant(k), tf.constant(variant, tf.int32)).numpy() for d, k in zip(data, keys)]
        np.testing.assert_array_equal(together, np.stack(alone))


def test_preprocessing_is_the_central_crop_resized_and_normalised():
    from retrainkit.model.preprocessing import Preprocessing, preprocess

    image = Image.new("RGB", (400, 200), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 100, 200))  # a blue band the 87.5% central square crop cuts off
    out = preprocess(tf.constant(encode(image, "PNG")), Preprocessing(32, 127.0, 128.0)).numpy()
    assert out.shape == (32, 32, 3)
    np.testing.assert_allclose(out[..., 0], (255 - 127) / 128, atol=1e-3)
    np.testing.assert_allclose(out[..., 2], (0 - 127) / 128, atol=1e-3)


# -- the split -------------------------------------------------------------------------------------

def records(counts: dict[str, int]) -> list[ImageRecord]:
    return [
        ImageRecord(path=f"{label}/{label}-{i}.jpg", label=label, bytes=1, mtime_ns=1, sha256=f"{label}{i}")
        for label, n in counts.items() for i in range(n)
    ]


def test_split_depends_on_label_and_file_name_only():
    first = split(records({"a": 50, "b": 40}), [], 10, 10)
    moved = [ImageRecord(path=f"{r.label}/{r.name}", label=r.label, bytes=9, mtime_ns=9, sha256="x" + r.sha256)
             for r in records({"a": 50, "b": 40})]
    assert split(moved, [], 10, 10) == first
    shares = {s: list(first.values()).count(s) / len(first) for s in (TRAIN, VALIDATION, TEST)}
    assert 0.65 < shares[TRAIN] < 0.92 and shares[VALIDATION] > 0.03 and shares[TEST] > 0.03


def test_every_label_with_three_images_gets_validation_and_test():
    placement = split(records({"big": 60, "three": 3, "four": 4, "two": 2}), [], 10, 10)
    for label in ("three", "four", "big"):
        splits = [s for p, s in placement.items() if p.startswith(f"{label}/")]
        assert {TRAIN, VALIDATION, TEST} <= set(splits), label
    assert {s for p, s in placement.items() if p.startswith("two/")} == {TRAIN}


def test_near_duplicate_groups_stay_in_one_split():
    recs = records({"a": 80, "b": 80})
    groups = [[f"a/a-{i}.jpg", f"a/a-{i + 1}.jpg", f"b/b-{i}.jpg"] for i in range(0, 60, 3)]
    placement = split(recs, groups, 15, 15)
    for group in groups:
        assert len({placement[p] for p in group}) == 1


def test_tflite_without_the_metadata_schema_says_which_extra_to_install(monkeypatch):
    import sys

    from train.errors import TrainError
    from train.outputs.tflite_metadata import metadata_schema

    monkeypatch.setitem(sys.modules, "mediapipe.tasks.metadata", None)  # as if mediapipe were not installed
    with pytest.raises(TrainError, match=r"pip install 'retrainkit\[tflite\]'"):
        metadata_schema()
