"""The local review server behind `curate review`: one page, a few JSON endpoints, thumbnails.

Why the standard library (http.server) and no framework: the page needs static files, three JSON
calls and images, all for one person on 127.0.0.1; a framework would add a dependency to keep
current and nothing the user would notice.

Safety: it binds 127.0.0.1 only. It serves only images that the scan knows (a lookup in the
scan's own path table, so `..`, encoded variants and absolute paths never reach the filesystem),
and only when the file's real location is inside the dataset (no symlink escapes). Every write
needs the per-run token embedded in the page, sent in a header another site cannot set, so
another local web page cannot change the reject list. Bad requests get a 4xx and a short text.
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.parse
from dataclasses import replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

from retrainkit.atomic import write_atomically
from retrainkit.dataset_layout import CURATE_DIR, THUMBS_DIR
from retrainkit.locks import DatasetBusy
from retrainkit.pixels import thumbnail_jpeg

from . import relabel
from .analysis import Analysis
from .errors import CurateError
from .rejects import RejectList
from .review_data import ReviewMemory, page_state

THUMB_PX = 256
TOKEN_HEADER = "X-Review-Token"
STATIC = {"/static/review.js": "application/javascript", "/static/review.css": "text/css"}
MAX_BODY = 1 << 20


class ReviewServer:
    def __init__(self, analysis: Analysis, port: int = 0, show_all: bool = False) -> None:
        self.analysis = analysis
        self.root = analysis.root.resolve()
        self.token = secrets.token_urlsafe(24)
        self.show_all = show_all
        self.memory = ReviewMemory(self.root)
        self.seen_at_start = set(self.memory.seen)
        self.records = {r.path: r for r in analysis.records}
        self.lock = threading.Lock()
        self.thumbs = self.root / CURATE_DIR / THUMBS_DIR
        handler = type("Handler", (_Handler,), {"app": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def start_in_thread(self) -> ReviewServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- what the handler asks for ---------------------------------------------------------------

    def state(self, show_all: bool) -> dict:
        return page_state(self.analysis, self.seen_at_start, show_all or self.show_all)

    def image_file(self, relative: str) -> Path | None:
        """The file for a path the scan knows, if it really lives inside the dataset; else None."""
        if relative not in self.records:
            return None
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    def thumbnail(self, relative: str) -> bytes | None:
        source = self.image_file(relative)
        if source is None or not self.records[relative].ok:
            return None
        cached = self.thumbs / f"{self.records[relative].sha256}.jpg"
        if cached.is_file():
            return cached.read_bytes()
        jpeg = thumbnail_jpeg(source, THUMB_PX)
        self.thumbs.mkdir(parents=True, exist_ok=True)
        write_atomically(cached, jpeg)
        return jpeg

    def decide(self, action: str, paths: list[str], reason: str) -> dict:
        self._known(paths)
        # Re-read under the reject list's file lock: hand edits and a `curate reject` run meanwhile are kept.
        with RejectList.editing(self.root) as rejects:
            if action == "reject":
                rejects.add(paths, reason)
            else:
                rejects.remove(paths)
            return {"rejected": {p: p in rejects.entries for p in paths}}

    def relabel(self, paths: list[str], label: str, reason: str) -> dict:
        """Move images to `label` (as `curate move`); the scan's table follows, so the page can show them there."""
        self._known(paths)
        try:
            with self.lock:
                report = relabel.move(self.root, paths, label, reason)
                moved = {m.source: m.target for m in report.moves}
                self._follow(moved)
        except CurateError as error:
            raise _BadRequest(str(error)) from None
        return {"moved": moved, "label": label}

    def undo_move(self, paths: list[str]) -> dict:
        self._known(paths)
        moved = {}
        try:
            with self.lock:
                for path in paths:
                    done = relabel.undo(self.root, path)
                    moved[done.source] = done.target
                self._follow(moved)
        except CurateError as error:
            raise _BadRequest(str(error)) from None
        return {"moved": moved}

    def _known(self, paths: list[str]) -> None:
        unknown = [p for p in paths if p not in self.records]
        if unknown or not paths:
            raise _BadRequest(f"unknown image: {unknown[0] if unknown else '(none given)'}")

    def _follow(self, moved: dict[str, str]) -> None:
        """The records the page is built from, at their new paths and labels."""
        position = {r.path: i for i, r in enumerate(self.analysis.records)}
        for old, new in moved.items():
            record = replace(self.records.pop(old), path=new, label=new.split("/", 1)[0])
            self.records[new] = record
            if old in position:
                self.analysis.records[position[old]] = record

    def mark_reviewed(self, paths: list[str]) -> dict:
        hashes = [self.records[p].sha256 for p in paths if p in self.records]
        with self.lock:
            self.memory.add(hashes)
        return {"reviewed": len(hashes)}


