"""Read one file completely and describe it: format, oriented size, hashes, simple statistics.

Why one reduced decode path for every image: perceptual hashes are only comparable when every
image reaches the hash the same way. Each image is decoded to a working copy of about
WORK_SIZE px (JPEGs through draft mode, i.e. DCT scaling, which still reads every compressed byte,
so a truncated file fails here), turned upright by its EXIF orientation, then hashed. That
costs a fraction of a full decode and makes a rotated copy hash like its original, which
imagededup gets wrong.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .pixels import has_transparency, to_rgb
from .record import ImageRecord

log = logging.getLogger(__name__)

#: What Pillow's decoders raise for data that is really broken (truncated, bad checksums, nonsense
#: headers). Anything else is a bug of ours: logged with the file's name, never called "corrupt",
#: because "corrupt" leads to a quarantine.
DECODER_ERRORS = (OSError, SyntaxError, EOFError, ValueError, struct.error, zlib.error)
#: The problem recorded for such a bug: shown and left out of training, but never moved, and not cached.
INTERNAL_ERROR = "error"

#: The working copy's shorter side is WORK_SIZE..2*WORK_SIZE px: enough for a 32x32 pHash, and it
#: lets libjpeg decode at 1/8 scale (DC coefficients only), the fastest way to read a whole JPEG.
WORK_SIZE = 32
#: EXIF orientations 5-8 swap width and height.
_TRANSPOSED = {5, 6, 7, 8}
_ORIENTATION_TAG = 0x0112
#: EXIF orientation -> the transpose that makes the picture upright (as ImageOps.exif_transpose does).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def inspect_file(root: str, relpath: str) -> ImageRecord:
    """Never raises for a bad image: the problem is recorded, so one corrupt file cannot stop a scan."""
    full = Path(root) / relpath
    try:
        stat = full.stat()
        data = full.read_bytes()
    except OSError:
        return unreadable_record(relpath)
    return inspect_bytes(relpath, data, stat.st_mtime_ns, str(full))


def unreadable_record(relpath: str) -> ImageRecord:
    return ImageRecord(path=relpath, label=relpath.split("/", 1)[0], bytes=0, mtime_ns=0, problem="unreadable")


def inspect_bytes(relpath: str, data: bytes, mtime_ns: int, where: str = "") -> ImageRecord:
    """The record of a file whose bytes are already read: the one per-image function of the local
    scan and of the Beam pipeline (scaleout/), so both describe a file identically.
    `where` names the file in the log line of an internal error."""
    record = ImageRecord(path=relpath, label=relpath.split("/", 1)[0], bytes=len(data), mtime_ns=mtime_ns)
    record.sha256 = hashlib.sha256(data).hexdigest()
    if not data:
        record.problem = "empty"
        return record
    try:
        _describe(data, record)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        record.problem = "bomb"
    except Image.UnidentifiedImageError:
        record.problem = "not-an-image"
    except DECODER_ERRORS:
        record.problem = "corrupt"
    except Exception as error:  # noqa: BLE001 - one file must not stop a scan, but this is our bug
        log.error("curate: unexpected %s while decoding %s: %s (a bug in retrainkit, please report it; "
                  "the file is left out, not quarantined)", type(error).__name__, where or relpath, error)
        record.problem = INTERNAL_ERROR
    return record


def _describe(data: bytes, record: ImageRecord) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as image:
            record.format = image.format or ""
            record.mode = image.mode
            record.transparent = has_transparency(image)
            width, height = image.size
            orientation = image.getexif().get(_ORIENTATION_TAG, 1)
            record.exif_rotated = orientation not in (1, None)
            record.width, record.height = (height, width) if orientation in _TRANSPOSED else (width, height)
            work = _reduced(image)
    rgb = work.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else work
    gray = np.asarray(rgb.convert("L").resize((PHASH_INPUT, PHASH_INPUT), Image.LANCZOS), dtype=np.float64)
    record.phash = phash_bits(gray)
    record.pixel_digest = hashlib.blake2b(rgb.tobytes() + f"{record.width}x{record.height}".encode(), digest_size=16).hexdigest()
    record.brightness = float(gray.mean())
    record.contrast = float(gray.std())
    colour = np.asarray(rgb.resize((16, 16), Image.NEAREST), dtype=np.int16)
    record.grayscale = bool((colour.max(axis=2) - colour.min(axis=2)).max() < 12)
    record.few_colors = rgb.getcolors(32) is not None


def _reduced(image: Image.Image) -> Image.Image:
    """Decode fully but small, as RGB: draft for JPEG, then a cheap reduction to about WORK_SIZE px.

    Every mode becomes RGB (`pixels.to_rgb`) before it is reduced: `reduce()` refuses palette,
    bilevel and 16-bit images, and the same conversion in every stage keeps an RGBA PNG and its
    flattened JPEG twin alike. Animated files give their first frame, as everywhere else.
    """
    if image.format == "JPEG":
        image.draft("RGB", (WORK_SIZE, WORK_SIZE))
        image.load()
        work = to_rgb(image.copy())
    else:
        # DCT scaling by s yields each s x s block's mean; a box reduction by the same s that
        # draft would pick gives other formats the same working copy (a PNG of a JPEG hashes alike).
        image.load()
        work = to_rgb(image).copy()
        limit = min(work.size) // WORK_SIZE
        scale = next(s for s in (8, 4, 2, 1) if s <= max(limit, 1))
        if scale > 1:
            work = work.reduce(scale)
    factor = max(1, min(work.size) // WORK_SIZE)
    if factor > 1:
        work = work.reduce(factor)
    return work


PHASH_INPUT = 32
_PHASH_LOW = 8
# Unnormalised DCT-II as a matrix (scipy.fftpack.dct's definition), so a pHash is two tiny matmuls.
_k = np.arange(PHASH_INPUT)[:, None]
_n = np.arange(PHASH_INPUT)[None, :]
_DCT = 2.0 * np.cos(np.pi * _k * (2 * _n + 1) / (2 * PHASH_INPUT))


def phash_bits(gray32: np.ndarray) -> int:
    """imagehash.phash's bits (a test holds us to that) from a 32x32 grayscale array, as a 64-bit int."""
    low = (_DCT @ gray32 @ _DCT.T)[:_PHASH_LOW, :_PHASH_LOW]
    bits = (low > np.median(low)).flatten()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def decoded_pixels(path: str | os.PathLike) -> bytes:
    """Full-resolution, upright RGB pixels: the final word on whether two files hold the same picture."""
    with Image.open(path) as image:
        return to_rgb(ImageOps.exif_transpose(image)).tobytes()
