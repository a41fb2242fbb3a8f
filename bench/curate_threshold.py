"""How far apart (in pHash bits) are an image and its edited copy, and how close are different images?

    python bench/curate_threshold.py [--data ../shared/data/flowers-dev]

For every photo it makes copies a dataset really contains (resized, recompressed, slightly
cropped, EXIF-rotated, brightened) and hashes them through curate's own decode path. It prints,
per distance threshold, the share of copies caught and the number of pairs of *different* photos
wrongly joined: the numbers behind the default `near_distance`.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curate.decode import inspect_file  # noqa: E402
from curate.hamming import near_pairs_bruteforce  # noqa: E402

KNOWN_SAME = {"15922772266_1167a06620.jpg"}


def _jpeg(image: Image.Image, quality: int, exif: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, **({"exif": exif} if exif else {}))
    return buffer.getvalue()


def _crop(image: Image.Image, fraction: float) -> Image.Image:
    w, h = image.size
    dx, dy = int(w * fraction / 2), int(h * fraction / 2)
    return image.crop((dx, dy, w - dx, h - dy))


def variants(image: Image.Image) -> dict[str, bytes]:
    w, h = image.size
    rotated = image.transpose(Image.Transpose.ROTATE_90)  # stored sideways...
    exif = Image.Exif()
    exif[0x0112] = 6  # ...and tagged to be shown upright
    return {
        "resized 50%": _jpeg(image.resize((w // 2, h // 2), Image.LANCZOS), 90),
        "resized 200%": _jpeg(image.resize((w * 2, h * 2), Image.LANCZOS), 90),
        "recompressed q40": _jpeg(image, 40),
        "recompressed q15": _jpeg(image, 15),
        "png copy": _png(image),
        "cropped 4%": _jpeg(_crop(image, 0.04), 90),
        "cropped 8%": _jpeg(_crop(image, 0.08), 90),
        "cropped 15%": _jpeg(_crop(image, 0.15), 90),
        "exif-rotated": _jpeg(rotated, 90, exif.tobytes()),
        "brightened 15%": _jpeg(ImageEnhance.Brightness(image).enhance(1.15), 90),
    }


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "flowers-dev"))
    parser.add_argument("--limit", type=int, default=0, help="use the first N photos only")
    args = parser.parse_args()
    data = Path(args.data)
    files = sorted(p for p in data.glob("*/*") if p.is_file())
    if args.limit:
        files = files[: args.limit]
    if not files:
        sys.exit(f"no photos under {data}")
    distances: dict[str, list[int]] = {}
    originals = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            original = inspect_file(str(data), path.relative_to(data).as_posix())
            originals.append(original.phash)
            with Image.open(path) as image:
                image = image.convert("RGB")
                for name, blob in variants(image).items():
                    copy = Path(tmp) / "copy"
                    copy.write_bytes(blob)
                    record = inspect_file(tmp, "copy")
                    distances.setdefault(name, []).append(bin(record.phash ^ original.phash).count("1"))
    hashes = np.array(originals, dtype=np.uint64)
    names = [p.name for p in files]
    print(f"{len(files)} photos from {data}; pHash distance from each photo to its edited copy:")
    thresholds = list(range(0, 17, 2))
    print(f"{'copy':<18}" + "".join(f"  <={t:<3}" for t in thresholds) + "   median")
    for name, values in distances.items():
        values = np.array(values)
        caught = "".join(f"  {np.mean(values <= t) * 100:4.0f}%" for t in thresholds)
        print(f"{name:<18}{caught}   {np.median(values):.0f}")
    print("\npairs of different photos joined at each threshold (known duplicates left out):")
    line = ""
    for t in thresholds:
        pairs = near_pairs_bruteforce(hashes, t)
        wrong = sum(1 for i, j in pairs.tolist() if not (names[i] == names[j] and names[i] in KNOWN_SAME) and hashes[i] != hashes[j])
        line += f"  <={t:<3}{wrong:5d}"
    print(line)
    print(f"(out of {len(files) * (len(files) - 1) // 2} pairs)")


if __name__ == "__main__":
    main()