class _BadRequest(Exception):
    """The request itself is wrong; answered with 400 and the message."""


class _Handler(BaseHTTPRequestHandler):
    app: ReviewServer
    server_version = "curate-review"

    def log_message(self, *args) -> None:
        """Keep the terminal quiet: the page is the interface."""

    def do_GET(self) -> None:
        try:
            self._get()
        except _BadRequest as error:
            self._text(HTTPStatus.BAD_REQUEST, str(error))
        except Exception:  # noqa: BLE001 - never a traceback page
            self._text(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")

    def do_POST(self) -> None:
        try:
            self._post()
        except _BadRequest as error:
            self._text(HTTPStatus.BAD_REQUEST, str(error))
        except DatasetBusy as error:  # another command holds the reject list: the page says so, the user retries
            self._text(HTTPStatus.CONFLICT, str(error))
        except Exception:  # noqa: BLE001
            self._text(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")

    def _get(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        route, query = parsed.path, urllib.parse.parse_qs(parsed.query)
        if route == "/":
            page = _resource("review.html").replace("{{TOKEN}}", self.app.token)
            return self._send(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")
        if route in STATIC:
            return self._send(HTTPStatus.OK, _resource(route.rsplit("/", 1)[1]).encode(), STATIC[route])
        if route == "/api/state":
            return self._json(self.app.state(show_all=query.get("all") == ["1"]))
        for prefix, reader in (("/thumb/", self.app.thumbnail), ("/image/", self._original)):
            if route.startswith(prefix):
                relative = _image_path(route[len(prefix):])
                data = reader(relative)
                if data is None:
                    return self._text(HTTPStatus.NOT_FOUND, "no such image in this dataset")
                mime = "image/jpeg" if prefix == "/thumb/" else _mime(self.app.records[relative].format)
                return self._send(HTTPStatus.OK, data, mime, cache=True)
        self._text(HTTPStatus.NOT_FOUND, "not found")

    def _original(self, relative: str) -> bytes | None:
        file = self.app.image_file(relative)
        return file.read_bytes() if file else None

    def _post(self) -> None:
        if not secrets.compare_digest(self.headers.get(TOKEN_HEADER, ""), self.app.token):
            return self._text(HTTPStatus.FORBIDDEN, "missing or wrong review token")
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            raise _BadRequest("send JSON")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise _BadRequest("request too large")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            raise _BadRequest("not valid JSON") from None
        paths = body.get("paths") if isinstance(body, dict) else None
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise _BadRequest("give paths as a list of label/file strings")
        route = urllib.parse.urlsplit(self.path).path
        if route in ("/api/reject", "/api/unreject"):
            reason = str(body.get("reason") or "")[:200].replace("\n", " ")
            return self._json(self.app.decide(route.rsplit("/", 1)[1], paths, reason))
        if route == "/api/reviewed":
            return self._json(self.app.mark_reviewed(paths))
        if route == "/api/move":
            label = body.get("to")
            if not isinstance(label, str):
                raise _BadRequest("give the label to move to as 'to'")
            reason = str(body.get("reason") or "")[:200].replace("\n", " ")
            return self._json(self.app.relabel(paths, label, reason))
        if route == "/api/unmove":
            return self._json(self.app.undo_move(paths))
        self._text(HTTPStatus.NOT_FOUND, "not found")

    # -- replies -----------------------------------------------------------------------------------

    def _json(self, payload: dict) -> None:
        self._send(HTTPStatus.OK, json.dumps(payload).encode(), "application/json")

    def _text(self, status: HTTPStatus, text: str) -> None:
        self._send(status, (text + "\n").encode(), "text/plain; charset=utf-8")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "private, max-age=3600" if cache else "no-store")
        self.end_headers()
        self.wfile.write(body)


def _image_path(encoded: str) -> str:
    """URL path -> `label/file`. Refuses what no scanned path can be, before any lookup."""
    relative = urllib.parse.unquote(encoded)
    if not relative or relative.startswith(("/", "\\")) or "\\" in relative or "\0" in relative:
        raise _BadRequest("bad image path")
    if any(part in ("", ".", "..") for part in relative.split("/")):
        raise _BadRequest("bad image path")
    return relative


def _mime(image_format: str) -> str:
    """From the sniffed format, never the file name."""
    return {"PNG": "image/png", "GIF": "image/gif", "BMP": "image/bmp", "WEBP": "image/webp"}.get(image_format, "image/jpeg")


def _resource(name: str) -> str:
    return resources.files("curate").joinpath("static", name).read_text(encoding="utf-8")
