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

import logging
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import RunInference
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions, WorkerOptions

from retrainkit.errors import UserError
from retrainkit.shards import SUFFIX, arrow_schema, read_rows

from .describe import BAD, DescribeFiles
from .inference import DEFAULT_BATCH, BackboneHandler
from .listing import TreeFile, dataset_root, listed_file, relative_data_path
from .rows import row_of, row_of_prediction

EMBEDDED = "efficientnet_lite0"


@dataclass
class EmbedResult:
    #: the shard files written, sorted
    shards: list[str]
    files: int
    vectors: int
    #: problem -> files (curate's problems, and why the backbone could not take a file)
    problems: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self, dataset: str = "DATASET") -> str:
        bad = ", ".join(f"{count} {problem}" for problem, count in sorted(self.problems.items()))
        pattern = self.shards[0].rsplit("-", 3)[0] + f"-*{SUFFIX}" if self.shards else ""
        return (f"{self.files} files: {self.vectors} vectors" + (f"; no vector for {bad}" if bad else "")
                + f".\nShards: {pattern} ({len(self.shards)} files) in {self.seconds:.0f} s.\n"
                + f"Use them: train {dataset} --features '{pattern}'   (or curate review {dataset} --records '{pattern}')")


def embed(dataset: str, out: str, *, files: str | None = None, backbone: str = EMBEDDED, image_size: int = 0,
          batch_size: int = DEFAULT_BATCH, shards: int = 0, pipeline_args: list[str] | None = None,
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
    options = _options(pipeline_args or [])
    before = _existing_shards(prefix)
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
        raise UserError(f"the Beam pipeline failed: {type(error).__name__}: {message[-1] if message else ''} "
                        "(Beam's log above has the details)") from None
    _remove_empty_temp_folders(prefix)
    written = _existing_shards(prefix)
    stale = [name for name, stamp in before.items() if written.get(name) == stamp]
    if stale:
        FileSystems.delete(stale)
    result = _summarise(sorted(set(written) - set(stale)))
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


def _options(args: list[str]) -> PipelineOptions:
    """Beam's options as given; without a runner, the DirectRunner with one worker process per core."""
    options = PipelineOptions(args)
    unknown = _unparsed(options)
    if unknown:  # Beam would drop them with a warning: `--runer DataflowRunner` would then run a bucket here
        raise UserError(f"unknown option {' '.join(unknown)} (neither retrainkit-beam's nor Beam's; "
                        "see retrainkit-beam --help and Beam's pipeline options)")
    if options.view_as(StandardOptions).runner is None:
        direct = options.view_as(DirectOptions)
        given = " ".join(args)
        if "--direct_running_mode" not in given:
            direct.direct_running_mode = "multi_processing"
        if "--direct_num_workers" not in given and direct.direct_running_mode != "in_memory":
            direct.direct_num_workers = os.cpu_count() or 1
        if "--default_sdk_harness_log_level" not in given:  # the local workers' INFO lines would bury the summary
            options.view_as(WorkerOptions).default_sdk_harness_log_level = "ERROR"
    return options


class _Discarded(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.args: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("Discarding unparseable args") and record.args:
            self.args.extend(str(a) for a in record.args[0])


def _unparsed(options: PipelineOptions) -> list[str]:
    """The arguments Beam's own parser does not know (it only logs them), read from that log record."""
    logger = logging.getLogger("apache_beam.options.pipeline_options")
    handler, level, propagate = _Discarded(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        options.get_all_options()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
    return [a for a in handler.args if a.startswith("-")]


def _remove_empty_temp_folders(prefix: str) -> None:
    """The DirectRunner's Parquet sink leaves its emptied beam-temp-* folder beside local shards."""
    if "://" in prefix:
        return
    folder, name = os.path.split(prefix)
    for entry in os.scandir(folder or "."):
        if entry.is_dir() and entry.name.startswith(f"beam-temp-{name}-"):
            try:
                os.rmdir(entry.path)
            except OSError:
                continue  # not empty: another run's, or a failed run's files; not ours to remove


def _existing_shards(prefix: str) -> dict[str, float]:
    try:
        found = FileSystems.match([f"{prefix}-*-of-*{SUFFIX}"])[0].metadata_list
    except (OSError, IndexError):  # no match is an error on some filesystems
        return {}
    return {m.path: m.last_updated_in_seconds for m in found}


def _summarise(shards: list[str]) -> EmbedResult:
    problems: Counter[str] = Counter()
    files = vectors = 0
    for name in shards:
        for columns in read_rows(name, ("problem", "vector_problem")):
            for problem, why in zip(columns["problem"], columns["vector_problem"]):
                files += 1
                if problem:
                    problems[problem] += 1
                elif why:
                    problems[why] += 1
                else:
                    vectors += 1
    return EmbedResult(shards, files, vectors, dict(problems))


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
