"""The `curate` command, the reports it writes, the near-duplicate index, and real flowers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import curate
from curate.cli import main
from curate.hamming import near_pairs, near_pairs_bruteforce
from tests.conftest import SAMPLE_FLOWERS
from tests.images import encode, picture, write


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "dataset"
    original = picture(1)
    write(root / "rose" / "a.jpg", encode(original))
    write(root / "rose" / "a-small.jpg", encode(original.resize((320, 240))))
    write(root / "rose" / "broken.jpg", encode(picture(2))[:2000])
    write(root / "tulip" / "t.jpg", encode(picture(3)))
    write(root / "tulip" / "same-as-rose.jpg", encode(picture(4)))
    write(root / "rose" / "same-as-tulip.jpg", encode(picture(4)))
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main([*argv])
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_review_prints_the_table_and_writes_both_reports(tree, capsys):
    code, out, _ = run(capsys, "review", str(tree), "-q", "--no-serve")
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.split() and line.split()[0] in ("rose", "tulip", "total")}
    columns = out.splitlines()[0].split()[1:]
    rose = dict(zip(columns, map(int, rows["rose"])))
    assert rose["images"] == 4 and rose["corrupt"] == 1 and rose["near"] == 1 and rose["conflicts"] == 1
    assert "label conflict" in out
    data = json.loads((tree / ".curate" / "report.json").read_text())
    assert data["labels"]["tulip"]["conflicts"] == 1
    assert {g["keep"] for g in data["groups"]} >= {"rose/a.jpg"}
    page = (tree / ".curate" / "report.html").read_text()
    assert page.count("data:image/jpeg;base64,") >= 4
    assert "rose/a-small.jpg" in page and "label conflict between rose, tulip" in page


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["review", "{missing}"], "no such folder"),
        (["review", "{file}"], "not a folder"),
        (["review", "{empty}"], "no label folders"),
        (["apply", "{tree}", "--what", "blurry"], "--what blurry"),
        (["reject", "{tree}", "rose/nope.jpg"], "no such image"),
        (["reject", "{tree}", "../../etc/passwd"], "label/file"),
        (["restore", "{tree}", "rose/a.jpg"], "not in quarantine"),
        (["review", "{tree}", "--min-side", "many"], "invalid int value"),
        (["frobnicate", "{tree}"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tree, tmp_path, capsys, argv, needle):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    names = {"tree": str(tree), "missing": str(tmp_path / "missing"), "file": str(tmp_path / "file"), "empty": str(tmp_path / "empty")}
    code, _, err = run(capsys, *[a.format(**names) for a in argv])
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("curate")
    assert needle in err and "Traceback" not in err


def test_reject_apply_restore_round_trip_from_the_shell(tree, capsys):
    assert run(capsys, "reject", str(tree), "tulip/t.jpg", str(tree / "rose" / "a.jpg"), "--reason", "not a flower")[0] == 0
    assert (tree / ".curate" / "rejects.txt").read_text().count("# not a flower") == 2
    assert run(capsys, "unreject", str(tree), "rose/a.jpg")[0] == 0

    code, out, _ = run(capsys, "apply", str(tree), "--dry-run", "-q")
    assert code == 0 and "would move tulip/t.jpg" in out and (tree / "tulip" / "t.jpg").exists()

    code, out, _ = run(capsys, "apply", str(tree), "--what", "none", "-q")
    assert code == 0 and "1 files moved" in out
    assert (tree / ".quarantine" / "tulip" / "t.jpg").exists()

    code, out, _ = run(capsys, "restore", str(tree))
    assert code == 0 and "1 files restored" in out
    assert (tree / "tulip" / "t.jpg").exists()


def test_console_script_and_no_tensorflow(tree):
    script = str(Path(sys.executable).parent / "curate")
    result = subprocess.run([script, "review", str(tree / "nope")], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.strip().endswith("no such folder")
    check = subprocess.run([sys.executable, "-c", "import sys, curate.cli; print('tensorflow' in sys.modules)"], capture_output=True, text=True)
    assert check.stdout.strip() == "False"


@pytest.mark.parametrize("distance", [0, 1, 2, 3, 4, 5, 8, 10, 13])
def test_index_finds_exactly_the_pairs_brute_force_finds(distance):
    rng = np.random.default_rng(distance)
    hashes = rng.integers(0, 2**63, size=3000, dtype=np.uint64) << np.uint64(1)
    for source, target in rng.integers(0, len(hashes), size=(300, 2)):
        flipped = int(hashes[source])
        for bit in rng.choice(64, size=rng.integers(0, 15), replace=False):
            flipped ^= 1 << int(bit)
        hashes[target] = np.uint64(flipped)
    hashes[:40] = hashes[40]  # one crowded bucket: forty copies of a picture
    expected = near_pairs_bruteforce(hashes, distance)
    assert len(expected) > 40 * 39 // 2
    np.testing.assert_array_equal(near_pairs(hashes, distance, brute_force_below=0), expected)  # the index itself
    np.testing.assert_array_equal(near_pairs(hashes, distance, workers=1, brute_force_below=0), expected)
    np.testing.assert_array_equal(near_pairs(hashes, distance), expected)  # below 4096 hashes: brute force


def test_finds_exactly_the_known_duplicates_in_real_flowers(tmp_path):
    """flowers-dev and the shipped sample hold the same three known duplicate pairs, and no other."""
    dataset = tmp_path / "flowers"
    shutil.copytree(SAMPLE_FLOWERS, dataset)
    analysis = curate.analyse(dataset, progress=False)
    found = sorted(sorted(m.path for m in g.members) for g in analysis.groups)
    conflicts = [g for g in analysis.groups if g.conflict]
    assert [sorted(m.path for m in g.members) for g in conflicts] == [["roses/15922772266_1167a06620.jpg", "tulips/15922772266_1167a06620.jpg"]]
    inside_sunflowers = [paths for paths in found if all(p.startswith("sunflowers/") for p in paths)]
    assert len(inside_sunflowers) == 2 and all(len(p) == 2 for p in inside_sunflowers)
    assert len(found) == 3
    assert all(g.kind == "exact" for g in analysis.groups)
