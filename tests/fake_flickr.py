"""A fake Flickr on 127.0.0.1: the REST API, the public feed and the photo servers, with faults on demand.

The real flickrapi client talks to it (its REST_URL points here), so the tests exercise the same
OAuth-signed POSTs, JSON shapes and error bodies as Flickr: numbers sometimes as strings, `url_c`
missing on some photos, errors as HTTP 200 with `stat: fail`, the 4,000-result cap with repeated
pages, and deleted photos redirecting to a placeholder image.

Faults are queued per photo id (one consumed per request) or per REST call:
`503`, `500`, `429` (Retry-After: 1), `404`, `truncate` (the body breaks off), `bad-bytes`
(a complete reply holding a truncated JPEG), `slow:<seconds>`, `placeholder`, `html`,
and for REST only `code105` and `garbage`.
"""

from __future__ import annotations

import io
import json
import math
import random
import socket
import threading
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

API_KEY = "fake-key-0123456789"
API_SECRET = "fake-secret-do-not-print"

#: ladder letter -> file-name suffix, as Flickr names its files (500 px has none, 1024 px is `_b`).
SUFFIX = {"s": "_m", "n": "_n", "w": "_w", "m": "", "z": "_z", "c": "_c", "l": "_b", "h": "_h", "k": "_k", "o": "_o"}
EDGE = {"s": 240, "n": 320, "w": 400, "m": 500, "z": 640, "c": 800, "l": 1024, "h": 1600, "k": 2048, "o": 3000}

LICENSES = [
    (0, "All Rights Reserved", ""),
    (4, "Attribution License", "https://creativecommons.org/licenses/by/2.0/"),
    ("6", "Attribution-NoDerivs License", "https://creativecommons.org/licenses/by-nd/2.0/"),
    (3, "Attribution-NonCommercial-NoDerivs License", "https://creativecommons.org/licenses/by-nc-nd/2.0/"),
    ("2", "Attribution-NonCommercial License", "https://creativecommons.org/licenses/by-nc/2.0/"),
    (1, "Attribution-NonCommercial-ShareAlike License", "https://creativecommons.org/licenses/by-nc-sa/2.0/"),
    (5, "Attribution-ShareAlike License", "https://creativecommons.org/licenses/by-sa/2.0/"),
    (7, "No known copyright restrictions", "https://www.flickr.com/commons/usage/"),
    ("8", "United States Government Work", "http://www.usa.gov/copyright.shtml"),
    (9, "Public Domain Dedication (CC0)", "https://creativecommons.org/publicdomain/zero/1.0/"),
    (10, "Public Domain Mark", "https://creativecommons.org/publicdomain/mark/1.0/"),
    (11, "CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    (14, "CC BY-NC 4.0", "https://creativecommons.org/licenses/by-nc/4.0/"),
]


@dataclass
class FakePhoto:
    id: str
    words: tuple[str, ...]
    license: int = 4
    owner: str = "12345678@N00"
    ownername: str = "Ada Lovelace"
    title: str = "a photo"
    dateupload: int = 1_500_000_000
    sizes: tuple[str, ...] = ("s", "n", "m", "z", "c", "l")
    secret: str = "abcdef"
    format: str = "JPEG"


def make_image_bytes(seed: int, width: int, height: int, fmt: str = "JPEG") -> bytes:
    """A distinct picture per seed: a random 8x8 grid of colours, smoothly enlarged, so collect's and
    curate's perceptual hashes tell any two seeds apart while another size of one seed hashes alike."""
    rng = random.Random(seed)
    small = Image.new("RGB", (8, 8))
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(64)])
    image = small.resize((width, height), Image.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, fmt, quality=85) if fmt == "JPEG" else image.save(buffer, fmt)
    return buffer.getvalue()


