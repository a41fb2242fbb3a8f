"""What the review page shows: per label, flagged groups first, then every other image.

Kept apart from the HTTP layer so the ordering and the "new since last review" memory can be
read and tested on their own. Reviewed images are remembered by content hash in
`.curate/reviewed.json`, so a replaced file counts as new again.
"""

from __future__ import annotations

import json
from pathlib import Path

from retrainkit.atomic import write_atomically
from retrainkit.dataset_layout import CURATE_DIR, REVIEWED, SUSPECTS

from .analysis import Analysis
from .record import ImageRecord
from .rejects import RejectList

#: Display order of flagged sections; images in none of them come last.
#: Suspects (mislabeled or off-topic photos found by `train`) lead: they are what a keyword search gets wrong most.
SECTION_ORDER = ("suspect", "conflict", "duplicates", "corrupt", "tiny", "other")


class ReviewMemory:
    """sha256 of every image a person has had on screen, across review sessions."""

    def __init__(self, root: Path) -> None:
        self.file = root / CURATE_DIR / REVIEWED
        try:
            self.seen: set[str] = set(json.loads(self.file.read_text())["reviewed"])
        except (OSError, ValueError, KeyError, TypeError):
            self.seen = set()

    def add(self, hashes: list[str]) -> None:
        before = len(self.seen)
        self.seen.update(h for h in hashes if h)
        if len(self.seen) != before:
            self.file.parent.mkdir(exist_ok=True)
            write_atomically(self.file, json.dumps({"reviewed": sorted(self.seen)}))


def page_state(analysis: Analysis, seen_before: set[str], show_all: bool) -> dict:
    """Everything the page needs in one JSON document (about 200 bytes an image)."""
    rejected = RejectList(analysis.root).entries  # read now: hand edits show on reload
    suspects = _suspects(analysis.root)
    group_of = _groups(analysis)
    labels = {}
    for record in analysis.records:
        labels.setdefault(record.label, []).append(record)
    new_paths = {r.path for r in analysis.records if r.sha256 not in seen_before}
    showing_new = bool(new_paths) and not show_all
    out_labels = []
    for label in sorted(labels):
        records = labels[label]
        images = [_image(r, group_of.get(r.path), rejected, suspects, r.path in new_paths) for r in records]
        if showing_new:
            images = [i for i in images if i["new"]]
        images.sort(key=_display_order)
        out_labels.append({
            "name": label,
            "count": len(records),
            "flagged": sum(1 for r in records if r.flags or r.path in suspects),
            "rejected": sum(1 for r in records if r.path in rejected),
            "shown": len(images),
            "images": images,
        })
    return {
        "dataset": str(analysis.root),
        "mode": "new" if showing_new else "all",
        "new": len(new_paths),
        "total": len(analysis.records),
        "labels": out_labels,
    }


def _display_order(image: dict) -> tuple:
    """Flagged sections first; in a duplicate group the kept copy leads, its copies follow."""
    section = SECTION_ORDER.index(image["section"]) if image["section"] in SECTION_ORDER else len(SECTION_ORDER)
    suspicion = -image["suspect"]["score"] if image["suspect"] else 0.0
    return section, suspicion, image["group"] or "", image["keep"] != image["path"], image["path"]


def _image(record: ImageRecord, group: dict | None, rejected: dict[str, str], suspects: dict[str, dict], new: bool) -> dict:
    suspect = suspects.get(record.path)
    return {
        "path": record.path,
        "sha256": record.sha256,
        "width": record.width,
        "height": record.height,
        "bytes": record.bytes,
        "flags": record.flags,
        "ok": record.ok,
        "section": _section(record, group, suspect),
        "group": group["id"] if group else None,
        "keep": group["keep"] if group else None,
        "rejected": record.path in rejected,
        "reason": rejected.get(record.path, ""),
        "suspect": suspect,
        "new": new,
    }


def _section(record: ImageRecord, group: dict | None, suspect: dict | None) -> str:
    """A duplicate group's members all go in its section, the kept copy too, so they sit side by side."""
    flags = set(record.flags)
    if suspect and record.ok:
        return "suspect"
    if group:
        return "conflict" if group["conflict"] else "duplicates"
    if not record.ok:
        return "corrupt"
    if "tiny" in flags:
        return "tiny"
    if flags:
        return "other"
    return "rest"


def _groups(analysis: Analysis) -> dict[str, dict]:
    """path -> its duplicate group's id and kept path, so the page can show groups side by side."""
    out = {}
    for number, group in enumerate(analysis.groups):
        for member in group.members:
            out[member.path] = {"id": f"g{number}", "keep": group.keep.path, "conflict": group.conflict}
    return out


def _suspects(root: Path) -> dict[str, dict]:
    """path -> what the page shows of a suspect; an absent or unreadable file means no suspects."""
    try:
        rows = json.loads((root / CURATE_DIR / SUSPECTS).read_text())
        return {row["path"]: {"kind": row["kind"], "score": float(row["score"]), "reason": row["reason"],
                              "looks_like": row.get("looks_like"), "imagenet": list(row.get("imagenet") or [])}
                for row in rows}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
