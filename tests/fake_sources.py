"""Fakes of the key-less sources on 127.0.0.1, each its own server (its own host, as in life), each
speaking its service's documented JSON and keeping its rules, so a test can see a rule broken:

- `FakeOpenverse`: `/v1/images/` (pages of at most 20 and no result past the 240th without a
  token; a token from `/v1/auth_tokens/token/` allows pages of 50 and deeper), Flickr photos
  among its results (provider `flickr`, linking the fake Flickr's files).
- `FakeCommons`: `/w/api.php` with `generator=search` + `prop=imageinfo` in formatversion 2 (pages
  out of search order, a `continue` object, at most 50 scaled URLs a request, standard widths only),
  `maxlag` errors as HTTP 200 with Retry-After; it notes requests that overlap.
- `FakeINaturalist`: `/v1/taxa/autocomplete`, `/v1/taxa/ID`, `/v1/observations` (200 a page,
  `id_above`), photos with their own `license_code` (null = all rights reserved).

Faults, queued per API request (`api_faults`) or per picture (`picture_faults`): `503`, `500`,
`429` (Retry-After: 1), `html`, `garbage` (a broken JSON body), `maxlag` (Commons), and for
pictures `404`, `429`, `truncate`, `not-image`; `down = True` makes every API request a 503.
"""

from __future__ import annotations

import json
import math
import threading
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer

from tests.fake_flickr import FakeFlickr, FakePhoto, QuietHandler, make_image_bytes

STANDARD_WIDTHS = (20, 40, 60, 120, 250, 330, 500, 960, 1280, 1920, 3840)


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False


def json_reply(payload: object, status: int = 200, **headers: str) -> Reply:
    return Reply(status, json.dumps(payload).encode(), "application/json", dict(headers))


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]
    at: float


