"""The one settings file every stage reads.

Why one loader: the three commands share a TOML file (`--config PATH`, else `./config.toml`) whose
sections are named after the stages. Unknown keys are refused so that a typo in a key never
silently falls back to a default. Environment variables override only secrets, so keys never
have to be written into a file that might be committed.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

DEFAULT_CONFIG_NAME = "config.toml"

FLICKR_REST_URL = "https://api.flickr.com/services/rest/"
FLICKR_FEED_URL = "https://www.flickr.com/services/feeds/photos_public.gne"

#: Every key the file may hold, with its default. config.example.toml documents each one.
DEFAULTS: dict[str, dict[str, Any]] = {
    "flickr": {
        "api_key": "",
        "api_secret": "",
        "endpoint": FLICKR_REST_URL,
        "feed_url": FLICKR_FEED_URL,
        "calls_per_hour": 3600,
    },
    "collect": {
        "out": "dataset",
        "count": 20,
        "size": "c",
        "license": "cc",
        "sort": "relevance",
        "tags": False,
        "workers": 8,
        "timeout": 20.0,
        "retries": 5,
        "backoff": 0.5,
    },
}

#: Sections owned by the stages. A stage validates its own sections and leaves the others alone,
#: so one file serves every command; a name outside this set is a typo.
STAGE_SECTIONS = frozenset({"flickr", "collect", "curate", "review", "train"})

ENV_OVERRIDES = {
    ("flickr", "api_key"): "FLICKR_API_KEY",
    ("flickr", "api_secret"): "FLICKR_API_SECRET",
}


def load_config(path: str | Path | None = None, sections: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Merge defaults, the TOML file and the environment into one dict of sections.

    `path=None` reads `./config.toml` when it exists; an explicit path must exist.
    `sections` lets another stage add its own section defaults to the same file.
    """
    known = {name: dict(values) for name, values in DEFAULTS.items()}
    for name, values in (sections or {}).items():
        known[name] = dict(values)
    file_values = _read_file(path)
    for section, values in file_values.items():
        if section not in known:
            if section in STAGE_SECTIONS:
                continue
            raise ConfigError(f"config: unknown section [{section}]; known sections: {', '.join(sorted(STAGE_SECTIONS))}")
        if not isinstance(values, dict):
            raise ConfigError(f"config: [{section}] must be a table")
        for key, value in values.items():
            if key not in known[section]:
                raise ConfigError(f"config: unknown key '{key}' in [{section}]; see config.example.toml")
            known[section][key] = value
    for (section, key), variable in ENV_OVERRIDES.items():
        if os.environ.get(variable):
            known[section][key] = os.environ[variable]
    return known


Settings = TypeVar("Settings")


def load_section(cls: type[Settings], section: str, config: str | Path | None, overrides: dict[str, object],
                 error: type[Exception]) -> Settings:
    """A stage's settings dataclass from [section]: its field defaults, then the file, then non-None overrides.

    Values are converted to each field's default type, so `min_side = "128"` or `--epochs 5` both work.
    """
    defaults = {f.name: f.default for f in fields(cls)}  # type: ignore[arg-type]
    values = load_config(config, sections={section: defaults})[section]
    values.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return cls(**{f.name: type(f.default)(values[f.name]) for f in fields(cls)})  # type: ignore[arg-type]
    except (TypeError, ValueError) as problem:
        raise error(f"config: bad value in [{section}]: {problem}") from None


def _read_file(path: str | Path | None) -> dict[str, Any]:
    if path is None:
        candidate = Path(DEFAULT_CONFIG_NAME)
        if not candidate.is_file():
            return {}
        path = candidate
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
