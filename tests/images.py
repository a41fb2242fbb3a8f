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


def transparent_picture(seed: int, width: int, height: int) -> Image.Image:
    """An RGBA picture whose left third fades to fully transparent, with colour left under the clear pixels."""
    image = picture(seed, width, height).convert("RGBA")
    alpha = np.full((height, width), 255, dtype=np.uint8)
    fade = max(1, width // 3)
    alpha[:, :fade] = np.linspace(0, 255, fade, dtype=np.uint8)[None, :]
    image.putalpha(Image.fromarray(alpha))
    return image


def every_mode(seed: int, width: int, height: int) -> dict[str, bytes]:
    """One file per mode and format Pillow reads that a user may meet, named `<what>.<ext>`."""
    rgb = picture(seed, width, height)
    rgba = transparent_picture(seed, width, height)
    grey = rgb.convert("L")
    palette = rgb.quantize(64)
    palette_clear = palette.copy()
    palette_clear.info["transparency"] = 0
    wide = np.asarray(grey, dtype=np.uint16) * 257
    frames = [rgb, picture(seed + 1, width, height)]
    files = {
        "bilevel.pbm": encode(rgb.convert("1"), "PPM"),
        "bilevel.png": encode(rgb.convert("1"), "PNG"),
        "grey.png": encode(grey, "PNG"),
        "grey.pgm": encode(grey, "PPM"),
        "grey-alpha.png": encode(rgba.convert("LA"), "PNG"),
        "palette.gif": encode(palette, "GIF"),
        "palette.png": encode(palette, "PNG"),
        "palette-transparent.gif": encode(palette_clear, "GIF", transparency=0),
        "palette-transparent.png": encode(palette_clear, "PNG", transparency=0),
        "rgb.ppm": encode(rgb, "PPM"),
        "rgb.bmp": encode(rgb, "BMP"),
        "rgb.webp": encode(rgb, "WEBP", quality=90),
        "rgb.tiff": encode(rgb, "TIFF"),
        "rgba.png": encode(rgba, "PNG"),
        "rgba.webp": encode(rgba, "WEBP", lossless=True),
        "rgba.tiff": encode(rgba, "TIFF"),
        "cmyk.jpg": encode(rgb.convert("CMYK"), "JPEG"),
        "cmyk.tiff": encode(rgb.convert("CMYK"), "TIFF"),
        "grey16.png": encode(Image.fromarray(wide), "PNG"),
        "int32.tiff": encode(Image.fromarray(wide.astype(np.int32)), "TIFF"),
        "float.tiff": encode(Image.fromarray(np.asarray(grey, dtype=np.float32) / 255), "TIFF"),
        "animated.gif": encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100),
        "animated.webp": encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100),
        "animated.png": encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100),
    }
    return files


#: Three plainly different colours: a tree of them trains a head in seconds on the tiny backbone.
COLOURS = {"red": (200, 40, 40), "green": (40, 180, 60), "blue": (40, 60, 200)}


def coloured(seed: int, colour: tuple[int, int, int], size=(120, 90)) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = np.array(colour, dtype=np.int16) + rng.integers(-40, 40, size=3)
    pixels = np.clip(base + rng.normal(0, 25, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)
