"""Licences: Flickr's names for them, the short codes every source's photos are recorded with
(`by`, `by-sa`, `cc0`, `pdm`, ...), and the `--license` presets applied to any source.

Why presets are derived from `flickr.photos.licenses.getInfo` instead of a fixed id table: Flickr
added the CC 4.0 licences (ids 11-16) in 2024, and a table frozen in code would have silently
left them out of `cc`. The licence URL says what a licence is: creativecommons.org without
`-nc` allows commercial use, and the public-domain marks either point at a public-domain page
or carry no URL with a name that says so.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from retrainkit.atomic import write_atomically

from .errors import CollectError

PRESETS = ("any", "cc", "commercial")
CACHE_MAX_AGE_S = 30 * 24 * 3600
_PUBLIC_DOMAIN_NAMES = ("no known copyright", "public domain", "government work")
#: The Creative Commons licences by code; with cc0 and the public-domain marks, what `cc` keeps.
CC_CODES = frozenset({"by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd"})
PUBLIC_DOMAIN_CODES = frozenset({"cc0", "pdm", "pd", "no-known-copyright", "us-government-work"})
_CC_URL = re.compile(r"creativecommons\.org/licenses/([a-z-]+)/(\d+(?:\.\d+)?)", re.IGNORECASE)


@dataclass(frozen=True)
class License:
    id: str
    name: str
    url: str
    #: the short code (`by-sa`, `cc0`, `pdm`, `all-rights-reserved`; "" when unknown) and version (`4.0`)
    code: str = ""
    version: str = ""

    @classmethod
    def described(cls, id: str, name: str, url: str) -> License:
        """A licence known by its name and URL (Flickr's table): the code and version read from them."""
        code, version = code_of(url, name)
        return cls(id, name, url, code, version)

    @property
    def is_open(self) -> bool:
        """Creative Commons or public domain: the photos a dataset may reuse with credit."""
        if self.code:
            return self.code in CC_CODES or self.code in PUBLIC_DOMAIN_CODES
        url = self.url.lower()
        name = self.name.lower()
        return "creativecommons.org" in url or "publicdomain" in url or any(n in name for n in _PUBLIC_DOMAIN_NAMES)

    @property
    def allows_commercial(self) -> bool:
        if self.code:
            return self.is_open and "nc" not in self.code.split("-")
        url = self.url.lower()
        name = self.name.lower()
        return self.is_open and "-nc" not in url and "noncommercial" not in name.replace("-", "")


    def passes(self, spec: str) -> bool:
        """Whether a photo under this licence may be kept under the preset `spec` (any, cc, commercial)."""
        if spec == "any":
            return True
        return self.allows_commercial if spec == "commercial" else self.is_open


UNKNOWN = License(id="", name="unknown (public feed)", url="")


def code_of(url: str, name: str = "") -> tuple[str, str]:
    """(code, version) of a licence given by its URL, else by its name; ("", "") when neither says."""
    found = _CC_URL.search(url or "")
    if found:
        return found.group(1).lower(), found.group(2)
    lowered, low_name = (url or "").lower(), name.lower()
    if "publicdomain/zero" in lowered or "cc0" in low_name:
        return "cc0", "1.0"
    if "publicdomain/mark" in lowered or "public domain mark" in low_name:
        return "pdm", "1.0"
    if "no known copyright" in low_name:
        return "no-known-copyright", ""
    if "government work" in low_name:
        return "us-government-work", ""
    if "all rights reserved" in low_name:
        return "all-rights-reserved", ""
    if "public domain" in low_name:
        return "pd", ""
    return "", ""


def cc_url(code: str, version: str) -> str:
    """The deed of a Creative Commons code, for sources that give the code alone."""
    if code == "cc0":
        return "https://creativecommons.org/publicdomain/zero/1.0/"
    if code == "pdm":
        return "https://creativecommons.org/publicdomain/mark/1.0/"
    if code in CC_CODES:
        return f"https://creativecommons.org/licenses/{code}/{version or '4.0'}/"
    return ""


def short_name(code: str, version: str) -> str:
    """`CC BY-SA 4.0`, `CC0 1.0`, `Public Domain Mark 1.0`: the name a credit line gives."""
    if code in CC_CODES:
        return f"CC {code.upper()} {version}".strip()
    return {"cc0": "CC0 1.0", "pdm": "Public Domain Mark 1.0", "pd": "public domain",
            "all-rights-reserved": "all rights reserved"}.get(code, code or "unknown licence")


def is_flickr_ids(spec: str) -> bool:
    """`--license 4,9,10`: Flickr's own licence ids, which only Flickr understands."""
    return spec.strip().lower() not in PRESETS


def parse_licenses(payload: dict) -> dict[str, License]:
    """Read getInfo's parsed JSON; ids arrive as ints or strings, so they are normalised to str."""
    try:
        rows = payload["licenses"]["license"]
    except (KeyError, TypeError):
        raise CollectError("Flickr's licence list came back in an unexpected shape") from None
    return {str(row["id"]): License.described(str(row["id"]), str(row.get("name", "")), str(row.get("url") or "")) for row in rows}


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
        return {row["id"]: License.described(row["id"], row["name"], row["url"]) for row in data["licenses"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_cache(cache_file: Path, licenses: dict[str, License]) -> None:
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    payload = {"fetched_at": time.time(), "licenses": [asdict(lic) for lic in licenses.values()]}
    write_atomically(cache_file, json.dumps(payload, indent=1))
