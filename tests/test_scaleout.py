"""The Beam pipeline (retrainkit-beam) on the DirectRunner: the same records and vectors as the local path,
bad files as rows, shards read back by `train --features` and `curate review --records`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from curate.record import ImageRecord
from curate.scan import scan
from tests.conftest import SAMPLE_FLOWERS
from tests.images import every_mode, write

pytestmark = pytest.mark.slow

IN_MEMORY = ["--direct_running_mode=in_memory"]


def _tree(root: Path) -> dict[str, str]:
    """Photos of two labels, files TensorFlow cannot decode itself, bad files and files that are no data.
    Returns the problem curate should record for each data file ("" for a usable photo)."""
    expected = {}
    for label, source in (("daisy", "daisy"), ("tulips", "tulips")):
        for photo in sorted((SAMPLE_FLOWERS / source).glob("*.jpg"))[:4]:
            write(root / label / photo.name, photo.read_bytes())
            expected[f"{label}/{photo.name}"] = ""
    nested = sorted((SAMPLE_FLOWERS / "daisy").glob("*.jpg"))[5]
    write(root / "daisy" / "garden" / "nested.jpg", nested.read_bytes())
    expected["daisy/garden/nested.jpg"] = ""
    modes = every_mode(3, 160, 120)
    for name in ("rgba.png", "cmyk.jpg", "palette.gif"):  # converted to PNG before the backbone, locally and on Beam
        write(root / "daisy" / name, modes[name])
        expected[f"daisy/{name}"] = ""
    whole = sorted((SAMPLE_FLOWERS / "tulips").glob("*.jpg"))[6].read_bytes()
    write(root / "tulips" / "truncated.jpg", whole[: len(whole) // 3])
    write(root / "tulips" / "notes.jpg", b"shopping list: milk, eggs")
    write(root / "tulips" / "empty.jpg", b"")
    expected.update({"tulips/truncated.jpg": "corrupt", "tulips/notes.jpg": "not-an-image", "tulips/empty.jpg": "empty"})
    write(root / ".curate" / "junk.jpg", whole)  # dot-folders, dot-files and files beside the labels are no data
    write(root / "tulips" / ".hidden.jpg", whole)
    write(root / "cover.jpg", whole)
    return expected


def _rows(prefix: Path) -> dict[str, dict]:
    rows = {}
    for shard in sorted(prefix.parent.glob(f"{prefix.name}-*.parquet")):
        for row in pq.read_table(shard).to_pylist():
            assert row["path"] not in rows, f"{row['path']} written twice"
            rows[row["path"]] = row
    return rows


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from scaleout.cli import main; sys.exit(main())", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=400)


@pytest.fixture(scope="module")
def beam_run(tmp_path_factory):
    """One run of the command as a user gives it: the DirectRunner's default here, a worker process per core."""
    base = tmp_path_factory.mktemp("beam")
    expected = _tree(base / "tree")
    done = _cli(str(base / "tree"), "--out", str(base / "out" / "tree"), "--direct_num_workers=2", cwd=base)
    assert done.returncode == 0, done.stderr[-3000:]
    return base, expected, done.stdout


def test_beam_rows_equal_the_local_scan_and_bottleneck_cache(beam_run):
    from train.features.cache import BottleneckCache, key_for
    from train.features.decoding import job_for
    from train.features.extraction import extract
    from train.network import backbones

    base, expected, stdout = beam_run
    rows = _rows(base / "out" / "tree")
    assert set(rows) == set(expected), "every data file is one row; dot-names and files beside the labels are none"
    assert {path: row["problem"] for path, row in rows.items()} == expected
    assert f"{len(expected)} files: {len(expected) - 3} vectors; no vector for 1 corrupt, 1 empty, 1 not-an-image." in stdout

    local = {r.path: r for r in scan(base / "tree", progress=False).records}
    for path, row in rows.items():
        beam_record = json.loads(row["record"])
        local_record = json.loads(local[path].to_json())
        beam_record.pop("mtime_ns"), local_record.pop("mtime_ns")
        assert beam_record == local_record, path
        assert (row["size"], row["sha256"], row["phash"], row["width"]) == (local[path].bytes, local[path].sha256,
                                                                           local[path].phash, local[path].width)

    backbone = backbones.load("efficientnet_lite0")
    cache = BottleneckCache(base / "local-cache", backbone.id)
    usable = [local[path] for path, problem in expected.items() if not problem]
    extract([job_for(base / "tree", record) for record in usable], backbone, cache, 32, progress=False)
    vectors = cache.get([key_for(record.sha256) for record in usable])
    cache.close()
    beam_vectors = np.array([rows[record.path]["vector"] for record in usable], dtype=np.float32)
    assert beam_vectors.shape == vectors.shape == (len(usable), backbone.feature_dim)
    np.testing.assert_allclose(beam_vectors, vectors, atol=1e-5, rtol=0)
    for path, problem in expected.items():
        if problem:
            assert rows[path]["vector"] is None and rows[path]["vector_problem"], path
        else:
            assert rows[path]["backbone"].startswith(backbone.id) and not rows[path]["vector_problem"], path


