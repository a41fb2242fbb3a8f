"""`serve MODEL_DIR`: the model on a web page and a JSON API, until Ctrl-C.

Served by cheroot (CherryPy's WSGI server: pure Python, threads, no fork, so the model is loaded
once and shared). It hands the app the request stream unread, so a body over --max-upload-mb is
refused from its Content-Length with a JSON 413 before it is read, and nothing is spooled to disk
(waitress buffers whole bodies first, to a temporary file past 512 KB, and answers 413 in plain
text). Loopback by default; `--host 0.0.0.0` publishes it on the network.
"""

from __future__ import annotations

import argparse
import sys

from retrainkit.cli import OneLineParser, at_least_one, run_command
from retrainkit.errors import UserError
from retrainkit.model.folder import MAX_BATCH, check_model_dir


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="serve", description="A web page where anyone uploads a photo and sees the label, and its JSON API.")
    parser.add_argument("model", metavar="MODEL_DIR", help="a model folder made by train")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 publishes it)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--top-k", type=at_least_one, default=3, help="labels in each answer (at least 1; default 3)")
    parser.add_argument("--max-upload-mb", type=float, default=10, help="largest request body in MB (default 10)")
    parser.add_argument("--workers", type=at_least_one, default=MAX_BATCH,
                        help=f"request threads (default {MAX_BATCH}, the batcher's largest batch): their photos share model calls")
    parser.add_argument("--save-uploads", metavar="DIR", help="keep a copy of every uploaded photo here (default: none kept)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command("serve", lambda: _serve(args), "stopped")


def _serve(args: argparse.Namespace) -> int:
    check_model_dir(args.model)  # a wrong folder is said before TensorFlow takes seconds to load
    if args.max_upload_mb <= 0:
        raise UserError("--max-upload-mb must be above 0")
    from retrainkit.quiet_tf import import_tensorflow

    import_tensorflow()
    from .app import create_app

    app = create_app(args.model, top_k=args.top_k, max_upload_mb=args.max_upload_mb, save_uploads=args.save_uploads)
    server = make_server(app, args.host, args.port, args.workers)
    host, port = server.bind_addr[:2]
    shown = f"[{host}]" if ":" in str(host) else host
    if not app.extensions["open_set"]:
        from retrainkit.model.classifier import NO_OPEN_SET

        print(f"serve: notice: {args.model} {NO_OPEN_SET}", file=sys.stderr, flush=True)
    print(f"Serving {args.model} on http://{shown}:{port}/  (Ctrl-C to stop)", flush=True)
    try:
        server.serve()
    except KeyboardInterrupt:
        print("\nStopped.")
    finally:
        server.stop()
    return 0


def make_server(app, host: str, port: int, threads: int):
    """A bound, ready cheroot server for `app` (port 0 picks a free one: see `bind_addr`)."""
    from cheroot import wsgi

    server = wsgi.Server((host, port), app, numthreads=threads, server_name="retrainkit-serve")
    try:
        server.prepare()
    except OSError as error:
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror or error}; try another --port") from None
    return server


if __name__ == "__main__":
    sys.exit(main())
