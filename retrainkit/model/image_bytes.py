"""The bytes handed to the model: the file itself, or a lossless RGB PNG of it when TensorFlow would not read it as we do.

TensorFlow decodes plain 8-bit RGB or grey JPEG, PNG and BMP files the way Pillow does; Pillow reads
many more (WebP, TIFF, GIF, CMYK JPEGs, palette, bilevel, 16-bit and transparent images). Those go
through `retrainkit.pixels.to_rgb`, the conversion curation hashes with (transparency on white, wide
samples scaled to 8 bits). Training and `classify` both go through this one decision, so a file
reaches the model the same way in both, and the SavedModel only ever sees files it decodes alike.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..pixels import has_transparency, to_rgb
from .errors import ModelError

#: A file that does not decode completely (Pillow's check, or the model's own decoder), in words.
DAMAGED = "a damaged image (it does not decode completely)"
#: What the SavedModel decodes itself, as Pillow does; other formats are converted to PNG first.
TF_FORMATS = frozenset({"JPEG", "PNG", "BMP"})
#: Modes TensorFlow decodes as Pillow does (no palette, alpha, 1-bit, 16-bit or CMYK).
_TF_MODES = frozenset({"RGB", "L"})


def needs_conversion(image_format: str, mode: str, transparent: bool = False) -> bool:
    return image_format not in TF_FORMATS or mode not in _TF_MODES or transparent


def model_bytes(path: str | Path) -> bytes:
    return converted(Path(path).read_bytes(), str(path))


def converted(data: bytes, name: str) -> bytes:
    """`data` as the model takes it: itself, or a lossless RGB PNG. `name` only goes into error messages."""
    return _as_the_model_takes(data, name, prove_whole=False)


def checked_bytes(path: str | Path) -> bytes:
    """model_bytes(), after proving the file is a whole image: a damaged file is named, not fed to the model."""
    file = Path(path)
    if not file.is_file():
        raise ModelError(f"{path}: no such file")
    return checked(file.read_bytes(), str(path))


def checked(data: bytes, name: str) -> bytes:
    """converted(), after proving the bytes are a whole image (truncated or damaged data is refused).

    Why one open and a small decode: this runs for every upload `serve` takes, beside the model's own
    decode. A file the model reads as it is gets decoded once here, a JPEG at 1/8 scale (libjpeg's DCT
    scaling still reads every compressed byte, so truncation is caught as by a full decode, as curate
    relies on); a file that needs converting is decoded fully by the conversion, which is the check.
    """
    return _as_the_model_takes(data, name, prove_whole=True)


def _as_the_model_takes(data: bytes, name: str, prove_whole: bool) -> bytes:
    """One open of the bytes: converted when TensorFlow would not read them as Pillow does, else
    returned as they are (after a complete decode with `prove_whole`)."""
    if not data:
        raise ModelError(f"{name}: an empty file, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if not needs_conversion(image.format or "", image.mode, has_transparency(image)):
                    if prove_whole and not _decodes_completely(image):
                        raise ModelError(f"{name}: {DAMAGED}")
                    return data
                exif = image.getexif()
                upright = to_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ModelError(f"{name}: more pixels than Pillow's safety limit (a decompression bomb?)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ModelError(f"{name}: not an image Pillow can read ({type(error).__name__})") from None
    buffer = io.BytesIO()
    # keep the orientation tag: the model's own preprocessing applies it, as for any other file
    upright.save(buffer, "PNG", exif=exif.tobytes() if exif else b"")
    return buffer.getvalue()


def _decodes_completely(image: Image.Image) -> bool:
    if image.format == "JPEG":
        image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
    try:
        image.load()
    except Exception:  # noqa: BLE001 - truncated or damaged
        return False
    return True
