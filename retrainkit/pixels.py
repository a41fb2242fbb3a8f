"""The one way any picture Pillow opens becomes 8-bit RGB, in every stage.

Why one function: curation hashes pixels, training and `classify` feed pixels to the model, and
a picture must look the same to all of them. Pillow's own `convert("RGB")` drops transparency
(whatever colour hides under a transparent pixel shows through) and clips 16-bit and float
images to white. Here transparency is composited on white, as a page or a photo viewer shows it
and as an editor flattens it when saving a JPEG, and wide sample ranges are scaled to 0-255.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_WIDE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})


def has_transparency(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def to_rgb(image: Image.Image) -> Image.Image:
    """An RGB copy of `image` (the image itself, loaded, when it is RGB already), of any mode Pillow reads."""
    image.load()
    if image.mode == "RGB" and "transparency" not in image.info:
        return image
    if image.mode in _WIDE_MODES:
        return Image.fromarray(_eight_bit(np.asarray(image)), "L").convert("RGB")
    if has_transparency(image):
        rgba = (image.convert("LA") if image.mode == "La" else image).convert("RGBA")  # Pillow has no La -> RGBA
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def thumbnail_jpeg(path: Path, pixels: int, quality: int = 82) -> bytes:
    """A JPEG of at most `pixels` a side, upright, converted like everything else (so a transparent
    PNG's preview is on white, as the model sees it). Raises what Pillow raises for a bad file."""
    with Image.open(path) as image:
        image.draft("RGB", (pixels, pixels))  # JPEG: decode at a reduced scale, far faster for big photos
        thumb = to_rgb(ImageOps.exif_transpose(image))
        thumb.thumbnail((pixels, pixels))
    buffer = io.BytesIO()
    thumb.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _eight_bit(samples: np.ndarray) -> np.ndarray:
    """16-bit and 32-bit integers scale by 1/257 (65535 -> 255); floats in [0, 1] by 255; else clip."""
    values = samples.astype(np.float64)
    top = float(values.max()) if values.size else 0.0
    if samples.dtype.kind == "f":
        values = values * 255.0 if top <= 1.0 else values
    elif samples.dtype.itemsize >= 2 and top > 255:
        values = values / 257.0
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
