"""The [curate] section of the shared settings file, with its defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from retrainkit.config import load_section
from retrainkit.phash import NEAR_DISTANCE

from .errors import CurateError


@dataclass(frozen=True)
class CurateSettings:
    #: shorter side below this many pixels is "tiny"
    min_side: int = 128
    #: longer side / shorter side above this is an extreme aspect ratio
    max_aspect: float = 3.0
    #: pHash Hamming distance at or below which two images are near-duplicates (-1 turns it off);
    #: the same rule `collect` applies to new downloads (retrainkit.phash.NEAR_DISTANCE)
    near_distance: int = NEAR_DISTANCE
    #: mean brightness (0-255) below which an image is "dark", above which "bright"
    dark_below: float = 20.0
    bright_above: float = 235.0
    #: brightness standard deviation below which an image is near-uniform
    uniform_below: float = 6.0
    #: processes for decoding; 0 means one per core
    workers: int = 0

    @classmethod
    def load(cls, config: str | Path | None = None, **overrides: object) -> CurateSettings:
        return load_section(cls, "curate", config, overrides, CurateError)

