"""Generated test images: distinct pictures, and the damaged or edited copies curation must recognise."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def picture(seed: int, width: int = 640, height: int = 480) -> Image.Image:
    """A smooth random picture: different seeds give pHashes far apart, like different photos."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 256, size=(9, 12, 3), dtype=np.uint8)
    return Image.fromarray(grid).resize((width, height), Image.BICUBIC)


def encode(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        options.setdefault("quality", 90)
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def crop(image: Image.Image, fraction: float) -> Image.Image:
    w, h = image.size
    dx, dy = int(w * fraction / 2), int(h * fraction / 2)
    return image.crop((dx, dy, w - dx, h - dy))


def exif_rotated_png(image: Image.Image) -> bytes:
    """The same picture stored sideways with EXIF orientation 6: upright, it is pixel-identical."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(image.transpose(Image.Transpose.ROTATE_90), "PNG", exif=exif.tobytes())


def png_bomb(width: int = 40_000, height: int = 40_000) -> bytes:
    """A PNG header that claims more pixels than Pillow's decompression-bomb limit."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def placeholder_png() -> bytes:
    """Looks like Flickr's 'photo unavailable' graphic: flat grey, a darker box, at 500x374."""
    image = Image.new("RGB", (500, 374), (230, 230, 230))
    image.paste((150, 150, 150), (200, 130, 300, 230))
    return encode(image, "PNG")
