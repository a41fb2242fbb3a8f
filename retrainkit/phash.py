"""The perceptual hash every stage compares pictures by: `collect` (a copy of a kept photo is not
kept again) and `curate` (near duplicates), so both call two files "the same picture" alike.

Why one reduced decode path for every image: perceptual hashes are only comparable when every
image reaches the hash the same way. Each image is decoded to a working copy of about
WORK_SIZE px (JPEGs through draft mode, i.e. DCT scaling, which still reads every compressed byte,
so a truncated file fails here), turned upright by its EXIF orientation, then hashed. That
costs a fraction of a full decode and makes a rotated copy hash like its original, which
imagededup gets wrong.

    >>> import io
    >>> from PIL import Image
    >>> buffer = io.BytesIO(); Image.new("RGB", (64, 48), "white").save(buffer, "PNG")
    >>> hash_of_bytes(buffer.getvalue()) == hash_of_bytes(buffer.getvalue())
    True
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .pixels import to_rgb

#: pHash Hamming distance at or below which two pictures are the same photo (near duplicates):
#: the default of `[curate] near_distance` and `[collect] near_distance`, chosen by
#: bench/curate_threshold.py on resized, recompressed and cropped copies.
NEAR_DISTANCE = 10

#: The working copy's shorter side is WORK_SIZE..2*WORK_SIZE px: enough for a 32x32 pHash, and it
#: lets libjpeg decode at 1/8 scale (DC coefficients only), the fastest way to read a whole JPEG.
WORK_SIZE = 32
ORIENTATION_TAG = 0x0112
#: EXIF orientations 5-8 swap width and height.
TRANSPOSED = frozenset({5, 6, 7, 8})
#: EXIF orientation -> the transpose that makes the picture upright (as ImageOps.exif_transpose does).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

PHASH_INPUT = 32
_PHASH_LOW = 8
# Unnormalised DCT-II as a matrix (scipy.fftpack.dct's definition), so a pHash is two tiny matmuls.
_k = np.arange(PHASH_INPUT)[:, None]
_n = np.arange(PHASH_INPUT)[None, :]
_DCT = 2.0 * np.cos(np.pi * _k * (2 * _n + 1) / (2 * PHASH_INPUT))


def reduced(image: Image.Image) -> Image.Image:
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


def upright_working_copy(image: Image.Image) -> tuple[Image.Image, int]:
    """The reduced RGB copy turned upright, and the EXIF orientation it had (1 when none)."""
    orientation = image.getexif().get(ORIENTATION_TAG, 1) or 1
    work = reduced(image)
    return (work.transpose(UPRIGHT[orientation]) if orientation in UPRIGHT else work), orientation


def gray_input(rgb: Image.Image) -> np.ndarray:
    """The 32x32 grayscale array the hash is computed from."""
    return np.asarray(rgb.convert("L").resize((PHASH_INPUT, PHASH_INPUT), Image.LANCZOS), dtype=np.float64)


def phash_bits(gray32: np.ndarray) -> int:
    """imagehash.phash's bits (a test holds us to that) from a 32x32 grayscale array, as a 64-bit int."""
    low = (_DCT @ gray32 @ _DCT.T)[:_PHASH_LOW, :_PHASH_LOW]
    bits = (low > np.median(low)).flatten()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def hash_of_image(image: Image.Image) -> int:
    rgb, _ = upright_working_copy(image)
    return phash_bits(gray_input(rgb))


def hash_of_bytes(data: bytes) -> int:
    """The pHash of an encoded picture; raises what Pillow raises for bytes that are no whole image."""
    with Image.open(io.BytesIO(data)) as image:
        return hash_of_image(image)


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()
