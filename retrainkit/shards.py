"""The Parquet shards of a scale-out run: their columns, and reading them back on one machine.

The Beam pipeline (scaleout/) writes one row per file of the tree; curate imports the records
from them and train the vectors, so the column names live here, below all three. pyarrow is
imported only when shards are read or written (it comes with the `beam` extra); pyarrow's own
filesystems read `gs://`, `s3://` and `hdfs://` shards without Beam.
"""

from __future__ import annotations

import fnmatch
import glob
import importlib
from collections.abc import Iterator
from pathlib import Path

from .errors import UserError

#: One row per file. `record` is curate's whole ImageRecord as JSON (what the scan cache stores);
#: the columns before it repeat its main fields for people querying the shards. `vector` is null
#: when the backbone could not take the file; `vector_problem` says why.
COLUMNS = ("path", "label", "size", "sha256", "problem", "format", "width", "height", "phash", "record",
           "scan_version", "backbone", "vector", "vector_problem")
SUFFIX = ".parquet"


def arrow_schema():
    """The shards' pyarrow schema (pyarrow is imported here, not at module import)."""
    pa = _pyarrow()
    return pa.schema([
        ("path", pa.string()), ("label", pa.string()), ("size", pa.int64()), ("sha256", pa.string()),
        ("problem", pa.string()), ("format", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
        ("phash", pa.uint64()), ("record", pa.string()), ("scan_version", pa.int32()), ("backbone", pa.string()),
        ("vector", pa.list_(pa.float32())), ("vector_problem", pa.string()),
    ])


def shard_files(pattern: str) -> list[str]:
    """The shard files a user means: a glob (`out/flowers-*.parquet`), a folder of shards, or one file,
    on the local disk or at a `gs://` / `s3://` / `hdfs://` URI."""
    if "://" not in pattern:
        path = Path(pattern).expanduser()
        found = sorted(str(p) for p in path.glob(f"*{SUFFIX}")) if path.is_dir() else sorted(glob.glob(str(path)))
    else:
        found = _remote_files(pattern)
    if not found:
        raise UserError(f"{pattern}: no Parquet shards there (give the --out of retrainkit-beam with a *, "
                        f"e.g. 'features/flowers-*{SUFFIX}')")
    return found


def read_rows(pattern: str, columns: tuple[str, ...] = COLUMNS) -> Iterator[dict[str, list]]:
    """Column lists of one row group at a time, so a million-row import never holds every vector at once."""
    pq = _pyarrow("parquet")
    for name in shard_files(pattern):
        try:
            handle = pq.ParquetFile(name if "://" not in name else _open_remote(name))
            missing = [c for c in columns if c not in handle.schema_arrow.names]
            if missing:
                raise UserError(f"{name}: not a shard of retrainkit-beam (no column {missing[0]!r})")
            for batch in handle.iter_batches(batch_size=4096, columns=list(columns)):
                yield batch.to_pydict()
        except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
            raise UserError(f"{name}: cannot read it as Parquet ({error})") from None


def _remote_files(pattern: str) -> list[str]:
    """A glob in the last part of the URI (`gs://b/features/run-*.parquet`), a folder, or one file."""
    if "*" not in pattern and pattern.endswith(SUFFIX):
        return [pattern]
    folder = pattern.split("*", 1)[0].rsplit("/", 1)[0] if "*" in pattern else pattern.rstrip("/")
    wanted = pattern if "*" in pattern else f"{folder}/*{SUFFIX}"
    fs = _pyarrow("fs")
    try:
        filesystem, path = fs.FileSystem.from_uri(folder + "/")
        infos = filesystem.get_file_info(fs.FileSelector(path.rstrip("/"), recursive=False, allow_not_found=True))
    except (OSError, ValueError) as error:
        raise UserError(f"{pattern}: cannot list it ({error})") from None
    names = [folder + "/" + info.path.rsplit("/", 1)[-1] for info in infos if info.type == fs.FileType.File]
    return sorted(n for n in names if fnmatch.fnmatchcase(n, wanted))


def _open_remote(uri: str):
    fs = _pyarrow("fs")
    filesystem, path = fs.FileSystem.from_uri(uri)
    return filesystem.open_input_file(path)


def _pyarrow(module: str = ""):
    try:
        return importlib.import_module("pyarrow" + (f".{module}" if module else ""))
    except ImportError:
        raise UserError("reading or writing Parquet shards needs pyarrow: pip install 'retrainkit[beam]'") from None
