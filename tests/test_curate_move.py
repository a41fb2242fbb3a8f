"""`curate move`: a photo gets another label; every stage follows it, and `curate restore` undoes it."""

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

import curate
from collector import collect
from curate.cli import main as curate_main
from retrainkit.locks import dataset_lock
from tests.images import COLOURS, coloured, encode, picture, write

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "dataset"
    for i in range(4):
        write(root / "rose" / f"r{i}.jpg", encode(picture(10 + i)))
        write(root / "tulip" / f"t{i}.jpg", encode(picture(20 + i)))
    write(root / "rose" / "broken.jpg", encode(picture(30))[:1500])
    return root


def inventory(root: Path) -> dict[str, str]:
    """label/file -> sha256 of every data file (dot-folders are not data)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = curate_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_move_changes_the_tree_by_exactly_those_files(tree, capsys):
    curate.analyse(tree, progress=False)  # a scanned tree, as after `curate review`
    before = inventory(tree)
    code, out, _ = run(capsys, "move", str(tree), "rose/r0.jpg", str(tree / "rose" / "r1.jpg"), "--to", "tulip")
    assert code == 0
    assert "moved rose/r0.jpg -> tulip/r0.jpg" in out and "2 files moved to tulip" in out
    after = inventory(tree)
    assert set(before) - set(after) == {"rose/r0.jpg", "rose/r1.jpg"}
    assert set(after) - set(before) == {"tulip/r0.jpg", "tulip/r1.jpg"}
    assert after["tulip/r0.jpg"] == before["rose/r0.jpg"]
    assert sorted(before.values()) == sorted(after.values())  # nothing lost, nothing copied

    code, out, _ = run(capsys, "move", str(tree), "tulip/t0.jpg", "--to", "lily")  # a new label
    assert code == 0 and (tree / "lily" / "t0.jpg").is_file() and "a new label folder" in out
    analysis = curate.analyse(tree, progress=False)
    assert {r.path: r.label for r in analysis.records}["lily/t0.jpg"] == "lily"
    assert analysis.scan.decoded == 0  # the scan cache followed the files: nothing read again


def test_restore_gives_back_the_tree_as_collected_after_moves_and_quarantines(tree, capsys):
    collected = inventory(tree)
    assert run(capsys, "move", str(tree), "rose/r0.jpg", "rose/r1.jpg", "--to", "tulip")[0] == 0
    assert run(capsys, "move", str(tree), "tulip/r1.jpg", "--to", "lily")[0] == 0  # moved twice
    assert run(capsys, "reject", str(tree), "tulip/r0.jpg", "--reason", "blurry")[0] == 0
    assert run(capsys, "apply", str(tree), "--quiet")[0] == 0  # quarantines the moved, rejected r0 and broken.jpg
    assert (tree / ".quarantine" / "tulip" / "r0.jpg").is_file() and (tree / ".quarantine" / "rose" / "broken.jpg").is_file()
    assert run(capsys, "move", str(tree), "tulip/t3.jpg", "--to", "rose")[0] == 0

    code, out, _ = run(capsys, "restore", str(tree), "rose/t3.jpg")  # one file, by where it is now
    assert code == 0 and (tree / "tulip" / "t3.jpg").is_file()
    code, out, _ = run(capsys, "restore", str(tree))
    assert code == 0 and "3 files restored" in out
    assert inventory(tree) == collected
    assert not (tree / "lily").exists() or not any((tree / "lily").iterdir())
    assert "r0.jpg" not in (tree / ".curate" / "rejects.txt").read_text()  # restored from quarantine: off the list
    assert run(capsys, "restore", str(tree), "rose/r0.jpg")[2].startswith("curate: rose/r0.jpg: not in quarantine")


def test_a_taken_name_is_never_overwritten(tree, capsys):
    write(tree / "tulip" / "r0.jpg", encode(picture(99)))
    mine, theirs = (tree / "rose" / "r0.jpg").read_bytes(), (tree / "tulip" / "r0.jpg").read_bytes()
    code, out, _ = run(capsys, "move", str(tree), "rose/r0.jpg", "--to", "tulip")
    assert code == 0 and "rose/r0.jpg -> tulip/r0~1.jpg" in out
    assert (tree / "tulip" / "r0.jpg").read_bytes() == theirs and (tree / "tulip" / "r0~1.jpg").read_bytes() == mine
    run(capsys, "restore", str(tree))
    assert (tree / "rose" / "r0.jpg").read_bytes() == mine and (tree / "tulip" / "r0.jpg").read_bytes() == theirs


@pytest.mark.parametrize(("argv", "message"), [
    (["/elsewhere/x.jpg", "--to", "tulip"], "not inside the dataset"),
    (["rose/nothing.jpg", "--to", "tulip"], "no such image"),
    (["rose/r0.jpg", "--to", ".hidden"], "not a label name"),
    (["rose/r0.jpg", "--to", "a/b"], "not a label name"),
    (["rose/r0.jpg", "rose/nothing.jpg", "--to", "tulip"], "no such image"),  # all or nothing
    ([".quarantine/rose/broken.jpg", "--to", "tulip"], "quarantined; curate restore it first"),
    (["rose/broken.jpg", "--to", "tulip"], "quarantined; curate restore it first"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_moves(tree, capsys, argv, message):
    assert run(capsys, "apply", str(tree), "--quiet")[0] == 0  # quarantines broken.jpg
    before = inventory(tree)
    code, out, err = run(capsys, "move", str(tree), *argv)
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert inventory(tree) == before


def test_a_move_refuses_while_another_command_writes(tree, capsys):
    with dataset_lock(tree, "collect rose", wait=False):
        code, _, err = subprocess_move(tree, "rose/r0.jpg")
    assert code == 2 and "in use by `collect rose`" in err and err.count("\n") == 1
    assert (tree / "rose" / "r0.jpg").is_file()


def subprocess_move(tree: Path, *paths: str) -> tuple[int, str, str]:
    done = subprocess.run([str(Path(sys.executable).parent / "curate"), "move", str(tree), *paths, "--to", "tulip"],
                          capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.slow
def test_kill_9_during_a_move_loses_nothing_and_restore_still_works(tmp_path):
    root = tmp_path / "dataset"
    for i in range(40):
        write(root / "rose" / f"r{i:02d}.jpg", encode(picture(i, 64, 48)))
    write(root / "tulip" / "t.jpg", encode(picture(99, 64, 48)))
    collected = inventory(root)
    # every rename takes 50 ms here, so the kill lands in the middle of the run (after a log line, before its rename)
    script = ("import os, sys, time\n"
              "real = os.replace\n"
              "def slow(a, b):\n"
              "    time.sleep(0.05)\n"
              "    real(a, b)\n"
              "os.replace = slow\n"
              "from curate.cli import main\n"
              f"sys.exit(main(['move', {str(root)!r}, *[f'rose/r{{i:02d}}.jpg' for i in range(40)], '--to', 'tulip']))\n")
    process = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = root / ".curate" / "moves.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (log.exists() and log.read_text().count("\n") >= 10):
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()

    now = inventory(root)
    assert sorted(now.values()) == sorted(collected.values())  # every photo in exactly one place
    assert 0 < len([p for p in now if p.startswith("tulip/r")]) < 40
    for line in log.read_text().splitlines():
        json.loads(line)  # the log is readable
    curate.restore(root)
    assert inventory(root) == collected


def test_reject_list_suspects_and_provenance_follow_the_file(tree, capsys):
    (tree / ".collect").mkdir()
    record = {"id": "r0", "label": "rose", "file": "rose/r0.jpg", "query": "rose", "title": "A red one", "owner": "o",
              "ownername": "Ann", "license": "4", "license_name": "CC BY 2.0", "license_url": "https://example.org/by",
              "page_url": "https://flickr.example/r0"}
    (tree / ".collect" / "photos.jsonl").write_text(json.dumps(record) + "\n")
    write(tree / ".curate" / "suspects.json", json.dumps([
        {"path": "rose/r0.jpg", "label": "rose", "kind": "mislabeled", "score": 0.9, "looks_like": "tulip", "reason": "x",
         "imagenet": []},
        {"path": "rose/r2.jpg", "label": "rose", "kind": "off-topic", "score": 0.5, "looks_like": None, "reason": "y",
         "imagenet": []}]).encode())
    run(capsys, "reject", str(tree), "rose/r0.jpg", "--reason", "check the colour")
    assert run(capsys, "move", str(tree), "rose/r0.jpg", "--to", "tulip")[0] == 0

    assert "tulip/r0.jpg  # check the colour" in (tree / ".curate" / "rejects.txt").read_text()
    assert [row["path"] for row in json.loads((tree / ".curate" / "suspects.json").read_text())] == ["rose/r2.jpg"]
    lines = [json.loads(line) for line in (tree / ".collect" / "photos.jsonl").read_text().splitlines()]
    assert lines[0] == record  # the original record is kept as it was
    assert (lines[1]["label"], lines[1]["file"], lines[1]["moved_from"]) == ("tulip", "tulip/r0.jpg", "rose/r0.jpg")
    credits = (tree / ".collect" / "ATTRIBUTION.md").read_text()
    assert "## tulip" in credits and "`tulip/r0.jpg`" in credits and "## rose" not in credits


def test_collect_does_not_download_a_moved_photo_again_for_its_old_label(fake, fast_options, dataset, capsys):
    fake.add("rose", 10)
    collect(["rose"], count=4, **fast_options)
    moved = sorted((dataset / "rose").iterdir())[0]
    assert run(capsys, "move", str(dataset), f"rose/{moved.name}", "--to", "tulip")[0] == 0
    requested = list(fake.photo_requests)
    summary = collect(["rose"], count=4, **fast_options)
    assert summary.labels[0].existing == 3 and len(list((dataset / "rose").iterdir())) == 4  # topped up by one
    assert moved.stem not in {p.stem for p in (dataset / "rose").iterdir()}
    assert len(fake.photo_requests) == len(requested) + 1  # one new photo, not the moved one
    assert f"`tulip/{moved.name}`" in (dataset / ".collect" / "ATTRIBUTION.md").read_text()


@pytest.mark.slow
def test_train_after_a_move_uses_the_new_label_and_the_cached_bottlenecks(tmp_path, tiny_backbone, capsys):
    from train.pipeline import train

    root = tmp_path / "colours"
    for label, colour in COLOURS.items():
        for i in range(10):
            write(root / label / f"{label}-{i:02d}.jpg", encode(coloured(300 + i, colour)))
    options = {"backbone": tiny_backbone, "progress": False, "epochs": 20, "suspects": False}
    train(root, out=tmp_path / "before", **options)
    assert run(capsys, "move", str(root), "red/red-00.jpg", "red/red-01.jpg", "--to", "crimson")[0] == 0
    result = train(root, out=tmp_path / "after", **options)
    assert result.labels == ["blue", "crimson", "green", "red"]
    assert result.extracted == 0  # same content, same cache keys
    placed = json.loads((tmp_path / "after" / "split.json").read_text())
    assert "crimson/red-00.jpg" in json.dumps(placed) and "red/red-00.jpg" not in json.dumps(placed)