class FakeService:
    """A threaded server, a request log, the faults, and picture serving (`/img/<seed>/<edge>.jpg`)."""

    api_prefix = "/"

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.api_faults: list[str] = []
        self.picture_faults: dict[int, list[str]] = defaultdict(list)
        self.picture_requests: list[str] = []
        self.violations: list[str] = []
        self.down = False
        self.latency = 0.0
        self.scale = 0.1
        self.in_flight = 0
        self.most_at_once = 0
        #: real photo files to serve instead of generated pictures (the benchmark's), by seed
        self.library: list[bytes] = []
        self._lock = threading.Lock()

    # -- server ---------------------------------------------------------------------------------

    def start(self):
        service = self

        class Handler(_Handler):
            fake = service

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.startswith(self.api_prefix)]

    def picture_url(self, seed: int, edge: int) -> str:
        return f"{self.base}/img/{seed}/{edge}.jpg"

    # -- what the handler asks -------------------------------------------------------------------

    def answer(self, request: Request) -> Reply:
        if request.path.startswith("/img/"):
            _, _, seed, name = request.path.split("/")
            return self.picture(int(seed), int(name.split(".")[0]))
        if self.down:
            return Reply(503, b"<html>down for maintenance</html>", "text/html")
        fault = self.api_faults.pop(0) if self.api_faults else ""
        if fault in ("500", "503"):
            return Reply(int(fault), b"error", "text/plain")
        if fault == "429":
            return Reply(429, b"", "text/plain", {"Retry-After": "1"})
        if fault == "html":
            return Reply(200, b"<html><body>captive portal</body></html>", "text/html")
        if fault == "garbage":
            return Reply(200, b'{"results": [', "application/json")
        return self.api(request, fault)

    def api(self, request: Request, fault: str) -> Reply:
        """Each fake answers its own service's API; the base knows none."""
        return json_reply({"error": "no API here"}, 404)

    def picture(self, seed: int, edge: int) -> Reply:
        self.picture_requests.append(f"{seed}/{edge}")
        queue = self.picture_faults.get(seed)
        fault = queue.pop(0) if queue else ""
        if fault in ("404", "500", "503"):
            return Reply(int(fault), b"error", "text/plain")
        if fault == "429":
            return Reply(429, b"", "text/plain", {"Retry-After": "1"})
        if fault == "not-image":
            return Reply(200, b"<html>not a picture</html>", "image/jpeg")
        scaled = max(8, int(edge * self.scale))
        body = self.library[seed % len(self.library)] if self.library else make_image_bytes(seed, scaled, max(6, scaled * 3 // 4))
        return Reply(200, body, "image/jpeg", truncate=fault == "truncate")


class _Handler(QuietHandler):
    fake: FakeService

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        fake = self.fake
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()} if length else {}
        request = Request(method, path, {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}, dict(self.headers), form, time.monotonic())
        with fake._lock:
            fake.requests.append(request)
            if path.startswith(fake.api_prefix):
                fake.in_flight += 1
                fake.most_at_once = max(fake.most_at_once, fake.in_flight)
        try:
            time.sleep(fake.latency)
            reply = fake.answer(request)
        finally:
            if path.startswith(fake.api_prefix):
                with fake._lock:
                    fake.in_flight -= 1
        self._send(reply.status, reply.body, reply.content_type, reply.headers, reply.truncate)


# -- Openverse -----------------------------------------------------------------------------------

OPENVERSE_LICENCES = {"by": "4.0", "by-sa": "4.0", "by-nc": "2.0", "cc0": "1.0", "pdm": "1.0", "by-nd": "3.0"}


@dataclass
class OpenverseImage:
    id: str
    words: tuple[str, ...]
    seed: int
    license: str = "by"
    provider: str = "wikimedia"
    creator: str = "Mary Anning"
    flickr: FakePhoto | None = None


class FakeOpenverse(FakeService):
    api_prefix = "/v1/"
    ANONYMOUS_PAGE_SIZE = 20
    ANONYMOUS_CAP = 240
    REGISTERED_PAGE_SIZE = 500
    CLIENT_ID, CLIENT_SECRET = "ov-client", "ov-secret"

    def __init__(self, flickr: FakeFlickr | None = None) -> None:
        super().__init__()
        self.images: list[OpenverseImage] = []
        self.flickr = flickr
        self.tokens: dict[str, float] = {}
        self.token_lifetime = 36000

    @property
    def endpoint(self) -> str:
        return f"{self.base}/v1/"

    def add(self, words: str | tuple[str, ...], n: int, **fields) -> list[OpenverseImage]:
        words = (words,) if isinstance(words, str) else tuple(words)
        made = []
        for _ in range(n):
            number = len(self.images) + 1
            image = OpenverseImage(id=f"00000000-0000-4000-8000-{number:012d}", words=words, seed=70_000_000 + number, **fields)
            self.images.append(image)
            made.append(image)
        return made

    def add_flickr_photo(self, words: str, photo: FakePhoto) -> OpenverseImage:
        """Openverse's record of a photo it indexed from (the fake) Flickr."""
        image = self.add(words, 1, provider="flickr", creator=photo.ownername, flickr=photo)[0]
        return image

    def api(self, request: Request, fault: str) -> Reply:
        if request.path == "/v1/auth_tokens/token/" and request.method == "POST":
            form = request.form
            given = (form.get("grant_type"), form.get("client_id"), form.get("client_secret"))
            if given != ("client_credentials", self.CLIENT_ID, self.CLIENT_SECRET):
                return json_reply({"error": "invalid_client"}, 401)
            token = f"token-{len(self.tokens) + 1}"
            self.tokens[token] = time.time() + self.token_lifetime
            return json_reply({"access_token": token, "scope": "read write groups", "expires_in": self.token_lifetime, "token_type": "Bearer"})
        if request.path != "/v1/images/":
            return json_reply({"detail": "Not found."}, 404)
        auth = request.headers.get("Authorization", "")
        registered = auth.startswith("Bearer ") and self.tokens.get(auth.split(" ", 1)[1], 0) > time.time()
        page_size = int(request.params.get("page_size") or 20)
        page = int(request.params.get("page") or 1)
        if page_size > (self.REGISTERED_PAGE_SIZE if registered else self.ANONYMOUS_PAGE_SIZE):
            self.violations.append(f"page_size {page_size} {'registered' if registered else 'anonymous'}")
            return json_reply({"detail": "Authentication credentials were not provided."}, 401)
        cap = 10_000 if registered else self.ANONYMOUS_CAP
        if page * page_size > cap:
            self.violations.append(f"page {page} of {page_size} past the cap of {cap}")
            return json_reply({"detail": f"Deep pagination is not allowed past {cap} results."}, 401 if not registered else 400)
        word = request.params.get("q", "").lower()
        matches = [i for i in self.images if word in i.words]
        if request.params.get("license_type") == "commercial":
            matches = [i for i in matches if "nc" not in i.license.split("-")]
        reachable = matches[:cap]
        chunk = reachable[(page - 1) * page_size: page * page_size]
        return json_reply({
            "result_count": len(matches),
            "page_count": max(1, math.ceil(len(reachable) / page_size)),
            "page_size": page_size,
            "page": page,
            "results": [self._result(i) for i in chunk],
        })

    def _result(self, image: OpenverseImage) -> dict:
        version = OPENVERSE_LICENCES.get(image.license, "")
        deed = ("https://creativecommons.org/publicdomain/zero/1.0/" if image.license == "cc0" else
                "https://creativecommons.org/publicdomain/mark/1.0/" if image.license == "pdm" else
                f"https://creativecommons.org/licenses/{image.license}/{version}/" if image.license else None)
        if image.flickr is not None:
            photo = image.flickr
            url = self.flickr.photo_url(photo, "l")
            landing = f"https://www.flickr.com/photos/{photo.owner}/{photo.id}"
        else:
            url = self.picture_url(image.seed, 1024)
            landing = f"https://commons.wikimedia.org/w/index.php?curid={image.seed}"
        return {
            "id": image.id, "title": f"{image.words[0]} photo", "indexed_on": "2024-05-01T00:00:00Z",
            "foreign_landing_url": landing, "url": url, "creator": image.creator,
            "creator_url": "https://example.org/creator", "license": image.license, "license_version": version,
            "license_url": deed, "provider": image.provider, "source": image.provider, "category": "photograph",
            "filesize": None, "filetype": "jpg", "tags": [{"name": w} for w in image.words],
            "attribution": f'"{image.words[0]} photo" by {image.creator} is licensed under CC {image.license.upper()} {version}.',
            "fields_matched": ["title"], "mature": False, "height": 768, "width": 1024,
            "thumbnail": f"{self.base}/img/{image.seed}/600.jpg", "detail_url": f"{self.endpoint}images/{image.id}/",
            "related_url": f"{self.endpoint}images/{image.id}/related/",
        }


# -- Wikimedia Commons ---------------------------------------------------------------------------

@dataclass
class CommonsFile:
    pageid: int
    words: tuple[str, ...]
    seed: int
    licence: str = "cc-by-sa-4.0"
    artist: str = '<a href="//commons.wikimedia.org/wiki/User:Ansel">Ansel</a>'
    mime: str = "image/jpeg"
    width: int = 3000


class FakeCommons(FakeService):
    api_prefix = "/w/api.php"
    PAGE_LIMIT = 50

    def __init__(self) -> None:
        super().__init__()
        self.files: list[CommonsFile] = []

    @property
    def endpoint(self) -> str:
        return f"{self.base}/w/api.php"

    def add(self, words: str | tuple[str, ...], n: int, **fields) -> list[CommonsFile]:
        words = (words,) if isinstance(words, str) else tuple(words)
        made = []
        for _ in range(n):
            number = len(self.files) + 1
            made.append(CommonsFile(pageid=900_000 + number, words=words, seed=fields.pop("seed", 80_000_000 + number), **fields))
            self.files.append(made[-1])
        return made

    def api(self, request: Request, fault: str) -> Reply:
        params = request.params
        if params.get("maxlag") != "5":
            self.violations.append("request without maxlag=5")
        if "retrainkit" not in request.headers.get("User-Agent", ""):
            self.violations.append(f"User-Agent {request.headers.get('User-Agent')!r}")
        if fault == "maxlag":
            return json_reply({"error": {"code": "maxlag", "info": "Waiting for 10.64.48.1: 7 seconds lagged.", "host": "10.64.48.1",
                                         "lag": 7, "type": "db"}, "servedby": "mw-api-ext"}, 200, **{"Retry-After": "1", "X-Database-Lag": "7"})
        if params.get("action") != "query" or params.get("generator") != "search":
            return json_reply({"error": {"code": "badvalue", "info": "Unrecognized value for parameter \"action\"."}})
        limit = int(params.get("gsrlimit") or 10)
        if limit > self.PAGE_LIMIT:
            self.violations.append(f"gsrlimit {limit}")
        width = int(params["iiurlwidth"]) if params.get("iiurlwidth") else None
        if width is not None and width not in STANDARD_WIDTHS:
            self.violations.append(f"iiurlwidth {width}")
        words = [w for w in params.get("gsrsearch", "").lower().split() if not w.startswith("filetype:")]
        matches = [f for f in self.files if all(w in f.words for w in words)]
        offset = int(params.get("gsroffset") or 0)
        chunk = matches[offset: offset + limit]
        pages = [self._page(f, offset + i + 1, width) for i, f in enumerate(chunk)]
        pages.reverse()  # formatversion 2 lists pages by id, not by rank: `index` gives the order
        payload: dict = {"batchcomplete": True, "query": {"pages": pages}}
        if offset + limit < len(matches):
            payload["continue"] = {"gsroffset": offset + limit, "continue": "gsroffset||"}
        return json_reply(payload)

    def _page(self, f: CommonsFile, index: int, width: int | None) -> dict:
        original = self.picture_url(f.seed, f.width)
        info = {"size": 2_000_000, "width": f.width, "height": f.width * 3 // 4, "url": original,
                "descriptionurl": f"https://commons.wikimedia.org/wiki/File:Photo_{f.pageid}.jpg",
                "descriptionshorturl": f"https://commons.wikimedia.org/w/index.php?curid={f.pageid}", "mime": f.mime,
                "extmetadata": self._metadata(f)}
        if width is not None:
            thumb = min(width, f.width)
            info.update(thumburl=self.picture_url(f.seed, thumb), thumbwidth=thumb, thumbheight=thumb * 3 // 4)
        return {"pageid": f.pageid, "ns": 6, "title": f"File:Photo {f.pageid}.jpg", "index": index, "imagerepository": "local",
                "imageinfo": [info]}

    def _metadata(self, f: CommonsFile) -> dict:
        if not f.licence:
            return {"ObjectName": {"value": f"Photo {f.pageid}", "source": "commons-desc-page"}}
        short = {"cc-by-sa-4.0": ("CC BY-SA 4.0", "https://creativecommons.org/licenses/by-sa/4.0"),
                 "cc-by-4.0": ("CC BY 4.0", "https://creativecommons.org/licenses/by/4.0"),
                 "cc0": ("CC0", "http://creativecommons.org/publicdomain/zero/1.0/deed.en"),
                 "pd": ("Public domain", ""), "gfdl": ("GFDL", "")}[f.licence]
        meta = {"LicenseShortName": short[0], "License": f.licence, "Artist": f.artist, "AttributionRequired": "true",
                "ObjectName": f"Photo {f.pageid}", "UsageTerms": short[0]}
        if short[1]:
            meta["LicenseUrl"] = short[1]
        return {key: {"value": value, "source": "commons-desc-page"} for key, value in meta.items()}


# -- iNaturalist ---------------------------------------------------------------------------------

@dataclass
class FakeTaxon:
    id: int
    name: str
    common: str
    rank: str = "species"
    observations_count: int = 1000


@dataclass
class FakeObservation:
    id: int
    taxon: FakeTaxon
    photos: list[tuple[int, str | None, int]]  # (photo id, license_code, seed)
    quality: str = "research"


class FakeINaturalist(FakeService):
    api_prefix = "/v1/"
    PER_PAGE = 200

    def __init__(self) -> None:
        super().__init__()
        self.taxa: dict[int, FakeTaxon] = {}
        self.observations: list[FakeObservation] = []

    @property
    def endpoint(self) -> str:
        return f"{self.base}/v1/"

    def add_taxon(self, taxon_id: int, name: str, common: str, **fields) -> FakeTaxon:
        self.taxa[taxon_id] = FakeTaxon(taxon_id, name, common, **fields)
        return self.taxa[taxon_id]

    def add(self, taxon: FakeTaxon, n: int, licences: tuple[str | None, ...] = ("cc-by",), quality: str = "research") -> list[FakeObservation]:
        made = []
        for _ in range(n):
            number = len(self.observations) + 1
            first = sum(len(o.photos) for o in self.observations)  # consecutive seeds: distinct pictures
            photos = [(5_000_000 + number * 10 + k, code, 60_000_000 + first + k) for k, code in enumerate(licences)]
            made.append(FakeObservation(1000 + number * 3, taxon, photos, quality))
            self.observations.append(made[-1])
        return made

    def answer(self, request: Request) -> Reply:
        if request.path.startswith("/photos/"):
            _, _, photo_id, name = request.path.split("/")
            seed = next(s for o in self.observations for p, _, s in o.photos if p == int(photo_id))
            edge = {"small": 240, "medium": 500, "large": 1024, "original": 2048}[name.split(".")[0]]
            return self.picture(seed, edge)
        return super().answer(request)

    def api(self, request: Request, fault: str) -> Reply:
        path, params = request.path, request.params
        if path == "/v1/taxa/autocomplete":
            q = params.get("q", "").lower()
            def matched(taxon: FakeTaxon) -> str:  # like iNaturalist: a word of a name starts with the query
                return next((n for n in (taxon.common, taxon.name) if n.lower().startswith(q) or any(w.startswith(q) for w in n.lower().split())), "")

            found = sorted((t for t in self.taxa.values() if matched(t)), key=lambda t: -t.observations_count)
            return json_reply({"total_results": len(found), "page": 1, "per_page": len(found),
                               "results": [self._taxon(t, matched=matched(t)) for t in found]})
        if path.startswith("/v1/taxa/"):
            taxon = self.taxa.get(int(path.rsplit("/", 1)[1]))
            return json_reply({"total_results": int(taxon is not None), "page": 1, "per_page": 1, "results": [self._taxon(taxon)] if taxon else []})
        if path == "/v1/observations":
            per_page = int(params.get("per_page") or 30)
            if per_page > self.PER_PAGE:
                self.violations.append(f"per_page {per_page}")
            taxon_id = int(params.get("taxon_id") or 0)
            above = int(params.get("id_above") or 0)
            licences = set(params["photo_license"].split(",")) if params.get("photo_license") else None
            matches = [o for o in self.observations if o.taxon.id == taxon_id and o.id > above
                       and (params.get("quality_grade") is None or o.quality == params["quality_grade"])
                       and (licences is None or any(code in licences for _, code, _ in o.photos))]
            chunk = matches[:per_page]
            return json_reply({"total_results": len(matches), "page": 1, "per_page": per_page,
                               "results": [self._observation(o) for o in chunk]})
        return json_reply({"error": "Not found", "status": 404}, 404)

    def _taxon(self, taxon: FakeTaxon, matched: str = "") -> dict:
        return {"id": taxon.id, "name": taxon.name, "rank": taxon.rank, "preferred_common_name": taxon.common,
                "matched_term": matched or taxon.name, "observations_count": taxon.observations_count, "is_active": True,
                "iconic_taxon_name": "Plantae"}

    def _observation(self, o: FakeObservation) -> dict:
        return {
            "id": o.id, "uri": f"https://www.inaturalist.org/observations/{o.id}", "quality_grade": o.quality,
            "taxon": {"id": o.taxon.id, "name": o.taxon.name, "rank": o.taxon.rank, "preferred_common_name": o.taxon.common},
            "user": {"id": 7, "login": "botanist", "name": "Jane Botanist"},
            "photos": [{"id": pid, "license_code": code,
                        "attribution": f"(c) Jane Botanist, {'some rights reserved (' + code.upper() + ')' if code else 'all rights reserved'}",
                        "url": f"{self.base}/photos/{pid}/square.jpg", "original_dimensions": {"width": 2048, "height": 1536}}
                       for pid, code, _ in o.photos],
        }
