"""A run killed at any moment leaves no partial file, and the next run finishes the job."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from collector import collect
from tests.fake_flickr import API_KEY, API_SECRET


def start_collect(fake, dataset: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "FLICKR_API_KEY": API_KEY, "FLICKR_API_SECRET": API_SECRET}
    script = str(Path(sys.executable).parent / "collect")
    where = list(extra) or ["--endpoint", fake.rest_url]
    argv = [script, "rose", "--count", "60", "--out", str(dataset), *where, "--workers", "4", "--quiet"]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_files(folder: Path, at_least: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if folder.is_dir() and len(list(folder.iterdir())) >= at_least:
            return
        time.sleep(0.01)
    raise AssertionError(f"{folder} never reached {at_least} files")


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [3, 17, 41])
def test_kill_leaves_only_whole_files_and_a_rerun_completes(fake, dataset, kill_after):
    fake.latency = 0.02
    fake.scale = 1.0  # full-size files: writes take long enough to be caught mid-way
    fake.add("rose", 80)
    process = start_collect(fake, dataset)
    wait_for_files(dataset / "rose", kill_after)
    process.send_signal(signal.SIGKILL)
    process.wait()

    recorded = {}
    for line in (dataset / ".collect" / "photos.jsonl").read_text().splitlines():
        record = json.loads(line)
        recorded[record["file"]] = record["sha256"]
    survivors = list((dataset / "rose").iterdir())
    assert 0 < len(survivors) < 60
    for path in survivors:
        with Image.open(path) as image:
            image.load()  # a partial file would fail here
        assert recorded[f"rose/{path.name}"] == hashlib.sha256(path.read_bytes()).hexdigest()

    fake.latency = 0.0
    summary = collect(["rose"], count=60, out=dataset, api_key=API_KEY, api_secret=API_SECRET, endpoint=fake.rest_url, progress=False)
    assert summary.labels[0].existing == len(survivors)
    assert len(list((dataset / "rose").iterdir())) == 60
    assert not list((dataset / ".collect" / "tmp").iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [5, 29])
def test_kill_of_a_keyless_run_leaves_whole_files_and_the_rerun_tops_up(openverse, commons, dataset, tmp_path, kill_after):
    for fake in (openverse, commons):
        fake.latency, fake.scale = 0.02, 1.0
    openverse.add("rose", 50)
    commons.add("rose", 50)
    config = tmp_path / "sources.toml"
    config.write_text(f'[openverse]\nendpoint = "{openverse.endpoint}"\n[commons]\nendpoint = "{commons.endpoint}"\n')
    process = start_collect(None, dataset, "--source", "openverse,commons", "--config", str(config))
    wait_for_files(dataset / "rose", kill_after)
    process.send_signal(signal.SIGKILL)
    process.wait()

    recorded = {json.loads(line)["file"]: json.loads(line)["sha256"] for line in (dataset / ".collect" / "photos.jsonl").read_text().splitlines()}
    survivors = list((dataset / "rose").iterdir())
    assert 0 < len(survivors) < 60
    for path in survivors:
        with Image.open(path) as image:
            image.load()
        assert recorded[f"rose/{path.name}"] == hashlib.sha256(path.read_bytes()).hexdigest()

    for fake in (openverse, commons):
        fake.latency = 0.0
    summary = collect(["rose"], count=60, out=dataset, source="openverse,commons", config=config, progress=False)
    assert summary.labels[0].existing == len(survivors) and summary.labels[0].copies == 0
    assert len(list((dataset / "rose").iterdir())) == 60
