"""Numbers as services send them: as strings or ints depending on the field and the day (Flickr), or
null (Openverse, iNaturalist). Parsed leniently, with the caller's default for anything else."""

from __future__ import annotations


def as_int(value: object, default: int = 0) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def as_float(value: object, default: float = 0.0) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
