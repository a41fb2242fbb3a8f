"""The one settings file every stage reads.

Why one loader: the commands share a TOML file (`--config PATH`, else `./config.toml`) whose
sections are named after the stages. Each stage passes the defaults of its own sections and
leaves the others alone, so one file serves every command; unknown keys in a known section are
refused so that a typo never silently falls back to a default. Environment variables override
only secrets, so keys never have to be written into a file that might be committed.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

DEFAULT_CONFIG_NAME = "config.toml"

#: Sections some command reads; any other name is a typo or a section no command reads (`[serve] port = 9000`
#: would be ignored: serve takes its options on the command line), and is refused.
STAGE_SECTIONS = frozenset({"flickr", "openverse", "commons", "inaturalist", "collect", "curate", "train"})


def load_config(path: str | Path | None, sections: dict[str, dict[str, Any]],
                env: dict[tuple[str, str], str] | None = None) -> dict[str, dict[str, Any]]:
    """Merge `sections` (the caller's defaults), the TOML file and `env` overrides into one dict.

    `path=None` reads `./config.toml` when it exists; an explicit path must exist.
    `env` maps (section, key) to an environment variable that overrides it when set.
    """
    known = {name: dict(values) for name, values in sections.items()}
    for section, values in _read_file(path).items():
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
    for (section, key), variable in (env or {}).items():
        if os.environ.get(variable):
            known[section][key] = os.environ[variable]
    return known


Settings = TypeVar("Settings")


def load_section(cls: type[Settings], section: str, config: str | Path | None, overrides: dict[str, object],
                 error: type[Exception], env: dict[tuple[str, str], str] | None = None) -> Settings:
    """A stage's settings dataclass from [section]: its field defaults, then the file, then `env` (as in
    load_config), then non-None overrides.

    Values are converted to each field's default type, so `min_side = "128"` or `--epochs 5` both work.
    """
    defaults = {f.name: f.default for f in fields(cls)}  # type: ignore[arg-type]
    values = load_config(config, {section: defaults}, env)[section]
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