def test_train_and_curate_use_the_shards_and_redo_only_what_changed_here(beam_run, tmp_path):
    base, expected, _ = beam_run
    shards = f"{base / 'out' / 'tree'}-*.parquet"
    copy = tmp_path / "copy"
    shutil.copytree(base / "tree", copy)
    replaced = copy / "daisy" / "garden" / "nested.jpg"
    replaced.write_bytes((copy / "tulips" / sorted(p.name for p in (copy / "tulips").glob("*.jpg"))[0]).read_bytes()[:-1] + b"\xd9")

    review = subprocess.run([sys.executable, "-m", "curate.cli", "review", str(copy), "--records", shards, "--no-serve", "-q"],
                            capture_output=True, text=True, timeout=300)
    assert review.returncode == 0, review.stderr[-2000:]
    assert f"Imported {len(expected) - 1} scan records (1 rows name files that are missing here or differ" in review.stdout
    assert f"{len(expected)} images, 1 read, the rest from the cache" in review.stdout

    shutil.rmtree(copy / ".curate")
    trained = subprocess.run([sys.executable, "-m", "train.cli", str(copy), "--features", shards, "--no-suspects",
                              "--out", str(tmp_path / "model")], capture_output=True, text=True, timeout=400)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert f"Imported bottleneck vectors: {len(expected) - 3} for efficientnet_lite0" in trained.stderr
    assert "1 bottlenecks computed" in trained.stdout, "only the file replaced here is extracted again"
    assert "Not fine-tuned: the vectors come from retrainkit-beam shards" in trained.stderr  # the default, said
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert sum(metrics["images"].values()) == len(expected) - 3


