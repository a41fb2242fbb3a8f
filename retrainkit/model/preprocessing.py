"""Encoded image bytes -> the backbone's input tensor, in TensorFlow ops only.

Why TensorFlow ops, including the EXIF parsing: this exact function runs when bottlenecks are
extracted and again inside the exported SavedModel, so a served model sees precisely what the
trained head saw (train/serve skew is the classic transfer-learning bug). A Python/Pillow step
could not be saved into the model.

Steps: decode (JPEG, PNG, GIF first frame, BMP) to RGB; turn upright by the EXIF orientation
(JPEG APP1 or PNG eXIf); take a centred square crop of 87.5% of the shorter side (the ImageNet
evaluation protocol); resize bicubically with antialiasing; map pixel values v to (v - mean) / std.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

CENTRAL_FRACTION = 0.875
#: the augmentation's smallest crop, as a share of the shorter side
SMALLEST_CROP = 0.65
#: EXIF sits in the first segments of a file (JPEG APP1 right after SOI/APP0, PNG eXIf before IDAT).
_EXIF_SEARCH_BYTES = 16384


@dataclass(frozen=True)
class Preprocessing:
    image_size: int
    mean: float
    std: float

    def describe(self) -> str:
        return f"size{self.image_size}-mean{self.mean:g}-std{self.std:g}-crop{CENTRAL_FRACTION:g}-bicubic-exif"


def decode_upright(contents: tf.Tensor) -> tf.Tensor:
    """uint8 (H, W, 3), turned upright by the EXIF orientation tag.

    Large JPEGs are decoded at full scale on purpose: decoding at a reduced DCT scale (libjpeg's
    1/2, 1/4) was measured (bench/train.py --long-side 800) and gained nothing on 800 px photos
    (the entropy decoding it cannot skip is most of the cost), while the extra graph branches cost
    every small photo extra time and changed the pixels the model sees.
    """
    image = tf.io.decode_image(contents, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return apply_orientation(image, exif_orientation(contents))


def to_input(image: tf.Tensor, preprocessing: Preprocessing) -> tf.Tensor:
    """uint8 (H, W, 3) -> float32 (size, size, 3): centred crop, bicubic resize, normalisation."""
    return normalise(to_pixels(image, preprocessing.image_size), preprocessing)


def to_pixels(image: tf.Tensor, size: int) -> tf.Tensor:
    """uint8 (H, W, 3) -> float32 (size, size, 3) in 0..255: the centred crop and resize, not yet normalised.

    What the SavedModel's pixels-in signature (train/outputs/saved_model.py) and the ONNX and LiteRT files take:
    a caller who reproduces these steps (docs/export.md) feeds exactly what the bytes-in path computes.
    """
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    side = tf.maximum(1, tf.cast(tf.cast(tf.minimum(height, width), tf.float32) * CENTRAL_FRACTION, tf.int32))
    top = (height - side) // 2
    left = (width - side) // 2
    square = image[top:top + side, left:left + side, :]
    return _resize(square, size)


def normalise(pixels: tf.Tensor, preprocessing: Preprocessing) -> tf.Tensor:
    """0..255 RGB values -> the backbone's input range, (v - mean) / std."""
    return (pixels - preprocessing.mean) / preprocessing.std


def _resize(image: tf.Tensor, size: int) -> tf.Tensor:
    resized = tf.image.resize(tf.cast(image, tf.float32), (size, size), method="bicubic", antialias=True)
    return tf.clip_by_value(resized, 0.0, 255.0)


def _resize_normalise(image: tf.Tensor, preprocessing: Preprocessing) -> tf.Tensor:
    return normalise(_resize(image, preprocessing.image_size), preprocessing)


def preprocess(contents: tf.Tensor, preprocessing: Preprocessing) -> tf.Tensor:
    return to_input(decode_upright(contents), preprocessing)


def decoded_pixels(contents: tf.Tensor, size: int) -> tf.Tensor:
    """Encoded bytes -> float32 (size, size, 3) in 0..255: what the bytes-in signature hands the pixels-in one."""
    return to_pixels(decode_upright(contents), size)


