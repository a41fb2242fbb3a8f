"""Read one file completely and describe it: format, oriented size, hashes, simple statistics.

The decode and the perceptual hash are `retrainkit.phash`'s (shared with `collect`, which must call
two files "the same picture" exactly as curation does): a small working copy, upright, hashed.
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

from retrainkit.phash import TRANSPOSED, gray_input, phash_bits, upright_working_copy
from retrainkit.pixels import has_transparency, to_rgb

from .record import ImageRecord

log = logging.getLogger(__name__)

#: What Pillow's decoders raise for data that is really broken (truncated, bad checksums, nonsense
#: headers). Anything else is a bug of ours: logged with the file's name, never called "corrupt",
#: because "corrupt" leads to a quarantine.
DECODER_ERRORS = (OSError, SyntaxError, EOFError, ValueError, struct.error, zlib.error)
#: The problem recorded for such a bug: shown and left out of training, but never moved, and not cached.
INTERNAL_ERROR = "error"

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
            rgb, orientation = upright_working_copy(image)
            record.exif_rotated = orientation != 1
            record.width, record.height = (height, width) if orientation in TRANSPOSED else (width, height)
    gray = gray_input(rgb)
    record.phash = phash_bits(gray)
    record.pixel_digest = hashlib.blake2b(rgb.tobytes() + f"{record.width}x{record.height}".encode(), digest_size=16).hexdigest()
    record.brightness = float(gray.mean())
    record.contrast = float(gray.std())
    colour = np.asarray(rgb.resize((16, 16), Image.NEAREST), dtype=np.int16)
    record.grayscale = bool((colour.max(axis=2) - colour.min(axis=2)).max() < 12)
    record.few_colors = rgb.getcolors(32) is not None


def decoded_pixels(path: str | os.PathLike) -> bytes:
    """Full-resolution, upright RGB pixels: the final word on whether two files hold the same picture."""
    with Image.open(path) as image:
        return to_rgb(ImageOps.exif_transpose(image)).tobytes()
