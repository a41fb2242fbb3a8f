"""Shared fixtures: a running fake Flickr and a `collect()` pointed at it with test-speed retries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fake_flickr import API_KEY, API_SECRET, FakeFlickr
from tests.fake_sources import FakeCommons, FakeINaturalist, FakeOpenverse

ROOT = Path(__file__).resolve().parents[1]
FLOWERS_DEV = ROOT.parent / "shared" / "data" / "flowers-dev"
#: The downscaled sample that ships with the project (examples/build_flowers_sample.py made it from flowers-dev).
SAMPLE_FLOWERS = ROOT / "examples" / "flowers"
#: Real photos for the tests that need them: the full flowers-dev beside our own checkout, the
#: shipped sample on a fresh clone (RETRAINKIT_TEST_PHOTOS=sample forces it), so no test skips.
USE_SAMPLE = os.environ.get("RETRAINKIT_TEST_PHOTOS") == "sample" or not FLOWERS_DEV.is_dir()
REAL_FLOWERS = SAMPLE_FLOWERS if USE_SAMPLE else FLOWERS_DEV


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path):
    """No test may read the developer's config.toml or Flickr keys, or write outside tmp_path."""
    monkeypatch.chdir(tmp_path)
    for variable in ("FLICKR_API_KEY", "FLICKR_API_SECRET", "OPENVERSE_CLIENT_ID", "OPENVERSE_CLIENT_SECRET"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def fake():
    server = FakeFlickr().start()
    yield server
    server.stop()


@pytest.fixture
def dataset(tmp_path) -> Path:
    return tmp_path / "dataset"


@pytest.fixture
def fast_options(fake, dataset) -> dict:
    """Keyword arguments for collect() against the fake: tiny timeouts and backoff keep fault tests fast."""
    return {
        "out": dataset,
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "endpoint": fake.rest_url,
        "timeout": 2.0,
        "retries": 3,
        "backoff": 0.01,
        "progress": False,
    }


@pytest.fixture
def openverse(fake):
    server = FakeOpenverse(flickr=fake).start()
    yield server
    server.stop()


@pytest.fixture
def commons():
    server = FakeCommons().start()
    yield server
    server.stop()


@pytest.fixture
def inaturalist():
    server = FakeINaturalist().start()
    yield server
    server.stop()


@pytest.fixture
def keyless_options(openverse, commons, inaturalist, dataset) -> dict:
    """Keyword arguments for collect() against the three key-less fakes, with no Flickr key anywhere."""
    return {
        "out": dataset,
        "endpoints": {"openverse": openverse.endpoint, "commons": commons.endpoint, "inaturalist": inaturalist.endpoint},
        "timeout": 2.0,
        "retries": 2,
        "backoff": 0.01,
        "progress": False,
    }


@pytest.fixture(scope="module")
def quick_flower_model(tmp_path_factory) -> tuple[Path, Path]:
    """(model folder, dataset): the shipped sample trained quickly (frozen Lite0, 30 epochs, no suspects), once per
    module, without --tflite or --onnx. TensorFlow is imported here, not when conftest loads."""
    import shutil

    from train.pipeline import train

    root = tmp_path_factory.mktemp("quick-flowers")
    dataset = root / "flowers"
    shutil.copytree(SAMPLE_FLOWERS, dataset)
    train(dataset, out=root / "model", progress=False, suspects=False, epochs=30, fine_tune="0")
    return root / "model", dataset
