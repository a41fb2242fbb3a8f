"""The [flickr] and [collect] sections of the shared settings file, with their defaults.

The file itself is read by `retrainkit.config`, the loader every stage shares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retrainkit.config import load_config as load_sections

FLICKR_REST_URL = "https://api.flickr.com/services/rest/"
FLICKR_FEED_URL = "https://www.flickr.com/services/feeds/photos_public.gne"

#: Every key of collect's sections, with its default. config.example.toml documents each one.
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

ENV_OVERRIDES = {
    ("flickr", "api_key"): "FLICKR_API_KEY",
    ("flickr", "api_secret"): "FLICKR_API_SECRET",
}


def load_config(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """[flickr] and [collect] from the defaults, the file (`None`: ./config.toml if present) and the environment."""
    return load_sections(path, DEFAULTS, ENV_OVERRIDES)
