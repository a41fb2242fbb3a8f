"""Where every photo came from: `photos.jsonl`, `conflicts.jsonl` and the generated `ATTRIBUTION.md`
(the files and their readers are `retrainkit.provenance`, which `curate move` uses too).

The record is written just before the file is renamed into place, so a kill in between leaves a
record without a file (harmless: ATTRIBUTION lists only files that exist), never a file without a
record.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from retrainkit.dataset_layout import ATTRIBUTION, COLLECT_DIR, CONFLICTS, COPIES, PHOTOS
from retrainkit.provenance import append_line, read_records, write_attribution

from .copies import Copy
from .download import Downloaded

__all__ = ["ATTRIBUTION", "COPIES", "CONFLICTS", "PHOTOS", "ProvenanceLog", "read_records", "record_for", "write_attribution"]


def record_for(item: Downloaded, query: str) -> dict:
    """One photo's line. Flickr's fields keep their names (`owner`, `ownername`, `license` = the
    source's licence id, `page_url` = the landing page), so lines written before there were other
    sources read the same; `source`, `creator`, `license_code`, `attribution` and the rest are added."""
    c = item.candidate
    return {
        "id": c.photo_id,
        "label": item.label,
        "file": f"{item.label}/{item.path.name}",
        "query": query,
        "source": c.source,
        "source_id": c.source_id or c.photo_id,
        "title": c.title,
        "owner": c.owner,
        "ownername": c.owner_name,
        "creator": c.owner_name or c.owner,
        "license": c.license.id,
        "license_name": c.license.name,
        "license_url": c.license.url,
        "license_code": c.license.code,
        "license_version": c.license.version,
        "attribution": c.credit,
        "page_url": c.page_url,
        "url": item.url,
        "size": item.size,
        "format": item.info.format,
        "width": item.info.width,
        "height": item.info.height,
        "bytes": item.bytes,
        "sha256": item.sha256,
        "phash": f"{item.info.phash:016x}",
        **dict(c.extra),
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }


class ProvenanceLog:
    """Appends records from any thread; one lock keeps lines whole."""

    def __init__(self, root: Path) -> None:
        self.meta = root / COLLECT_DIR
        self.meta.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def photo(self, record: dict) -> None:
        self._append(PHOTOS, record)

    def conflict(self, photo_id: str, filed_under: str, also_matched: str, query: str, copy_of: str = "") -> None:
        """A photo found for two labels: by its id, or (`copy_of`, the kept file) by its picture."""
        record = {"id": photo_id, "filed_under": filed_under, "also_matched": also_matched, "query": query}
        if copy_of:
            record["copy_of"] = copy_of
        self._append(CONFLICTS, {**record, "time": datetime.now(UTC).isoformat(timespec="seconds")})

    def copy(self, item: Downloaded, copy: Copy) -> None:
        """A download that copies a kept photo: not kept, and never fetched again."""
        c = item.candidate
        self._append(COPIES, {"id": c.photo_id, "source": c.source, "url": item.url, "label": item.label, "copy_of": copy.of,
                              "distance": copy.distance, "page_url": c.page_url, "time": datetime.now(UTC).isoformat(timespec="seconds")})

    def _append(self, name: str, record: dict) -> None:
        with self._lock:
            append_line(self.meta / name, record)
