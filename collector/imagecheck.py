"""Decide whether downloaded bytes are a real, complete image, what format they really are, and
their perceptual hash (the same decode gives both).

Why a full decode: a truncated JPEG opens fine and only fails when its last rows are read, and
an HTML error page or a PNG named `.jpg` would poison training later. JPEGs are decoded in
draft mode (DCT scaling): every compressed byte is still read, so truncation is caught, at a
fraction of the cost of producing full-size pixels. That small decode is the one curate hashes
(`retrainkit.phash`), so the hash costs no second decode.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

from retrainkit.phash import gray_input, phash_bits, upright_working_copy

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
    #: curate's pHash of the picture (retrainkit.phash), to find copies of photos already kept
    phash: int = 0


def inspect(data: bytes) -> ImageInfo:
    if not data:
        raise BadImage("empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format or ""
                width, height = image.size
                working, _ = upright_working_copy(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage("too-large") from None
    except Image.UnidentifiedImageError:
        raise BadImage("not-an-image") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise BadImage("corrupt") from None
    if width < 1 or height < 1:
        raise BadImage("corrupt")
    return ImageInfo(fmt, EXTENSIONS.get(fmt, fmt.lower()), width, height, phash_bits(gray_input(working)))
