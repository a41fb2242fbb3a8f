"""Rebuild examples/flowers/, the small photo sample that ships with the project, from flowers-dev.

    python examples/build_flowers_sample.py [--source ../shared/data/flowers-dev] [--per-label 24]

Why a sample in the repository: the quick start and the tests must work on a fresh clone with
nothing beside it. The sample is real (CC-BY 2.0 photos from TensorFlow's flower_photos), small
(at most 320 px on the long side) and keeps the flaws curation is meant to find: the photo filed
under both roses and tulips, and the two exact duplicate pairs among the sunflowers. Files keep
their original names (the Flickr photo id comes first), and ATTRIBUTION.md credits every one.

The choice is deterministic (the first photos of each label by name, plus the known duplicates),
and so is the downscaling, so running this again gives byte-identical files.
"""

from __future__ import annotations

import argparse
import io
import shutil
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "flowers-dev"
TARGET = ROOT / "examples" / "flowers"
LONG_SIDE = 320
#: Kept whatever --per-label says: the demo of `curate` shows them.
KNOWN_DUPLICATES = (
    "roses/15922772266_1167a06620.jpg", "tulips/15922772266_1167a06620.jpg",
    "sunflowers/14889392928_9742aed45b_m.jpg", "sunflowers/15066430311_fb57fa92b0_m.jpg",
    "sunflowers/15072973261_73e2912ef2_n.jpg", "sunflowers/15069459615_7e0fd61914_n.jpg",
)
LICENCE = "[CC BY 2.0](https://creativecommons.org/licenses/by/2.0/)"


def chosen(source: Path, per_label: int) -> list[str]:
    picked = set(KNOWN_DUPLICATES)
    for label in sorted(p.name for p in source.iterdir() if p.is_dir()):
        names = sorted(p.name for p in (source / label).iterdir() if p.suffix.lower() == ".jpg")
        have = sum(1 for p in picked if p.startswith(f"{label}/"))
        picked.update(f"{label}/{name}" for name in [n for n in names if f"{label}/{n}" not in picked][:max(0, per_label - have)])
    return sorted(picked)


def downscaled(data: bytes) -> bytes:
    """The original bytes when the photo is small enough, else a Lanczos-downscaled JPEG (quality 88)."""
    with Image.open(io.BytesIO(data)) as image:
        if max(image.size) <= LONG_SIDE:
            return data
        image = image.convert("RGB")
        image.thumbnail((LONG_SIDE, LONG_SIDE), Image.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=88, optimize=True)
        return buffer.getvalue()


def attribution(paths: list[str]) -> str:
    lines = [
        "# Credits",
        "",
        "The photos in this folder come from TensorFlow's public `flower_photos` set, itself drawn from Flickr.",
        f"Each is licensed {LICENCE} by its photographer; they are downscaled to at most {LONG_SIDE} px here.",
        "The file name starts with the Flickr photo id; the link opens the photo's page with its author.",
    ]
    label = None
    for path in paths:
        if path.split("/")[0] != label:
            label = path.split("/")[0]
            lines += ["", f"## {label}", ""]
        photo_id = path.split("/")[1].split("_")[0]
        lines.append(f"- `{path}`: [Flickr photo {photo_id}](https://www.flickr.com/photo.gne?id={photo_id}), {LICENCE}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=str(DEFAULT_SOURCE), help="the flowers-dev folder")
    parser.add_argument("--per-label", type=int, default=24)
    args = parser.parse_args()
    source = Path(args.source)
    if not source.is_dir():
        raise SystemExit(f"build_flowers_sample: {source} not found (give --source)")
    paths = chosen(source, args.per_label)
    shutil.rmtree(TARGET, ignore_errors=True)
    total = 0
    for path in paths:
        target = TARGET / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(downscaled((source / path).read_bytes()))
        total += target.stat().st_size
    (TARGET / "ATTRIBUTION.md").write_text(attribution(paths))
    print(f"{len(paths)} photos, {total / 1e6:.1f} MB, in {TARGET}")


if __name__ == "__main__":
    main()
