"""`curate review|reject|unreject|apply|move|restore DATASET`: the shell face of the curate package.

Our errors become one line on stderr and exit code 2 at `retrainkit.cli.run_command`, here.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

from retrainkit.cli import OneLineParser, run_command
from retrainkit.dataset_layout import QUARANTINE_DIR
from retrainkit.locks import dataset_lock

from .analysis import analyse
from .errors import CurateError
from .flags import DEFAULT_APPLY, MOVABLE
from .quarantine import apply, restore
from .rejects import RejectList, resolve
from .relabel import move
from .report import table, top_groups, write_reports
from .settings import CurateSettings
from .tree import check_dataset


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="curate", description="Find what is wrong in a folder-per-label image tree, and set it aside without losing a file.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser)

    review = commands.add_parser("review", help="scan, flag, print a table and write .curate/report.{json,html}")
    _dataset_args(review)
    review.add_argument("--min-side", type=int, help="shorter side below this is tiny (default 128)")
    review.add_argument("--near-distance", type=int, help="pHash distance for near-duplicates (default 10; -1 turns it off)")
    review.add_argument("--no-serve", action="store_true", help="write the reports only; no review page")
    review.add_argument("--no-browser", action="store_true", help="serve the page but do not open a browser")
    review.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 for the review page (default: a free one)")
    review.add_argument("--all", action="store_true", help="show every image, not only those new since the last review")
    review.add_argument("--records", metavar="SHARDS",
                        help="first take the scan records of these Parquet shards of retrainkit-beam (a glob, folder or URI) "
                             "for the files here with the same content")

    reject = commands.add_parser("reject", help="add images to the reject list")
    _dataset_args(reject)
    reject.add_argument("paths", nargs="+", metavar="LABEL/FILE")
    reject.add_argument("--reason", default="", help="why, kept in rejects.txt")

    unreject = commands.add_parser("unreject", help="take images off the reject list")
    _dataset_args(unreject)
    unreject.add_argument("paths", nargs="+", metavar="LABEL/FILE")

    apply_cmd = commands.add_parser("apply", help="move rejected and flagged images to .quarantine/")
    _dataset_args(apply_cmd)
    apply_cmd.add_argument("--what", default=",".join(DEFAULT_APPLY),
                           help=f"flag kinds to move besides the reject list, comma-separated from {','.join(MOVABLE)} "
                                f"(default {','.join(DEFAULT_APPLY)}); 'none' moves the reject list only")
    apply_cmd.add_argument("--dry-run", action="store_true", help="show the moves, change nothing")

    move_cmd = commands.add_parser("move", help="give images another label: move them into that label's folder (undo: restore)")
    _dataset_args(move_cmd)
    move_cmd.add_argument("paths", nargs="+", metavar="LABEL/FILE")
    move_cmd.add_argument("--to", required=True, metavar="LABEL", help="the label they belong to (a new one is created)")
    move_cmd.add_argument("--reason", default="", help="why, kept in the move log")

    restore_cmd = commands.add_parser("restore", help="move quarantined and relabelled images back where they were "
                                                      "collected (all, or those named)")
    _dataset_args(restore_cmd)
    restore_cmd.add_argument("paths", nargs="*", metavar="LABEL/FILE")
    return parser


def _dataset_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", metavar="DATASET", help="folder with one sub-folder per label")
    parser.add_argument("--config", help="settings file (default ./config.toml when present)")
    parser.add_argument("--workers", type=int, help="decoding processes (default 0: one per core)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command("curate", lambda: COMMANDS[args.command](args), "interrupted; nothing was lost, run it again")


def _settings(args: argparse.Namespace) -> CurateSettings:
    return CurateSettings.load(args.config, workers=args.workers, min_side=getattr(args, "min_side", None),
                               near_distance=getattr(args, "near_distance", None))


def _review(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.records:
        from .records_import import import_records

        print(import_records(args.dataset, args.records, progress=not args.quiet).summary())
    analysis = analyse(args.dataset, settings, progress=not args.quiet)
    json_path, html_path = write_reports(analysis)
    print(table(analysis))
    if analysis.groups:
        print()
        print(top_groups(analysis))
    scanned = analysis.scan
    print(f"\n{len(scanned.records)} images, {scanned.decoded} read, the rest from the cache, in {scanned.seconds:.1f} s.")
    if scanned.vanished:
        print(f"{len(scanned.vanished)} files went away while they were scanned (another command moved them): "
              + ", ".join(scanned.vanished[:5]) + (" ..." if len(scanned.vanished) > 5 else ""))
    print(f"Report: {html_path} (data: {json_path}).")
    if args.no_serve:
        print(f"Next: curate reject / curate apply {args.dataset}")
        return 0
    return _serve(analysis, args)


def _serve(analysis, args: argparse.Namespace) -> int:
    from .review_server import ReviewServer

    try:
        server = ReviewServer(analysis, port=args.port, show_all=args.all)
    except OSError as error:
        raise CurateError(f"cannot listen on 127.0.0.1:{args.port}: {error.strerror or error}; try another --port") from None
    print(f"Review page: {server.url}  (decisions go to {analysis.root}/.curate/rejects.txt as you make them; Ctrl-C to stop)", flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print(f"\nStopped. Apply the decisions with: curate apply {args.dataset}")
    finally:
        server.httpd.server_close()
    return 0


def _reject(args: argparse.Namespace) -> int:
    root = check_dataset(args.dataset)
    paths = [_existing(root, p) for p in args.paths]
    with RejectList.editing(root) as rejects:
        added = rejects.add(paths, args.reason)
    print(f"{len(added)} added to {rejects.file} ({len(paths) - len(added)} were already there)")
    return 0


def _unreject(args: argparse.Namespace) -> int:
    root = check_dataset(args.dataset)
    with RejectList.editing(root) as rejects:
        removed = rejects.remove([resolve(root, p) for p in args.paths])
    print(f"{len(removed)} taken off {rejects.file}")
    return 0


def _apply(args: argparse.Namespace) -> int:
    what = [] if args.what.strip() == "none" else [w.strip() for w in args.what.split(",") if w.strip()]
    unknown = [w for w in what if w not in MOVABLE]
    if unknown:
        raise CurateError(f"--what {','.join(unknown)}: choose from {', '.join(MOVABLE)}, or none")
    root = check_dataset(args.dataset)
    # Refused before the scan, not after it, when another command is writing into the dataset.
    with nullcontext() if args.dry_run else dataset_lock(root, "curate apply", wait=False):
        analysis = analyse(args.dataset, _settings(args), progress=not args.quiet)
        report = apply(analysis, what, dry_run=args.dry_run)
    for line in report.lines():
        print(line)
    where = Path(args.dataset) / QUARANTINE_DIR
    if args.dry_run:
        print(f"{len(report.moves)} files would move to {where}/ (dry run: nothing changed)")
    else:
        print(f"{len(report.moves)} files moved to {where}/; undo with: curate restore {args.dataset}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    root = check_dataset(args.dataset)
    report = restore(root, args.paths or None)
    for line in report.lines():
        print(line)
    print(f"{len(report.moves)} files restored")
    return 0


def _move(args: argparse.Namespace) -> int:
    root = check_dataset(args.dataset)
    report = move(root, args.paths, args.to, args.reason)
    for line in report.lines():
        print(line)
    created = f" (a new label folder {args.dataset}/{report.label}/)" if report.new_label and report.moves else ""
    print(f"{len(report.moves)} files moved to {report.label}{created}; undo with: curate restore {args.dataset} "
          + " ".join(m.target for m in report.moves[:3]) + (" ..." if len(report.moves) > 3 else ""))
    return 0


def _existing(root: Path, given: str) -> str:
    relative = resolve(root, given)
    if not (root / relative).is_file():
        raise CurateError(f"{given}: no such image in {root}")
    return relative


COMMANDS = {"review": _review, "reject": _reject, "unreject": _unreject, "apply": _apply, "move": _move, "restore": _restore}

if __name__ == "__main__":
    sys.exit(main())
