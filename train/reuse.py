"""A `train` whose inputs have not changed gives back the model it made last time, in seconds.

Why: the way people use the toolkit is train, look at the suspects, fix a few photos, train again;
and a script or a Makefile runs `train` again whether or not anything changed. The inputs are
everything the model depends on: each usable photo's path, label and content hash (curate's scan,
cached, so this costs no decode), the split, the settings, the backbone, what was asked for
(`--tflite`, suspects) and the toolkit's version. Their fingerprint is written into the model
folder as the last step of a train (`inputs.json`, with the summary it printed), so a train that was
killed or failed leaves no claim that its folder is up to date.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from retrainkit.atomic import write_atomically
from retrainkit.user_cache import toolkit_version

from .inputs import Survey

INPUTS_NAME = "inputs.json"
#: raised when what a model folder holds, or how it is made, changes in a way the fingerprint would not see
FORMAT = 1
#: what a model folder must still hold to be given back (a user may have deleted or moved parts of it)
NEEDED = ("saved_model/saved_model.pb", "metrics.json", "labels.txt", "model.json")


def fingerprint(surveyed: Survey, flags: dict[str, object]) -> str:
    """One hash of everything the model depends on; `flags` are train()'s own options (tflite, suspects...)."""
    settings = asdict(surveyed.settings)
    settings.pop("cache_dir", None)  # where the caches live changes no result
    backbone = str(surveyed.settings.backbone)
    local = Path(backbone).expanduser()
    if local.is_dir():  # a local SavedModel: its files' sizes and times stand for its content
        settings["backbone_files"] = sorted((p.relative_to(local).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                                            for p in local.rglob("*") if p.is_file())
    content = {
        "format": FORMAT,
        "version": toolkit_version(),
        "settings": settings,
        "flags": flags,
        "labels": surveyed.labels,
        "images": sorted((r.path, r.label, r.sha256, surveyed.placement[r.path]) for r in surveyed.usable),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def last_summary(target: Path, key: str) -> str | None:
    """The summary the last train printed, when `target` holds a whole model made from the same inputs."""
    try:
        recorded = json.loads((target / INPUTS_NAME).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.get("fingerprint") != key:
        return None
    if not all((target / name).is_file() for name in NEEDED):
        return None
    return str(recorded.get("summary") or "")


def forget(target: Path) -> None:
    """Before a train writes into `target`: whatever happens next, the old claim no longer holds."""
    (target / INPUTS_NAME).unlink(missing_ok=True)


def remember(target: Path, key: str, summary: str) -> None:
    write_atomically(target / INPUTS_NAME, json.dumps({"fingerprint": key, "summary": summary}, indent=1))
