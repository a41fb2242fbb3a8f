"""`collect LABEL... --count N`: the shell face of `collector.collect()`.

Our errors become one line on stderr and exit code 2 at `retrainkit.cli.run_command`, here.
"""

from __future__ import annotations

import argparse
import sys

from retrainkit.cli import OneLineParser, run_command

from .collect import SORTS, collect


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="collect",
        description="Download Flickr photos for each label into DATASET/<label>/, with provenance and credits.",
        epilog="Options left out come from the config file, then the built-in defaults (see config.example.toml).",
    )
    parser.add_argument("labels", nargs="+", metavar="LABEL", help="one search per label; each becomes a folder")
    parser.add_argument("--count", "-n", type=int, help="photos wanted per label, counting those already there (default 20)")
    parser.add_argument("--out", "-o", help="dataset folder (default ./dataset)")
    parser.add_argument("--size", help="longest edge wanted: a pixel count or a Flickr size letter (default c = 800 px)")
    parser.add_argument("--license", help="any, cc (Creative Commons + public domain, default), commercial, or ids like 4,9,10")
    parser.add_argument("--sort", choices=SORTS, help="Flickr's result order (default relevance)")
    parser.add_argument("--tags", action=argparse.BooleanOptionalAction, default=None, help="match the label against tags instead of free text")
    parser.add_argument("--workers", type=int, help="parallel downloads (default 8)")
    parser.add_argument("--feed", action="store_true", help="no API key: use the public feed (at most 20 recent photos per tag, licence unknown)")
    parser.add_argument("--endpoint", help="Flickr REST URL, for mirrors and tests")
    parser.add_argument("--timeout", type=float, help="seconds to wait for a server (default 20)")
    parser.add_argument("--retries", type=int, help="retries per request (default 5)")
    parser.add_argument("--config", help="settings file (default ./config.toml when present)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command("collect", lambda: _collect(args),
                       "interrupted; no half-written file is left, run the same command again to resume")


def _collect(args: argparse.Namespace) -> int:
    summary = collect(
        args.labels,
        count=args.count,
        out=args.out,
        size=args.size,
        license=args.license,
        sort=args.sort,
        tags=args.tags,
        workers=args.workers,
        feed=args.feed,
        endpoint=args.endpoint,
        timeout=args.timeout,
        retries=args.retries,
        config=args.config,
        progress=not args.quiet,
    )
    print(summary.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
