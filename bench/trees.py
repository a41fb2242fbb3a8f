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


def keyword_noise_tree(flowers: Path, others: Path, everyday: Path, target: Path, seed: int, left_out: str,
                       swap_share: float = 0.08, off_topic_share: float = 0.10, non_flower: int = 2) -> dict[str, str]:
    """A tree made the way keyword search fills one, as links: flowers-dev's labels but `left_out`, from each
    label `swap_share` of its photos filed under another label (swaps), and `off_topic_share` more photos per
    label that belong to no label: `non_flower` everyday pictures (`everyday`, ood-dev) and the rest photos
    of other flower kinds (`others`, other-flowers-dev, and the left-out label), drawn at random, so a label
    gets a few of each of several kinds. Returns path -> "clean" | "swap" | "other flower" | "non-flower"."""
    import os
    import random

    rng = random.Random(seed)
    labels = sorted(p.name for p in flowers.iterdir() if p.is_dir() and p.name != left_out and not p.name.startswith("."))
    near = [p for p in sorted(others.rglob("*")) + sorted((flowers / left_out).iterdir()) if p.is_file()]
    far = [p for p in sorted(everyday.rglob("*")) if p.is_file()]
    rng.shuffle(near)
    rng.shuffle(far)
    truth: dict[str, str] = {}

    def link(photo: Path, label: str, name: str, kind: str) -> None:
        (target / label).mkdir(parents=True, exist_ok=True)
        os.symlink(photo, target / label / name)
        truth[f"{label}/{name}"] = kind

    for label in labels:
        photos = sorted(p for p in (flowers / label).iterdir() if p.is_file())
        rng.shuffle(photos)
        swaps = round(swap_share * len(photos))
        for i, photo in enumerate(photos):
            if i < swaps:
                link(photo, rng.choice([other for other in labels if other != label]), f"{label}-{photo.name}", "swap")
            else:
                link(photo, label, f"{label}-{photo.name}", "clean")
        extra = round(off_topic_share * len(photos))
        for i in range(extra):
            photo, kind = (far.pop(), "non-flower") if i < non_flower else (near.pop(), "other flower")
            link(photo, label, f"offtopic-{photo.parent.name}-{photo.name}", kind)
    return truth


def link_kinds(sources: list[Path], target: Path, kinds: list[str] | None = None) -> dict[str, str]:
    """The kind folders of `sources` (all, or `kinds`) linked side by side into `target`, as they are:
    path -> "clean". Links, not copies: nothing is ever written into the data folders."""
    import os

    truth = {}
    for source in sources:
        for folder in sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if kinds is not None and folder.name not in kinds:
                continue
            (target / folder.name).mkdir(parents=True, exist_ok=True)
            for photo in sorted(p for p in folder.iterdir() if p.is_file()):
                os.symlink(photo, target / folder.name / photo.name)
                truth[f"{folder.name}/{photo.name}"] = "clean"
    return truth