def test_a_file_list_and_a_rerun_replace_the_shards_of_the_run_before(tmp_path):
    from scaleout import embed

    root = tmp_path / "tree"
    expected = _tree(root)
    out = tmp_path / "out" / "part"
    first = embed(str(root), str(out), shards=3, pipeline_args=IN_MEMORY)
    assert len(first.shards) == 3 and first.files == len(expected)
    listed = tmp_path / "list.txt"
    photos = sorted(p for p, problem in expected.items() if not problem)
    listed.write_text(f"# two photos and a bad file\n{photos[0]}\n{root / photos[1]}\ntulips/notes.jpg\n"
                      f"{tmp_path / 'elsewhere.jpg'}\n\n")
    second = embed(str(root), str(out), files=str(listed), shards=1, pipeline_args=IN_MEMORY)
    assert [Path(s).name for s in second.shards] == ["part-00000-of-00001.parquet"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["part-00000-of-00001.parquet"], "old shards and temp folders go"
    rows = _rows(out)
    assert set(rows) == {photos[0], photos[1], "tulips/notes.jpg"}
    assert second.vectors == 2 and second.problems == {"not-an-image": 1}


def test_describing_a_file_twice_gives_the_same_row_so_a_retried_bundle_changes_nothing(tmp_path):
    from scaleout.describe import read_and_describe
    from scaleout.listing import TreeFile
    from scaleout.rows import row_of

    photo = write(tmp_path / "tree" / "daisy" / "a.jpg", sorted((SAMPLE_FLOWERS / "daisy").glob("*.jpg"))[0].read_bytes())
    file = TreeFile(str(photo), "daisy/a.jpg", 7)
    (first, data), (second, again) = read_and_describe(file), read_and_describe(file)
    assert row_of(first) == row_of(second) and data == again == photo.read_bytes()
    gone = read_and_describe(TreeFile(str(tmp_path / "tree" / "daisy" / "gone.jpg"), "daisy/gone.jpg"))
    assert gone[0].problem == "unreadable" and gone[1] is None
    assert isinstance(ImageRecord.from_json(first.to_json()), ImageRecord)


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    missing = _cli(str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.strip().splitlines()[-1].startswith("retrainkit-beam: ")
    assert "no such folder" in missing.stderr and "Traceback" not in missing.stderr
    no_out = _cli(str(tmp_path), cwd=tmp_path)
    assert no_out.returncode == 2 and "--out" in no_out.stderr
    dataset = tmp_path / "ds"
    write(dataset / "a" / "1.jpg", b"x")
    write(dataset / "b" / "1.jpg", b"y")
    trained = subprocess.run([sys.executable, "-m", "train.cli", str(dataset), "--features", str(tmp_path / "none-*.parquet")],
                             capture_output=True, text=True, timeout=120)
    assert trained.returncode == 2 and "no Parquet shards there" in trained.stderr and "Traceback" not in trained.stderr


def test_without_the_extra_nothing_imports_beam():
    probe = ("import sys, collector.cli, curate.cli, train.cli, serve.cli, train.pipeline, curate.records_import, "
             "train.features.shards_import; print('apache_beam' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


def test_shards_are_found_by_glob_folder_file_and_uri(tmp_path):
    import pyarrow as pa

    from retrainkit.errors import UserError
    from retrainkit.shards import arrow_schema, read_rows, shard_files

    folder = tmp_path / "features"
    folder.mkdir()
    for number in range(2):
        row = {name: None for name in arrow_schema().names}
        row.update(path=f"daisy/{number}.jpg", sha256=f"{number:064x}", vector=[float(number)] * 3)
        pq.write_table(pa.Table.from_pylist([row], schema=arrow_schema()), folder / f"run-0000{number}-of-00002.parquet")
    (folder / "notes.txt").write_text("not a shard")
    first = str(folder / "run-00000-of-00002.parquet")
    for given in (f"{folder}/run-*.parquet", str(folder), first, f"file://{folder}/run-*.parquet", f"file://{folder}"):
        assert len(shard_files(given)) == (1 if given == first else 2), given
    paths = [p for batch in read_rows(f"file://{folder}", ("path", "vector")) for p in batch["path"]]
    assert paths == ["daisy/0.jpg", "daisy/1.jpg"]
    with pytest.raises(UserError, match="no Parquet shards there"):
        shard_files(f"file://{tmp_path}/elsewhere-*.parquet")
    with pytest.raises(UserError, match="not a shard of retrainkit-beam"):
        pq.write_table(pa.table({"x": [1]}), tmp_path / "other.parquet")
        list(read_rows(str(tmp_path / "other.parquet")))


def test_a_failing_pipeline_is_one_user_error(tmp_path):
    from retrainkit.errors import UserError
    from scaleout import embed

    write(tmp_path / "tree" / "daisy" / "a.jpg", sorted((SAMPLE_FLOWERS / "daisy").glob("*.jpg"))[0].read_bytes())
    with pytest.raises(UserError, match="unknown backbone 'no-such-backbone'"):
        embed(str(tmp_path / "tree"), str(tmp_path / "out"), backbone="no-such-backbone", pipeline_args=IN_MEMORY)
    with pytest.raises(UserError, match="Beam has no filesystem for nosuch://"):
        embed(str(tmp_path / "tree"), "nosuch://bucket/out", pipeline_args=IN_MEMORY)
    with pytest.raises(UserError, match="unknown option --runer"):  # a typo must not run a bucket on this machine
        embed(str(tmp_path / "tree"), str(tmp_path / "out"), pipeline_args=["--runer", "DataflowRunner"])