@dataclass
class FakeFlickr:
    api_key: str = API_KEY
    cap: int = 4000
    #: seconds added to every reply (the benchmark's network)
    latency: float = 0.0
    #: served images are this fraction of the nominal size, to keep tests fast
    scale: float = 0.1
    photos: dict[str, FakePhoto] = field(default_factory=dict)
    photo_faults: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    rest_faults: list[str] = field(default_factory=list)
    rest_calls: list[dict] = field(default_factory=list)
    photo_requests: list[str] = field(default_factory=list)
    image_cache: dict[tuple[str, str], bytes] = field(default_factory=dict)
    #: real photo files to serve instead of generated pictures (the benchmark uses flowers-dev)
    library: list[bytes] = field(default_factory=list)

    # -- set-up ---------------------------------------------------------------------------------

    def add(self, words: str | tuple[str, ...], n: int, **fields) -> list[FakePhoto]:
        """Add n photos matching `words` (one word or several: a photo two labels both find)."""
        words = (words,) if isinstance(words, str) else tuple(words)
        made = []
        for _ in range(n):
            number = len(self.photos) + 1
            photo_id = str(50_000_000_000 + number)
            defaults = {"dateupload": 1_200_000_000 + number * 3600}
            photo = FakePhoto(id=photo_id, words=words, **{**defaults, **fields})
            self.photos[photo_id] = photo
            made.append(photo)
        return made

    def start(self) -> FakeFlickr:
        fake = self

        class Handler(_Handler):
            server_state = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def rest_url(self) -> str:
        return f"{self.base}/services/rest/"

    @property
    def feed_url(self) -> str:
        return f"{self.base}/services/feeds/photos_public.gne"

    def photo_url(self, photo: FakePhoto, letter: str) -> str:
        return f"{self.base}/65535/{photo.id}_{photo.secret}{SUFFIX[letter]}.jpg"

    # -- what the handler asks -------------------------------------------------------------------

    def image_bytes(self, photo: FakePhoto, letter: str) -> bytes:
        key = (photo.id, letter)
        if self.library:
            return self.library[int(photo.id) % len(self.library)]
        if key not in self.image_cache:
            edge = max(8, int(EDGE[letter] * self.scale))
            self.image_cache[key] = make_image_bytes(int(photo.id), edge, max(6, edge * 3 // 4), photo.format)
        return self.image_cache[key]

    def search(self, params: dict[str, str]) -> dict:
        word = (params.get("text") or params.get("tags") or "").lower()
        licences = {int(x) for x in params["license"].split(",")} if params.get("license") else None
        lo = int(params.get("min_upload_date") or 0)
        hi = int(params.get("max_upload_date") or 2**40)
        matches = [
            p for p in self.photos.values()
            if word in p.words and (licences is None or p.license in licences) and lo <= p.dateupload <= hi
        ]
        per_page = min(500, int(params.get("per_page") or 100))
        page = int(params.get("page") or 1)
        pages = max(1, math.ceil(len(matches) / per_page))
        visible = matches[: self.cap]  # only the first `cap` results can ever be reached...
        last_servable = max(1, math.ceil(len(visible) / per_page))
        served = min(page, last_servable)  # ...and pages past them repeat the last one
        chunk = visible[(served - 1) * per_page: served * per_page]
        return {
            "photos": {
                "page": page,
                "pages": pages,
                "perpage": per_page,
                "total": str(len(matches)),
                "photo": [self._photo_json(p, params.get("extras", "")) for p in chunk],
            },
            "stat": "ok",
        }

    def _photo_json(self, photo: FakePhoto, extras: str) -> dict:
        row: dict = {
            "id": photo.id, "owner": photo.owner, "secret": photo.secret, "server": "65535", "farm": 66,
            "title": photo.title, "ispublic": 1, "isfriend": 0, "isfamily": 0,
        }
        wanted = {e.strip() for e in extras.split(",")}
        if "license" in wanted:
            row["license"] = str(photo.license) if int(photo.id) % 2 else photo.license
        if "owner_name" in wanted:
            row["ownername"] = photo.ownername
        for letter in photo.sizes:
            if f"url_{letter}" in wanted:
                width, height = EDGE[letter], EDGE[letter] * 3 // 4
                row[f"url_{letter}"] = self.photo_url(photo, letter)
                row[f"width_{letter}"] = width if int(photo.id) % 2 else str(width)
                row[f"height_{letter}"] = str(height)
        return row

    def feed(self, tags: str) -> dict:
        matches = [p for p in self.photos.values() if tags.lower() in p.words][-20:]
        return {
            "title": f"Recent Uploads tagged {tags}",
            "items": [
                {
                    "title": p.title,
                    "link": f"https://www.flickr.com/photos/{p.owner}/{p.id}/",
                    "media": {"m": self.photo_url(p, "s")},
                    "author": f'nobody@flickr.com ("{p.ownername}")',
                    "author_id": p.owner,
                    "tags": " ".join(p.words),
                }
                for p in matches
            ],
        }


class QuietHandler(BaseHTTPRequestHandler):
    """What every fake server's handler shares: keep-alive, no log lines, replies sent whole or broken off."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        """Keep test output clean."""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle's algorithm and delayed ACKs
        # stall every keep-alive reply by ~40 ms, which no real photo server does.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None,
              truncate: bool = False) -> None:
        """The reply; `truncate` announces the whole body but sends a third of it, then drops the connection."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if truncate:
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


class _Handler(QuietHandler):
    server_state: FakeFlickr

    # -- REST ------------------------------------------------------------------------------------

    def do_POST(self) -> None:
        fake = self.server_state
        length = int(self.headers.get("Content-Length") or 0)
        params = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()}
        auth = self.headers.get("Authorization", "")
        fake.rest_calls.append({"params": params, "authorization": auth})
        time.sleep(fake.latency)
        if not self.path.startswith("/services/rest"):
            return self._send(404, b"not found", "text/plain")
        fault = fake.rest_faults.pop(0) if fake.rest_faults else ""
        if self._common_fault(fault):
            return
        if fault == "code105":
            return self._json({"stat": "fail", "code": 105, "message": "Service currently unavailable"})
        if fault == "garbage":
            return self._send(200, b"<html>captive portal</html>", "text/html")
        if f'oauth_consumer_key="{fake.api_key}"' not in auth:
            return self._json({"stat": "fail", "code": 100, "message": "Invalid API Key (Key has invalid format)"})
        method = params.get("method")
        if method == "flickr.photos.search":
            return self._json(fake.search(params))
        if method == "flickr.photos.licenses.getInfo":
            rows = [{"id": i, "name": n, "url": u} for i, n, u in LICENSES]
            return self._json({"licenses": {"license": rows}, "stat": "ok"})
        return self._json({"stat": "fail", "code": 112, "message": f"Method \"{method}\" not found"})

    # -- photos, feed, placeholder ---------------------------------------------------------------

    def do_GET(self) -> None:
        fake = self.server_state
        time.sleep(fake.latency)
        path, _, query = self.path.partition("?")
        fake.photo_requests.append(path)
        if path == "/services/feeds/photos_public.gne":
            tags = urllib.parse.parse_qs(query).get("tags", [""])[0]
            return self._json(fake.feed(tags))
        if path.startswith("/images/photo_unavailable"):
            return self._send(200, make_image_bytes(0, 500, 374, "PNG"), "image/png")
        name = path.rsplit("/", 1)[-1].removesuffix(".jpg")
        photo_id, _, rest = name.partition("_")
        photo = fake.photos.get(photo_id)
        letter = next((k for k, v in SUFFIX.items() if photo and f"{photo.secret}{v}" == rest), None)
        queue = fake.photo_faults.get(photo_id)
        fault = queue.pop(0) if queue else ""
        if self._common_fault(fault):
            return
        if fault == "placeholder":
            self.send_response(302)
            self.send_header("Location", f"{fake.base}/images/photo_unavailable.png")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault == "html":
            return self._send(200, b"<html><body>oops</body></html>", "image/jpeg")
        if photo is None or letter is None or letter not in photo.sizes:
            return self._send(404, b"not found", "text/plain")
        body = fake.image_bytes(photo, letter)
        if fault == "bad-bytes":
            body = body[: len(body) // 2]
        if fault == "truncate":
            return self._send(200, body, "image/jpeg", truncate=True)
        self._send(200, body, "image/png" if photo.format == "PNG" else "image/jpeg")

    # -- plumbing --------------------------------------------------------------------------------

    def _common_fault(self, fault: str) -> bool:
        if fault.startswith("slow:"):
            time.sleep(float(fault.split(":", 1)[1]))
            return False
        if fault in ("500", "503", "404"):
            self._send(int(fault), b"error", "text/plain")
            return True
        if fault == "429":
            self.send_response(429)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        return False

    def _json(self, payload: dict) -> None:
        self._send(200, json.dumps(payload).encode(), "application/json")
