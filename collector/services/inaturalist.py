"""Candidates from iNaturalist: photos of observations whose species the community confirmed
(`quality_grade=research`), so a label's photos are of what it names far more often than any
keyword search's.

A label's query resolves to one taxon (`/v1/taxa/autocomplete`: the active taxon whose name or
common name equals the query, most observations first; `taxon:ID` names one exactly). Its
observations are paged 200 at a time by id (`order_by=id`, `id_above`), which also reaches past
the API's 10,000-result window. Each photo carries its own licence, and only a photo whose own
licence passes `--license` is taken (the query's `photo_license` only means "at least one photo"),
one photo per observation (several photos of one observation are one plant, near duplicates). The
pace, at most 60 requests a minute and 10,000 a day, is shared by every process on the machine.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .. import sizes
from ..candidate import Candidate
from ..errors import LabelNotFound
from ..licenses import License, cc_url, short_name
from ..numbers import as_int
from .api import JsonApi

PER_PAGE = 200
REQUESTS_PER_MINUTE = 60
REQUESTS_PER_DAY = 10_000
#: seconds of the two pace windows (a test shortens them)
MINUTE_S = 60.0
DAY_S = 86_400.0
#: the sizes iNaturalist renders, by the name its photo URLs carry
PHOTO_SIZES = {"small": 240, "medium": 500, "large": 1024, "original": 2048}
LICENSE_CODES = {
    "cc": ("cc-by", "cc-by-nc", "cc-by-sa", "cc-by-nd", "cc-by-nc-sa", "cc-by-nc-nd", "cc0"),
    "commercial": ("cc-by", "cc-by-sa", "cc-by-nd", "cc0"),
}
_SQUARE = re.compile(r"/square\.(jpe?g|png|gif)", re.IGNORECASE)
TAXON_PREFIX = "taxon:"


@dataclass(frozen=True)
class Taxon:
    id: int
    name: str
    rank: str
    common_name: str

    def describe(self, research_grade: int) -> str:
        common = f", {self.common_name}" if self.common_name and self.common_name.lower() != self.name.lower() else ""
        return f"{self.name} ({self.rank}{common}, taxon {self.id}, {research_grade:,} research-grade observations)"


class INaturalistSearch:
    """Yields one licensed photo per research-grade observation of the label's taxon."""

    source = "inaturalist"

    def __init__(self, api: JsonApi, query: str, licence_spec: str, size: str, say: Callable[[str], None], label: str) -> None:
        self.api = api
        self.query = query
        self.licence_spec = licence_spec
        self.size_names = sizes.nearest(PHOTO_SIZES, size)[:2]
        self.say = say
        self.label = label
        self.total = 0
        self.skipped: Counter = Counter()
        self.taxon: Taxon | None = None

    def __iter__(self) -> Iterator[Candidate]:
        self.taxon = self._resolve()
        above = 0
        first = True
        while True:
            params: dict[str, object] = {"taxon_id": self.taxon.id, "quality_grade": "research", "photos": "true",
                                         "per_page": PER_PAGE, "order_by": "id", "order": "asc", "id_above": above}
            if self.licence_spec in LICENSE_CODES:
                params["photo_license"] = ",".join(LICENSE_CODES[self.licence_spec])
            payload = self._get("observations", params)
            results = [r for r in payload.get("results") or [] if isinstance(r, dict)]
            if first:
                self.total = as_int(payload.get("total_results"), 0)
                self.say(f"{self.label} -> {self.taxon.describe(self.total)}")
                first = False
            for observation in results:
                candidate = self._candidate(observation)
                if candidate is not None:
                    yield candidate
            ids = [as_int(r.get("id"), 0) for r in results]
            if len(results) < PER_PAGE or not ids or max(ids) <= above:
                return
            above = max(ids)

    def _get(self, path: str, params: dict[str, object]) -> dict:
        payload, response = self.api.get(path, params)
        if response.status_code != 200:
            raise self.api.down(f"iNaturalist refused {path} (HTTP {response.status_code}: {str(payload.get('error') or payload)[:160]})")
        return payload

    def _resolve(self) -> Taxon:
        if self.query.lower().startswith(TAXON_PREFIX):
            number = self.query[len(TAXON_PREFIX):].strip()
            found = [r for r in self._get(f"taxa/{number}", {}).get("results") or [] if isinstance(r, dict)]
            if not found:
                raise LabelNotFound(f"{self.label}: iNaturalist has no taxon {number}")
            return _taxon(found[0])
        payload = self._get("taxa/autocomplete", {"q": self.query, "is_active": "true", "per_page": 30})
        results = [r for r in payload.get("results") or [] if isinstance(r, dict) and r.get("is_active", True) is not False]
        scored = [(_match(self.query, r), as_int(r.get("observations_count"), 0), r) for r in results]
        best = max(scored, key=lambda item: item[:2], default=None)
        if best is None or best[0] == 0:
            names = ", ".join(_named(r) for r in results[:6])
            found = f"it found: {names}" if names else "it found nothing"
            raise LabelNotFound(f"{self.label}: no iNaturalist taxon is named {self.query!r} ({found}); "
                                f"write {self.label}=NAME with a scientific or common name, or {self.label}=taxon:ID")
        return _taxon(best[2])

    def _candidate(self, observation: dict) -> Candidate | None:
        for photo in observation.get("photos") or []:
            if not isinstance(photo, dict) or not photo.get("url") or not photo.get("id"):
                continue
            licence = _licence(photo.get("license_code"))
            if not licence.passes(self.licence_spec):
                self.skipped["licence"] += 1
                continue
            user = observation.get("user") or {}
            creator = str(user.get("name") or user.get("login") or "unknown")
            observation_url = str(observation.get("uri") or f"https://www.inaturalist.org/observations/{observation.get('id')}")
            taxon = observation.get("taxon") or {}
            return Candidate(
                photo_id=f"inaturalist-{as_int(photo['id'], 0)}",
                owner=str(user.get("login") or creator),
                owner_name=creator,
                title=str(taxon.get("preferred_common_name") or taxon.get("name") or (self.taxon.name if self.taxon else "")),
                license=licence,
                urls=tuple((name, _SQUARE.sub(lambda m, n=name: f"/{n}.{m.group(1)}", str(photo["url"]))) for name in self.size_names),
                source="inaturalist",
                source_id=str(photo["id"]),
                landing_url=observation_url,
                attribution=str(photo.get("attribution") or ""),
                extra=(("observation_url", observation_url), ("taxon_id", str(taxon.get("id") or (self.taxon.id if self.taxon else ""))),
                       ("taxon_name", str(taxon.get("name") or (self.taxon.name if self.taxon else "")))),
            )
        return None


