"""`embed()`: one Beam pipeline from a tree (or a list of its files) to Parquet shards of records and vectors.

    list the tree (one DoFn, any Beam filesystem) -> Reshuffle (spread the files over workers)
      -> DescribeFiles (curate's record; the bytes of usable photos)
           -> RunInference(BackboneHandler) -> row        \
         bad files (tagged output) -> row without a vector -> Flatten -> WriteToParquet

Every step is a pure function of a file's bytes and the Parquet sink commits whole shards, so Beam
may retry any bundle. Without `--runner` the pipeline runs here on the DirectRunner, one worker
process per core.
"""

from __future__ import annotations

import os
import sys
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import RunInference
from apache_beam.options.pipeline_options import StandardOptions

from retrainkit.errors import InternalFailure, UserError
from retrainkit.shards import SUFFIX, arrow_schema
from train.settings import TrainSettings

from .describe import BAD, DescribeFiles
from .inference import BackboneHandler
from .listing import TreeFile, dataset_root, listed_file, relative_data_path
from .options import pipeline_options
from .outputs import EmbedResult, existing_shards, remove_empty_temp_folders, summarise
from .rows import row_of, row_of_prediction


def embed(dataset: str, out: str, *, files: str | None = None, backbone: str = TrainSettings.backbone, image_size: int = 0,
          batch_size: int = TrainSettings.extract_batch, shards: int = 0, pipeline_args: list[str] | None = None,
          progress: bool = False) -> EmbedResult:
    """Describe and embed every data file of DATASET (or those `files` lists) into OUT-SSSSS-of-NNNNN.parquet.

    `pipeline_args` are Beam's own options (`--runner DataflowRunner --project ... --region ...`).
    A rerun replaces the shards of the run before, and removes those it did not rewrite. Beam reports
    no progress on the DirectRunner; `progress` says at least when the work starts.
    """
    started = time.perf_counter()
    root, prefix = _absolute(dataset_root(dataset)), _absolute(out)
    for url in (root, prefix, files or ""):
        _check_scheme(url)
    _check_dataset(root)
    if files is not None and "://" not in files and not os.path.isfile(files):
        raise UserError(f"{files}: no such file (give a text file with one photo path a line)")
    options = pipeline_options(pipeline_args or [])
    before = existing_shards(prefix)
    if progress:
        runner = options.view_as(StandardOptions).runner
        where = f"on {runner} (follow the job in the runner's console)" if runner else "here, on Beam's DirectRunner"
        print(f"Describing and embedding {dataset} {where}; the summary follows when every shard is written ...",
              file=sys.stderr, flush=True)
    try:
        with beam.Pipeline(options=options) as pipeline:
            _build(pipeline, root, files, BackboneHandler(backbone, image_size, batch_size), prefix, shards)
    except (UserError, KeyboardInterrupt):
        raise
    except Exception as error:  # noqa: BLE001 - a runner's failure (options, quota, a worker's bug) as one line
        message = str(error).strip().splitlines()
        raise InternalFailure(f"the Beam pipeline failed: {type(error).__name__}: {message[-1] if message else ''} "
                        "(Beam's log above has the details)") from None
    remove_empty_temp_folders(prefix)
    written = existing_shards(prefix)
    stale = [name for name, stamp in before.items() if written.get(name) == stamp]
    if stale:
        FileSystems.delete(stale)
    result = summarise(sorted(set(written) - set(stale)))
    result.seconds = time.perf_counter() - started
    if not result.files:
        raise UserError(f"{dataset}: no files under {dataset}/<label>/ (labels are the top-level folders)")
    return result


def _build(pipeline: beam.Pipeline, root: str, files: str | None, handler: BackboneHandler, prefix: str, shards: int) -> None:
    listed = (pipeline | "Root" >> beam.Create([root]) | "List tree" >> beam.FlatMap(_list_tree)) if files is None else (
        pipeline | "Read list" >> beam.io.ReadFromText(files) | "Parse list" >> beam.FlatMap(_listed, root))
    described = (listed | "Spread" >> beam.Reshuffle()  # the listing is one worker's: hand the files to all
                 | "Describe" >> beam.ParDo(DescribeFiles()).with_outputs(BAD, main="photos"))
    embedded = described.photos | "Backbone" >> RunInference(handler) | "Row" >> beam.Map(row_of_prediction)
    bad = described[BAD] | "Bad row" >> beam.Map(row_of)
    _ = ((embedded, bad) | beam.Flatten()
         | "Write" >> beam.io.WriteToParquet(prefix, arrow_schema(), codec="snappy", file_name_suffix=SUFFIX, num_shards=shards))


def _list_tree(root: str):
    """Every data file under the root, with the size and time the filesystem reports."""
    for found in FileSystems.match([f"{root}/**"]):
        for metadata in found.metadata_list:
            relative = relative_data_path(root, metadata.path)
            if relative:
                yield TreeFile(metadata.path, relative, int(round(metadata.last_updated_in_seconds * 1e9)))


def _listed(line: str, root: str):
    file = listed_file(root, line)
    if file:
        yield file


def _check_dataset(root: str) -> None:
    if "://" in root:
        return  # a bucket has no folders to check; an empty listing is said after the run
    from curate.tree import check_dataset

    check_dataset(root)


def _check_scheme(url: str) -> None:
    """Beam reads gs:// and s3:// only with its gcp / aws extras installed: say so before the pipeline starts."""
    if "://" not in url:
        return
    try:
        FileSystems.get_filesystem(url)
    except ValueError:
        scheme = url.split("://", 1)[0]
        extra = {"gs": "gcp", "s3": "aws", "az": "azure"}.get(scheme)
        hint = f": pip install 'apache-beam[{extra}]'" if extra else ""
        raise UserError(f"{url}: Beam has no filesystem for {scheme}:// here{hint}") from None


def _absolute(path: str) -> str:
    return path if "://" in path else os.path.abspath(os.path.expanduser(path))
