"""`collect LABEL... --count N`: the shell face of `collector.collect()`.

Our errors become one line on stderr and exit code 2 at `retrainkit.cli.run_command`, here. A
label whose query names nothing at a source (an iNaturalist name with no taxon) does not stop the
others: the summary says so, and the exit code is 2 once they are done.
"""

from __future__ import annotations

import argparse
import sys

from retrainkit.cli import EXIT_BAD_INPUT, OneLineParser, run_command

from .collect import collect
from .config import SORTS
from .sources import NAMES


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="collect",
        description="Download openly licensed photos for each label into DATASET/<label>/, with provenance and credits, "
                    "from Openverse, Wikimedia Commons, iNaturalist (no key needed) or Flickr (with a key).",
        epilog="Options left out come from the config file, then the built-in defaults (see config.example.toml).",
    )
    parser.add_argument("labels", nargs="+", metavar="LABEL[=QUERY]",
                        help="each label becomes a folder; LABEL=QUERY searches QUERY for it (sunflower=Helianthus annuus, "
                             "sunflower=taxon:47148 on iNaturalist), so a label cannot contain '='")
    parser.add_argument("--count", "-n", type=int, help="photos wanted per label, counting those already there (default 20)")
    parser.add_argument("--out", "-o", help="dataset folder (default dataset, in the current folder)")
    parser.add_argument("--source", "-s", metavar="SOURCES",
                        help=f"auto (the default: flickr with a key, else openverse,commons) or any of {', '.join(NAMES)}, joined by commas")
    parser.add_argument("--size", help="longest edge wanted: a pixel count or a Flickr size letter (default c = 800 px)")
    parser.add_argument("--license", help="any, cc (Creative Commons + public domain, default), commercial; Flickr also takes ids like 4,9,10")
    parser.add_argument("--sort", choices=SORTS, help="Flickr's result order (default relevance; Flickr only)")
    parser.add_argument("--tags", action=argparse.BooleanOptionalAction, default=None,
                        help="match the label against tags instead of free text (Flickr only)")
    parser.add_argument("--workers", type=int, help="parallel downloads (default 8)")
    parser.add_argument("--feed", action="store_true",
                        help="another name for --source feed: Flickr's public feed (20 recent photos, licence unknown)")
    parser.add_argument("--contact", help="an e-mail or URL put in our User-Agent, as Wikimedia asks ([collect] contact)")
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
        source=args.source,
        contact=args.contact,
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
    return EXIT_BAD_INPUT if any(label.has_error for label in summary.labels) else 0


if __name__ == "__main__":
    sys.exit(main())