def augmented(contents: tf.Tensor, preprocessing: Preprocessing, seed: tf.Tensor) -> tf.Tensor:
    """One random variant (flip, crop position and scale, brightness), reproducible from `seed` (int32 [2])."""
    image = decode_upright(contents)
    shape = tf.shape(image)
    short = tf.cast(tf.minimum(shape[0], shape[1]), tf.float32)
    seeds = tf.random.experimental.stateless_split(seed, 5)
    scale = tf.random.stateless_uniform([], seeds[0], SMALLEST_CROP, 1.0)
    side = tf.maximum(1, tf.cast(short * scale, tf.int32))
    top = tf.cast(tf.random.stateless_uniform([], seeds[1], 0.0, 1.0) * tf.cast(shape[0] - side, tf.float32), tf.int32)
    left = tf.cast(tf.random.stateless_uniform([], seeds[2], 0.0, 1.0) * tf.cast(shape[1] - side, tf.float32), tf.int32)
    crop = image[top:top + side, left:left + side, :]
    crop = tf.cond(tf.random.stateless_uniform([], seeds[3]) < 0.5, lambda: tf.image.flip_left_right(crop), lambda: crop)
    brighter = tf.cast(crop, tf.float32) * tf.random.stateless_uniform([], seeds[4], 0.8, 1.2)
    return _resize_normalise(tf.clip_by_value(brighter, 0.0, 255.0), preprocessing)


# -- EXIF orientation, parsed with tensor ops ------------------------------------------------------

def exif_orientation(contents: tf.Tensor) -> tf.Tensor:
    """The EXIF orientation (1-8) of a JPEG (APP1 "Exif") or PNG (eXIf chunk); 1 when there is none."""
    start = tf.strings.substr(contents, 0, _EXIF_SEARCH_BYTES)
    head = tf.io.decode_raw(start, tf.uint8)
    data = tf.cast(head, tf.int32)
    size = tf.size(data)
    jpeg_at = _find(start, "Exif\0\0")
    png_at = _find(start, "eXIf")  # the PNG chunk type
    is_jpeg = tf.logical_and(size > 2, tf.reduce_all(tf.equal(data[:2], [0xFF, 0xD8])))
    tiff = tf.where(is_jpeg, jpeg_at + 6, png_at + 4)
    found = tf.where(is_jpeg, jpeg_at >= 0, png_at >= 0)
    return tf.cond(found, lambda: _orientation_in_tiff(data, tiff), lambda: tf.constant(1, tf.int32))


def _find(data: tf.Tensor, pattern: str) -> tf.Tensor:
    """Index of the first occurrence of `pattern` in the string `data`, or -1: a split in C++, where
    comparing shifted byte tensors cost far more per photo (bench/train.py times extraction, which runs this)."""
    pieces = tf.strings.split(data, sep=pattern, maxsplit=1)
    return tf.cond(tf.size(pieces) > 1, lambda: tf.strings.length(pieces[0]), lambda: tf.constant(-1, tf.int32))


def _orientation_in_tiff(data: tf.Tensor, tiff: tf.Tensor) -> tf.Tensor:
    last = tf.size(data) - 1
    little = tf.equal(data[tf.minimum(tiff, last)], 0x49)  # "II" little-endian, "MM" big-endian

    def byte(at):
        return tf.gather(data, tf.clip_by_value(at, 0, last))

    def u16(at):
        return tf.where(little, byte(at) + byte(at + 1) * 256, byte(at) * 256 + byte(at + 1))

    def u32(at):
        return tf.where(little, u16(at) + u16(at + 2) * 65536, u16(at) * 65536 + u16(at + 2))

    ifd = tiff + u32(tiff + 4)
    count = tf.clip_by_value(u16(ifd), 0, 256)
    entries = ifd + 2 + 12 * tf.range(count)
    tags = u16(entries)
    values = u16(entries + 8)
    matches = tf.boolean_mask(values, tf.equal(tags, 0x0112))
    orientation = tf.cond(tf.size(matches) > 0, lambda: matches[0], lambda: tf.constant(1, tf.int32))
    in_range = tf.logical_and(orientation >= 1, orientation <= 8)
    return tf.where(tf.logical_and(in_range, ifd + 2 < last), orientation, 1)


def apply_orientation(image: tf.Tensor, orientation: tf.Tensor) -> tf.Tensor:
    """The same transposes as Pillow's ImageOps.exif_transpose, per orientation 1-8."""
    transposed = lambda: tf.transpose(image, [1, 0, 2])  # noqa: E731
    branches = [
        lambda: image,                                             # 1 upright
        lambda: image,                                             # 1
        lambda: tf.image.flip_left_right(image),                   # 2 mirrored
        lambda: tf.image.rot90(image, 2),                          # 3 upside down
        lambda: tf.image.flip_up_down(image),                      # 4 mirrored, upside down
        transposed,                                                # 5 transpose
        lambda: tf.image.rot90(image, 3),                          # 6 rotate 270 (90 clockwise)
        lambda: tf.image.rot90(transposed(), 2),                   # 7 transverse
        lambda: tf.image.rot90(image, 1),                          # 8 rotate 90
    ]
    return tf.switch_case(tf.clip_by_value(orientation, 0, 8), branches)
