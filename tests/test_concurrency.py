"""Two commands on one dataset at once: no doubled download, no torn record, no crash on a moved file."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import curate
from collector.provenance import read_records
from curate.cli import main as curate_main
from curate.rejects import RejectList
from curate.review_server import ReviewServer
from retrainkit.dataset_layout import LOCK_HOLDER
from retrainkit.locks import DatasetBusy, dataset_lock
from tests.fake_flickr import API_KEY, API_SECRET
from tests.images import COLOURS, coloured, encode, write

ROOT = Path(__file__).resolve().parents[1]


def environment(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "FLICKR_API_KEY": API_KEY, "FLICKR_API_SECRET": API_SECRET, "HOME": str(tmp_path / "home"),
            "PYTHONPATH": str(ROOT)}


def test_two_collects_into_one_dataset_download_each_photo_once(fake, dataset, tmp_path):
    fake.add("rose", 12)
    fake.add("tulip", 12)
    fake.latency = 0.4  # the first run takes seconds, so the second starts while it downloads
    command = [sys.executable, "-m", "collector.cli", "rose", "tulip", "--count", "5", "--out", str(dataset),
               "--endpoint", fake.rest_url, "--quiet", "--workers", "2"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(tmp_path))
    deadline = time.monotonic() + 30
    while not (dataset / LOCK_HOLDER).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(tmp_path))
    (_, err1), (_, err2) = first.communicate(timeout=120), second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    assert "waiting for `collect rose tulip`" in err2 and f"pid {first.pid}" in err2
    for label in ("rose", "tulip"):
        assert len(list((dataset / label).iterdir())) == 5
    files = {p.relative_to(dataset).as_posix() for label in ("rose", "tulip") for p in (dataset / label).iterdir()}
    lines = (dataset / ".collect" / "photos.jsonl").read_text().splitlines()
    assert len(lines) == 10 and all(json.loads(line) for line in lines)  # one whole record per file
    assert {r['file'] for r in read_records(dataset).values()} == files
    photo_ids = [path.rsplit("/", 1)[-1].split("_")[0] for path in fake.photo_requests if path.endswith(".jpg")]
    assert len(photo_ids) == len(set(photo_ids)) == 10  # no photo downloaded twice
    assert not any((dataset / ".collect" / "tmp").iterdir())
    assert not (dataset / LOCK_HOLDER).exists()


def test_a_lock_left_by_a_killed_process_is_taken_over(dataset, capsys):
    write(dataset / "rose" / "a.jpg", encode(coloured(1, COLOURS["red"])))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from retrainkit.locks import dataset_lock\n"
        f"with dataset_lock({str(dataset)!r}, 'collect rose', wait=False):\n"
        "    print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(DatasetBusy, match=rf"in use by `collect rose` \(pid {holder.pid}, since "):
        with dataset_lock(dataset, "curate apply", wait=False):
            pass
    code = curate_main(["apply", str(dataset)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"`collect rose` (pid {holder.pid}" in err and "Traceback" not in err

    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    said: list[str] = []
    with dataset_lock(dataset, "curate apply", wait=False, say=said.append):
        assert json.loads((dataset / LOCK_HOLDER).read_text())["pid"] == os.getpid()
    assert said and f"pid {holder.pid}" in said[0] and "no longer running" in said[0]


def test_train_finishes_and_reports_files_moved_or_changed_while_it_extracts(tiny_backbone, tmp_path, monkeypatch):
    """`curate apply` and an editor strike after the first batch of extraction, on photos not yet read."""
    import train.features.decoding as decoding
    from train.pipeline import train

    tree = tmp_path / "colours"
    for label, colour in COLOURS.items():
        for i in range(12):
            write(tree / label / f"{label}-{i:02d}.jpg", encode(coloured(500 + i, colour)))
    moved, changed = ["red/red-11.jpg", "green/green-11.jpg"], "blue/blue-11.jpg"
    original = decoding._decode_batch
    calls = []

    def meanwhile(jobs, decode, failed):
        if not calls:  # another terminal, while train reads its first batch
            assert curate_main(["reject", str(tree), *moved, "--reason", "off-topic"]) == 0
            assert curate_main(["apply", str(tree), "--what", "none"]) == 0
            write(tree / changed, encode(coloured(999, COLOURS["red"])))
        calls.append(len(jobs))
        return original(jobs, decode, failed)

    monkeypatch.setattr(decoding, "_decode_batch", meanwhile)
    result = train(tree, out=tmp_path / "model", backbone=tiny_backbone, progress=False, epochs=20, extract_batch=8,
                   suspects=False)
    assert len(calls) > 1
    assert {path: result.skipped.get(path) for path in [*moved, changed]} == {
        moved[0]: decoding.GONE, moved[1]: decoding.GONE, changed: decoding.CHANGED}
    assert "moved or deleted while train ran" in result.summary()
    split = json.loads((tmp_path / "model" / "split.json").read_text())
    assert not {changed, *moved} & {p for part in split.values() for p in part}
    # The changed photo's new content is used by the next run (under its new hash), never the old vector.
    again = train(tree, out=tmp_path / "model", backbone=tiny_backbone, progress=False, epochs=20, suspects=False)
    assert changed not in again.skipped


def test_a_scan_reports_a_file_moved_away_meanwhile(tmp_path, monkeypatch):
    scan_module = importlib.import_module("curate.scan")  # `curate.scan` the attribute is the function

    tree = tmp_path / "colours"
    for label, colour in COLOURS.items():
        for i in range(3):
            write(tree / label / f"{label}-{i}.jpg", encode(coloured(i, colour)))
    listed = scan_module.list_files

    def list_then_lose_one(root):
        entries = listed(root)
        (tree / "red" / "red-1.jpg").rename(tmp_path / "elsewhere.jpg")
        return entries

    monkeypatch.setattr(scan_module, "list_files", list_then_lose_one)
    result = curate.scan(tree, progress=False)
    assert result.vanished == ["red/red-1.jpg"]
    assert "red/red-1.jpg" not in {r.path for r in result.records}


def test_the_review_page_and_curate_reject_at_once_keep_every_decision(tmp_path, capsys):
    tree = tmp_path / "colours"
    for label, colour in COLOURS.items():
        for i in range(15):
            write(tree / label / f"{label}-{i:02d}.jpg", encode(coloured(i, colour), quality=60))
    server = ReviewServer(curate.analyse(tree, progress=False))
    page_paths = [f"red/red-{i:02d}.jpg" for i in range(15)]
    shell_paths = [f"blue/blue-{i:02d}.jpg" for i in range(15)]
    codes: list[int] = []

    def page() -> None:
        for path in page_paths:
            server.decide("reject", [path], "from the page")

    def shell() -> None:
        for path in shell_paths:
            codes.append(curate_main(["reject", str(tree), path, "--reason", "from the shell"]))

    workers = [threading.Thread(target=page), threading.Thread(target=shell)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert codes == [0] * 15
    assert set(RejectList(tree).entries) == set(page_paths) | set(shell_paths)


def test_two_processes_with_one_key_stay_inside_the_shared_budget(tmp_path):
    """Scaled down: 6 calls per 1.5 s window for the key, two processes wanting 9 calls each."""
    calls, window = 6, 1.5
    script = (
        "import json, sys, time; from pathlib import Path; from collector.ratelimit import SharedWindowLimiter\n"
        f"limiter = SharedWindowLimiter({calls}, 'the-key', window_s={window}, folder=Path({str(tmp_path / 'cache')!r}))\n"
        "stamps = []\n"
        "for _ in range(9):\n"
        "    limiter.acquire(); stamps.append(time.time())\n"
        "print(json.dumps(stamps))")
    runs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}) for _ in range(2)]
    stamps = sorted(t for run in runs for t in json.loads(run.communicate(timeout=60)[0]))
    assert len(stamps) == 18
    busiest = max(sum(1 for t in stamps if start <= t < start + window * 0.98) for start in stamps)
    assert busiest <= calls
    assert stamps[-1] - stamps[0] >= window  # the budget made them wait
    files = list((tmp_path / "cache").iterdir())
    assert not any("the-key" in f.name for f in files)  # the key itself is never written
