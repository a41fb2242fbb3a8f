"""The review report: a table for the terminal, `report.json` for programs (and the review page),
and a self-contained `report.html` with thumbnails of every flagged group side by side.

The HTML embeds its thumbnails as data URIs, so it can be mailed or opened from anywhere.
"""

from __future__ import annotations

import base64
import html
import json
from datetime import UTC, datetime
from pathlib import Path

from retrainkit.atomic import write_atomically
from retrainkit.dataset_layout import CURATE_DIR, REPORT_HTML, REPORT_JSON
from retrainkit.pixels import thumbnail_jpeg

from .analysis import TABLE_COLUMNS, Analysis
from .duplicates import DuplicateGroup
from .record import ImageRecord

THUMB_PX = 160
#: Past this many thumbnails the HTML lists file names only, so it stays openable.
MAX_THUMBS = 3000
FLAG_SECTIONS = (
    ("Corrupt or unreadable", ("empty", "not-an-image", "corrupt", "unreadable", "bomb")),
    ("Flickr placeholders", ("placeholder",)),
    ("Tiny", ("tiny",)),
    ("Extreme aspect ratio", ("aspect",)),
    ("Near-uniform, dark, bright or grayscale", ("uniform", "dark", "bright", "grayscale")),
)


def table(analysis: Analysis) -> str:
    counts = analysis.label_counts()
    header = ("label", *TABLE_COLUMNS)
    rows = [header] + [(label, *(str(counts[label][c]) for c in TABLE_COLUMNS)) for label in sorted(counts)]
    totals = ("total", *(str(sum(counts[label][c] for label in counts)) for c in TABLE_COLUMNS))
    rows.append(totals)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, lines[1])
    return "\n".join(lines)


def top_groups(analysis: Analysis, limit: int = 10) -> str:
    lines = []
    for group in analysis.groups[:limit]:
        what = "label conflict" if group.conflict else f"{group.kind} duplicates"
        others = ", ".join(o.path for o in group.others)
        lines.append(f"{what} (distance {group.distance}): keep {group.keep.path} [{group.keep.width}x{group.keep.height}]; {others}")
    if len(analysis.groups) > limit:
        lines.append(f"... and {len(analysis.groups) - limit} more groups in the report")
    return "\n".join(lines)


def report_data(analysis: Analysis) -> dict:
    return {
        "dataset": str(analysis.root),
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": analysis.settings.__dict__,
        "labels": {label: dict(counts) for label, counts in sorted(analysis.label_counts().items())},
        "groups": [_group_data(g) for g in analysis.groups],
        "flagged": [_record_data(r) for r in analysis.records if r.flags],
        "rejected": analysis.rejected,
        "images": len(analysis.records),
    }


def write_reports(analysis: Analysis) -> tuple[Path, Path]:
    folder = analysis.root / CURATE_DIR
    folder.mkdir(exist_ok=True)
    data = report_data(analysis)
    json_path = folder / REPORT_JSON
    _write(json_path, json.dumps(data, indent=1))
    html_path = folder / REPORT_HTML
    _write(html_path, _html(analysis, data))
    return json_path, html_path


def _record_data(record: ImageRecord) -> dict:
    return {
        "path": record.path, "label": record.label, "width": record.width, "height": record.height,
        "bytes": record.bytes, "format": record.format, "flags": record.flags, "sha256": record.sha256,
        "phash": f"{record.phash:016x}",
    }


def _group_data(group: DuplicateGroup) -> dict:
    return {
        "kind": group.kind,
        "conflict": group.conflict,
        "distance": group.distance,
        "labels": group.labels,
        "keep": group.keep.path,
        "members": [{**_record_data(m), "identical": m.path in group.identical} for m in group.members],
    }


def _write(path: Path, text: str) -> None:
    write_atomically(path, text)


class _Thumbs:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.made = 0

    def img(self, record: ImageRecord) -> str:
        if not record.ok or self.made >= MAX_THUMBS:
            return '<div class="nothumb">no preview</div>'
        try:
            jpeg = thumbnail_jpeg(self.root / record.path, THUMB_PX, quality=80)
        except Exception:  # noqa: BLE001 - the file changed since the scan; show no preview
            return '<div class="nothumb">no preview</div>'
        self.made += 1
        data = base64.b64encode(jpeg).decode()
        return f'<img src="data:image/jpeg;base64,{data}" alt="{html.escape(record.path)}">'


def _card(thumbs: _Thumbs, record: ImageRecord, note: str = "") -> str:
    flags = " ".join(f'<span class="flag">{html.escape(f)}</span>' for f in record.flags)
    size = f"{record.width}x{record.height}, {record.bytes / 1024:.0f} KB" if record.ok else f"{record.bytes / 1024:.0f} KB"
    badge = f'<span class="badge">{html.escape(note)}</span>' if note else ""
    return (f'<figure>{thumbs.img(record)}<figcaption>{badge}<b>{html.escape(record.path)}</b><br>{size}<br>{flags}'
            f"</figcaption></figure>")


def _html(analysis: Analysis, data: dict) -> str:
    thumbs = _Thumbs(analysis.root)
    parts = [f"<h1>Curation report: {html.escape(str(analysis.root))}</h1>",
             f"<p>{data['images']} images, generated {data['generated']}. Flags are advice: "
             "<code>curate reject</code> / <code>curate apply</code> decide.</p>",
             "<pre>" + html.escape(table(analysis)) + "</pre>"]
    if analysis.groups:
        parts.append(f"<h2>Duplicate groups ({len(analysis.groups)})</h2>")
        for group in analysis.groups:
            title = f"label conflict between {', '.join(group.labels)}" if group.conflict else f"{group.kind} duplicates"
            cards = [_card(thumbs, group.keep, "keep")]
            cards += [_card(thumbs, o, "same pixels" if o.path in group.identical else f"distance {(o.phash ^ group.keep.phash).bit_count()}")
                      for o in group.others]
            parts.append(f'<section class="group"><h3>{html.escape(title)}</h3><div class="row">{"".join(cards)}</div></section>')
    for title, flags in FLAG_SECTIONS:
        hits = [r for r in analysis.records if set(r.flags) & set(flags)]
        if hits:
            parts.append(f"<h2>{title} ({len(hits)})</h2><div class=\"row\">{''.join(_card(thumbs, r) for r in hits)}</div>")
    if analysis.rejected:
        items = "".join(f"<li><code>{html.escape(p)}</code> {html.escape(r)}</li>" for p, r in analysis.rejected.items())
        parts.append(f"<h2>On the reject list ({len(analysis.rejected)})</h2><ul>{items}</ul>")
    return _PAGE.format(body="\n".join(parts))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Curation report</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }}
pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; }}
.row {{ display: flex; flex-wrap: wrap; gap: 12px; }}
.group {{ border-top: 1px solid #ddd; padding-top: .5em; }}
figure {{ margin: 0; width: 180px; }}
figure img, .nothumb {{ width: 160px; height: 160px; object-fit: contain; background: #eee; display: block; }}
.nothumb {{ line-height: 160px; text-align: center; color: #888; }}
figcaption {{ font-size: 12px; word-break: break-all; }}
.flag {{ background: #fde2e1; border-radius: 3px; padding: 0 4px; margin-right: 2px; }}
.badge {{ background: #dff0d8; border-radius: 3px; padding: 0 4px; margin-right: 4px; }}
</style></head><body>
{body}
</body></html>
"""
