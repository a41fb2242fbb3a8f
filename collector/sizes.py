"""Flickr's size ladder and the choice of which URL to download.

Why a ladder walk: a search result carries `url_<x>` only for the sizes that exist for that
photo (`url_o` is often hidden, small old photos have no `url_c`). We want the size nearest the
one asked for, so 800 px (`c`) falls back to 640 (`z`), then 1024 (`l`), then further out.
"""

from __future__ import annotations

import math
import re

from .errors import CollectError
from .numbers import as_int

#: extras letter -> nominal longest edge in pixels ('o' is the original, of unknown size).
LADDER: dict[str, int] = {
    "s": 240,
    "n": 320,
    "w": 400,
    "m": 500,
    "z": 640,
    "c": 800,
    "l": 1024,
    "h": 1600,
    "k": 2048,
    "o": 100_000,
}

EXTRAS = ",".join(f"url_{letter}" for letter in LADDER)


def parse_size(value: str | int) -> str:
    """Accept a ladder letter (`c`) or a pixel count (`800`) and return the ladder letter."""
    text = str(value).strip().lower()
    if text in LADDER:
        return text
    if text.isdigit() and int(text) > 0:
        pixels = int(text)
        return min((letter for letter in LADDER if letter != "o"), key=lambda letter: abs(math.log(LADDER[letter] / pixels)))
    letters = ", ".join(f"{k} ({v} px)" for k, v in LADDER.items() if k != "o")
    raise CollectError(f"--size {value!r}: use a pixel count or one of {letters}, o (original)")


def preference(target: str) -> list[str]:
    """Ladder letters, nearest to `target` first (by ratio, so 640 and 1024 are both 'one step' from 800)."""
    wanted = LADDER[target]
    return sorted(LADDER, key=lambda letter: (abs(math.log(LADDER[letter] / wanted)), LADDER[letter]))


def choose(photo: dict, target: str) -> tuple[str, str, int, int] | None:
    """The best (letter, url, width, height) a search result offers, or None when it has no URL at all."""
    for letter in preference(target):
        url = photo.get(f"url_{letter}")
        if url:
            return letter, url, as_int(photo.get(f"width_{letter}")), as_int(photo.get(f"height_{letter}"))
    return None



#: ladder letter -> file-name suffix, for the sizes that share a static Flickr file's secret.
_FLICKR_SUFFIXES = {"n": "n", "w": "w", "z": "z", "c": "c", "l": "b"}
_FLICKR_SIZED = re.compile(r"_([a-z])\.(jpg|png|gif)$")
_SUFFIX_LETTER = {"m": "s", "n": "n", "w": "w", "z": "z", "c": "c", "b": "l"}


def flickr_variants(url: str, size: str, keep: int = 2) -> tuple[tuple[str, str], ...]:
    """A static Flickr file (`<id>_<secret>_m.jpg`) at the `keep` ladder sizes nearest `size`, then as given.

    Flickr serves the same name with another suffix for the sizes that share the file's secret; the
    public feed links the 240 px `_m` file and Openverse the 1024 px `_b` one.
    """
    found = _FLICKR_SIZED.search(url)
    if not found:
        return (("original", url),)
    given = _SUFFIX_LETTER.get(found.group(1), found.group(1))
    variants = []
    for letter in preference(size):
        if letter in _FLICKR_SUFFIXES and len(variants) < keep:
            suffix = _FLICKR_SUFFIXES[letter]
            variants.append((letter, _FLICKR_SIZED.sub(lambda m, s=suffix: f"_{s}.{m.group(2)}", url)))
    if all(sized != url for _, sized in variants):
        variants.append((given, url))
    return tuple(variants)


def nearest(widths: dict[str, int], size: str) -> list[str]:
    """The names of a source's fixed sizes (`{"medium": 500, "large": 1024}`), nearest the ladder size first."""
    wanted = LADDER[size]
    return sorted(widths, key=lambda name: (abs(math.log(widths[name] / wanted)), widths[name]))
