"""Shared fixtures: the fake services and `collect()` pointed at them, the tiny backbone and training options,
Chromium for the page tests; and the shipped photos the tests use."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fake_flickr import API_KEY, API_SECRET, FakeFlickr
from tests.fake_sources import FakeCommons, FakeINaturalist, FakeOpenverse
from tests.tiny_backbone import build_tiny_backbone

ROOT = Path(__file__).resolve().parents[1]
#: The real photos the tests use: the downscaled sample that ships with the project
#: (examples/build_flowers_sample.py made it), so every machine runs the same suite; benches use ../shared/data.
SAMPLE_FLOWERS = ROOT / "examples" / "flowers"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Screenshots of the page tests, for a person to look at
SCREENSHOTS = ROOT / "test-output"


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


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> str:
    return str(build_tiny_backbone(tmp_path_factory.mktemp("backbone") / "tiny"))


@pytest.fixture
def options(tiny_backbone, tmp_path) -> dict:
    return {"backbone": tiny_backbone, "out": tmp_path / "model", "progress": False, "epochs": 150, "learning_rate": 0.01, "seed": 1}


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed for the review-page tests (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()
