"""Trees of photos for the benchmarks: bigger sets made from a small one."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from PIL import Image


def make_tree(source: Path, target: Path, copies: int, limit: int = 0) -> int:
    """`copies` crops of each photo of `source` (the photo itself for copies=1), `limit` photos a label at most."""
    count = 0
    for folder in sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")):
        (target / folder.name).mkdir(parents=True)
        photos = sorted(p for p in folder.iterdir() if p.is_file())
        for photo in photos[:limit] if limit else photos:
            if copies == 1:
                shutil.copy2(photo, target / folder.name / photo.name)
                count += 1
                continue
            with Image.open(photo) as image:
                image = image.convert("RGB")
                width, height = image.size
                for k in range(copies):
                    margin = 0.02 * (k + 1)
                    box = (int(width * margin), int(height * margin), int(width * (1 - margin / 2)), int(height * (1 - margin / 2)))
                    buffer = io.BytesIO()
                    image.crop(box).save(buffer, "JPEG", quality=90)
                    (target / folder.name / f"{photo.stem}-{k}.jpg").write_bytes(buffer.getvalue())
                    count += 1
    return count
