"""`retrainkit-beam DATASET --out PREFIX [Beam options]`: the shell face of scaleout.embed().

Options this command does not know are Beam's and pass through unchanged (`--runner`, `--project`,
`--region`, `--temp_location`, `--num_workers`, ...). The backbone defaults to the [train] section of
the settings file, so the vectors are the ones `train` would use.
"""

from __future__ import annotations

import argparse
import logging

from retrainkit.cli import OneLineParser, run_command


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="retrainkit-beam",
        description="Scan and embed a dataset tree on Apache Beam (DirectRunner here, or Dataflow, Flink, Spark): "
                    "curate's record and the backbone's vector of every file, as Parquet shards. Options not listed "
                    "here go to Beam.")
    parser.add_argument("dataset", metavar="DATASET", help="tree of <label>/<photos>: a folder, gs://..., s3://..., hdfs://...")
    parser.add_argument("--out", "-o", required=True, metavar="PREFIX",
                        help="shards are PREFIX-00000-of-0000N.parquet (a local path or a URI)")
    parser.add_argument("--files", metavar="LIST",
                        help="only these files: a text file, one path (relative to DATASET, or a full URL under it) a line")
    parser.add_argument("--backbone", help="default: the [train] backbone of the settings file (efficientnet_lite0)")
    parser.add_argument("--image-size", type=int, help="input size for a hub/local backbone of unknown size")
    parser.add_argument("--extract-batch", type=int, help="images per backbone call (default: [train] extract_batch, 32)")
    parser.add_argument("--shards", type=int, default=0, help="number of Parquet files (default: the runner decides)")
    parser.add_argument("--config", help="settings file (default ./config.toml when present)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args, beam_args = build_parser().parse_known_args(argv)
    return run_command("retrainkit-beam", lambda: _embed(args, beam_args),
                       "interrupted; nothing was written (run it again: shards are written at the end)")


def _embed(args: argparse.Namespace, beam_args: list[str]) -> int:
    from train.settings import TrainSettings

    settings = TrainSettings.load(args.config, backbone=args.backbone, image_size=args.image_size,
                                  extract_batch=args.extract_batch)
    # Beam's import-time and INFO/WARNING chatter (optional clients missing, worker start-up) is for pipeline
    # authors; our summary and one-line errors are what a user reads. Errors still show.
    logging.basicConfig(level=logging.ERROR, format="%(name)s: %(message)s")
    from .pipeline import embed

    result = embed(args.dataset, args.out, files=args.files, backbone=settings.backbone, image_size=settings.image_size,
                   batch_size=settings.extract_batch, shards=args.shards, pipeline_args=beam_args, progress=True)
    print(result.summary(args.dataset if "://" not in args.dataset else "LOCAL_COPY_OF_DATASET"))
    return 0
