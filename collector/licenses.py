"""Flickr licences: the names Flickr gives them, and the `--license` presets.

Why presets are derived from `flickr.photos.licenses.getInfo` instead of a fixed id table: Flickr
added the CC 4.0 licences (ids 11-16) in 2024, and a table frozen in code would have silently
left them out of `cc`. The licence URL says what a licence is: creativecommons.org without
`-nc` allows commercial use, and the public-domain marks either point at a public-domain page
or carry no URL with a name that says so.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import CollectError

PRESETS = ("any", "cc", "commercial")
CACHE_MAX_AGE_S = 30 * 24 * 3600
_PUBLIC_DOMAIN_NAMES = ("no known copyright", "public domain", "government work")


@dataclass(frozen=True)
class License:
    id: str
    name: str
    url: str

    @property
    def is_open(self) -> bool:
        """Creative Commons or public domain: the photos a dataset may reuse with credit."""
        url = self.url.lower()
        name = self.name.lower()
        return "creativecommons.org" in url or "publicdomain" in url or any(n in name for n in _PUBLIC_DOMAIN_NAMES)

    @property
    def allows_commercial(self) -> bool:
        url = self.url.lower()
        name = self.name.lower()
        return self.is_open and "-nc" not in url and "noncommercial" not in name.replace("-", "")


UNKNOWN = License(id="", name="unknown (public feed)", url="")


def parse_licenses(payload: dict) -> dict[str, License]:
    """Read getInfo's parsed JSON; ids arrive as ints or strings, so they are normalised to str."""
    try:
        rows = payload["licenses"]["license"]
    except (KeyError, TypeError):
        raise CollectError("Flickr's licence list came back in an unexpected shape") from None
    return {str(row["id"]): License(str(row["id"]), str(row.get("name", "")), str(row.get("url") or "")) for row in rows}


def select_ids(spec: str, licenses: dict[str, License]) -> list[str]:
    """Turn `--license` (a preset or comma-separated ids) into the ids to ask Flickr for."""
    spec = spec.strip().lower()
    if spec == "any":
        return sorted(licenses, key=int)
    if spec == "cc":
        return sorted((i for i, lic in licenses.items() if lic.is_open), key=int)
    if spec == "commercial":
        return sorted((i for i, lic in licenses.items() if lic.allows_commercial), key=int)
    ids = [part.strip() for part in spec.split(",") if part.strip()]
    unknown = [i for i in ids if i not in licenses]
    if not ids or unknown:
        known = ", ".join(f"{i}={lic.name}" for i, lic in sorted(licenses.items(), key=lambda kv: int(kv[0])))
        raise CollectError(f"--license {spec!r}: use one of {', '.join(PRESETS)} or licence ids ({known})")
    return ids


def check_spec_syntax(spec: str) -> None:
    """Refuse a malformed `--license` before any network call is made."""
    spec = spec.strip().lower()
    if spec in PRESETS:
        return
    parts = [part.strip() for part in spec.split(",")]
    if not parts or not all(part.isdigit() for part in parts):
        raise CollectError(f"--license {spec!r}: use one of {', '.join(PRESETS)} or comma-separated licence ids like 4,5,9")


def load_cached(cache_file: Path) -> dict[str, License] | None:
    """Licences change once in years: a month-old copy saves one API call per run."""
    try:
        data = json.loads(cache_file.read_text())
        if time.time() - float(data["fetched_at"]) > CACHE_MAX_AGE_S:
            return None
        return {row["id"]: License(**row) for row in data["licenses"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_cache(cache_file: Path, licenses: dict[str, License]) -> None:
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    payload = {"fetched_at": time.time(), "licenses": [asdict(lic) for lic in licenses.values()]}
    tmp = cache_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(cache_file)