def _match(query: str, row: dict) -> int:
    """How well a taxon's names match: 3 one of them is the query, 2 the query is a whole word of one
    ("sunflower" in "common sunflower"), 1 a word of one starts with it ("sunflowers"), 0 none."""
    wanted = " ".join(query.casefold().split())
    names = [" ".join(str(row.get(key) or "").casefold().split()) for key in ("name", "preferred_common_name", "matched_term")]
    if wanted in names:
        return 3
    if any(f" {wanted} " in f" {name} " for name in names):
        return 2
    return 1 if any(word.startswith(wanted) for name in names for word in name.split()) else 0


def _named(row: dict) -> str:
    common = row.get("preferred_common_name")
    return f"{row.get('name')} ({common})" if common else str(row.get("name"))


def _taxon(row: dict) -> Taxon:
    return Taxon(as_int(row.get("id"), 0), str(row.get("name") or ""), str(row.get("rank") or ""), str(row.get("preferred_common_name") or ""))


def _licence(code: object) -> License:
    """iNaturalist's `cc-by-nc` style codes; null is all rights reserved."""
    text = str(code or "").lower()
    if not text:
        return License(id="", name="all rights reserved", url="", code="all-rights-reserved")
    short = "cc0" if text == "cc0" else text.removeprefix("cc-")
    version = "1.0" if short == "cc0" else "4.0"
    return License(id=text, name=short_name(short, version), url=cc_url(short, version), code=short, version=version)
