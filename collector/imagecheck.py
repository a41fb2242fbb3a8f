"""Decide whether downloaded bytes are a real, complete image, and what format they really are.

Why a full decode: a truncated JPEG opens fine and only fails when its last rows are read, and
an HTML error page or a PNG named `.jpg` would poison training later. JPEGs are decoded in
draft mode (DCT scaling): every compressed byte is still read, so truncation is caught, at a
fraction of the cost of producing full-size pixels.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp", "TIFF": "tif"}


class BadImage(Exception):
    """The bytes are not a usable image; `reason` is a short word for the summary table."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImageInfo:
    format: str
    extension: str
    width: int
    height: int


def inspect(data: bytes) -> ImageInfo:
    if not data:
        raise BadImage("empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format or ""
                width, height = image.size
                if fmt == "JPEG":
                    image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage("too-large") from None
    except Image.UnidentifiedImageError:
        raise BadImage("not-an-image") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise BadImage("corrupt") from None
    if width < 1 or height < 1:
        raise BadImage("corrupt")
    return ImageInfo(fmt, EXTENSIONS.get(fmt, fmt.lower()), width, height)
