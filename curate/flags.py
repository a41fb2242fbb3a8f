"""Turn scan records and duplicate groups into the flags a person reviews.

Flags are words, grouped into the kinds `curate apply --what` chooses from:
corrupt (empty, not-an-image, corrupt, unreadable, bomb), placeholder, tiny, aspect,
duplicates (duplicate, near-duplicate), conflicts (conflict), and the quality hints
uniform, dark, bright, grayscale, which are shown but never moved by default. `error` marks a
file our own code failed on (a bug, logged with its name): it is never a reason to move a file.
"""

from __future__ import annotations

from .duplicates import DuplicateGroup
from .record import ImageRecord
from .settings import CurateSettings

KINDS: dict[str, tuple[str, ...]] = {
    "corrupt": ("empty", "not-an-image", "corrupt", "unreadable", "bomb"),
    "placeholder": ("placeholder",),
    "tiny": ("tiny",),
    "aspect": ("aspect",),
    "duplicates": ("duplicate", "near-duplicate"),
    "conflicts": ("conflict",),
    "uniform": ("uniform",),
    "dark": ("dark",),
    "bright": ("bright",),
    "grayscale": ("grayscale",),
    "error": ("error",),
}
DEFAULT_APPLY = ("corrupt", "placeholder", "duplicates", "conflicts", "tiny")

#: Sizes of Flickr's "photo unavailable" image (deleted photos redirect to it), per size suffix.
PLACEHOLDER_SIZES = {(500, 374), (500, 375), (240, 180), (240, 179), (100, 75), (75, 75), (150, 150), (320, 240), (640, 480), (1024, 768)}


def apply_flags(records: list[ImageRecord], groups: list[DuplicateGroup], settings: CurateSettings) -> None:
    for record in records:
        record.flags = _own_flags(record, settings)
    for group in groups:
        for other in group.others:
            other.flags.append("duplicate" if other.path in group.identical else "near-duplicate")
        if group.conflict:
            for member in group.members:
                member.flags.append("conflict")


#: Kinds `curate apply --what` may move; an `error` is our bug, not a verdict on the file.
MOVABLE = tuple(kind for kind in KINDS if kind != "error")


def kind_of(flag: str) -> str:
    return next(kind for kind, flags in KINDS.items() if flag in flags)


def _own_flags(record: ImageRecord, settings: CurateSettings) -> list[str]:
    if not record.ok:
        return [record.problem]
    flags = []
    if _looks_like_placeholder(record):
        flags.append("placeholder")
    short, long = sorted((record.width, record.height))
    if short < settings.min_side:
        flags.append("tiny")
    if long / max(short, 1) > settings.max_aspect:
        flags.append("aspect")
    if record.contrast < settings.uniform_below:
        flags.append("uniform")
    if record.brightness < settings.dark_below:
        flags.append("dark")
    elif record.brightness > settings.bright_above:
        flags.append("bright")
    if record.grayscale:
        flags.append("grayscale")
    return flags


def _looks_like_placeholder(record: ImageRecord) -> bool:
    """Flickr's placeholder is a flat GIF/PNG graphic at one of its standard sizes; photos are neither."""
    return record.format in ("GIF", "PNG") and record.few_colors and (record.width, record.height) in PLACEHOLDER_SIZES
