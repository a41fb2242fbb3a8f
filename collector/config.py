"""The [collect] section and one per source ([flickr], [openverse], [commons], [inaturalist]) of the
shared settings file, as frozen dataclasses with their defaults.

The file itself is read by `retrainkit.config`, the loader every stage shares; curate and train load
theirs the same way (`CurateSettings.load`, `TrainSettings.load`). config.example.toml documents each key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from retrainkit.config import load_section
from retrainkit.phash import NEAR_DISTANCE

from .errors import CollectError

FLICKR_REST_URL = "https://api.flickr.com/services/rest/"
FLICKR_FEED_URL = "https://www.flickr.com/services/feeds/photos_public.gne"
OPENVERSE_URL = "https://api.openverse.org/v1/"
COMMONS_URL = "https://commons.wikimedia.org/w/api.php"
INATURALIST_URL = "https://api.inaturalist.org/v1/"

#: Secrets come from the environment when it has them, so a key never has to be written into a file.
ENV_OVERRIDES = {"api_key": "FLICKR_API_KEY", "api_secret": "FLICKR_API_SECRET"}


@dataclass(frozen=True)
class FlickrSettings:
    api_key: str = ""
    api_secret: str = ""
    #: the REST endpoint; the tests point it at a fake Flickr on 127.0.0.1
    endpoint: str = FLICKR_REST_URL
    feed_url: str = FLICKR_FEED_URL
    #: Flickr's limit per key; shared between processes (ratelimit.SharedWindowLimiter)
    calls_per_hour: int = 3600

    @classmethod
    def load(cls, config: str | Path | None = None, **overrides: object) -> FlickrSettings:
        """Defaults, then the file (`None`: ./config.toml if present), then FLICKR_API_KEY/SECRET, then `overrides`."""
        return load_section(cls, "flickr", config, overrides, CollectError,
                            env={("flickr", key): variable for key, variable in ENV_OVERRIDES.items()})


@dataclass(frozen=True)
class OpenverseSettings:
    """Anonymous by default; a registered app (client_credentials) gets pages of 50 and deeper paging."""

    endpoint: str = OPENVERSE_URL
    client_id: str = ""
    client_secret: str = ""

    @classmethod
    def load(cls, config: str | Path | None = None, **overrides: object) -> OpenverseSettings:
        return load_section(cls, "openverse", config, overrides, CollectError,
                            env={("openverse", "client_id"): "OPENVERSE_CLIENT_ID", ("openverse", "client_secret"): "OPENVERSE_CLIENT_SECRET"})


@dataclass(frozen=True)
class CommonsSettings:
    endpoint: str = COMMONS_URL

    @classmethod
    def load(cls, config: str | Path | None = None, **overrides: object) -> CommonsSettings:
        return load_section(cls, "commons", config, overrides, CollectError)


@dataclass(frozen=True)
class INaturalistSettings:
    endpoint: str = INATURALIST_URL

    @classmethod
    def load(cls, config: str | Path | None = None, **overrides: object) -> INaturalistSettings:
        return load_section(cls, "inaturalist", config, overrides, CollectError)


@dataclass(frozen=True)
class CollectSettings:
    out: str = "dataset"
    count: int = 20
    #: where photos come from: `auto` (Flickr with a key, else openverse,commons), or names joined by commas
    source: str = "auto"
    #: an e-mail or URL for the User-Agent (Wikimedia asks every client for a way to reach its operator)
    contact: str = ""
    #: a download within this pHash distance of a kept photo is a copy (curate's near_distance; -1 turns it off)
    near_distance: int = NEAR_DISTANCE
    #: a Flickr size letter or a pixel count (collector.sizes)
    size: str = "c"
    license: str = "cc"
    sort: str = "relevance"
    tags: bool = False
    workers: int = 8
    timeout: float = 20.0
    retries: int = 5
    backoff: float = 0.5

    @classmethod
    def load(cls, config: str | Path | None = None, **overrides: object) -> CollectSettings:
        return load_section(cls, "collect", config, overrides, CollectError)


#: Flickr's result orders (`--sort`)
SORTS = (
    "relevance",
    "date-posted-desc",
    "date-posted-asc",
    "date-taken-desc",
    "date-taken-asc",
    "interestingness-desc",
    "interestingness-asc",
)


def check_positive(name: str, value: object) -> int:
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CollectError(f"--{name.replace('_', '-')} must be a whole number, got {value!r}") from None
    if number < 1 or str(value).strip().startswith("-"):
        raise CollectError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    return number


def check_sort(sort: str) -> str:
    if sort not in SORTS:
        raise CollectError(f"--sort {sort!r}: use one of {', '.join(SORTS)}")
    return sort
