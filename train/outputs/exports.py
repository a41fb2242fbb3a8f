"""Exports of a model folder beside its SavedModel: ONNX and TensorFlow Lite, without training again.

One function, `export_model`, that `retrainkit-export`, `train --onnx` and `train --tflite` share.
TensorFlow and tf2onnx are imported only when a conversion starts, so a wrong format or folder
answers at once.
Every file is converted from the folder's pixels-in signature (train/outputs/exported_model.py), and each is
written under a temporary name and renamed when whole, so a failed conversion leaves the file that
was there before (or none), never half of one.

    >>> export_model("models/flowers", ("onnx", "tflite"), dataset="flowers").written   # doctest: +SKIP
    [PosixPath('models/flowers/model.onnx'), PosixPath('models/flowers/model_float16.tflite'), ...]
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from curate.tree import check_dataset
from retrainkit.atomic import write_atomically
from retrainkit.model.folder import check_model_dir

from ..errors import TrainError
from .tflite_metadata import metadata_schema

ONNX, TFLITE = "onnx", "tflite"
FORMATS = (ONNX, TFLITE)


@dataclass
class ExportResult:
    folder: Path
    written: list[Path] = field(default_factory=list)
    #: seconds each format's conversion took
    seconds: dict[str, float] = field(default_factory=dict)
    #: what was left out and why (the int8 file without calibration photos)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"Wrote {path} ({path.stat().st_size / 1e6:.1f} MB)" for path in self.written]
        return "\n".join(lines + self.notes)


def parse_formats(text: str) -> tuple[str, ...]:
    """`onnx,tflite` -> ("onnx", "tflite"); an unknown name is one line."""
    names = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise TrainError(f"unknown export format {', '.join(repr(n) for n in unknown) or repr(text)} (choose from {', '.join(FORMATS)})")
    return names


def check_extras(formats: tuple[str, ...]) -> None:
    """A missing optional package is said before anything slow starts."""
    if ONNX in formats:
        from .onnx_export import require_tf2onnx

        require_tf2onnx()
    if TFLITE in formats:
        metadata_schema()


def export_model(model_dir: str | os.PathLike, formats: tuple[str, ...] = FORMATS, *, dataset: str | os.PathLike | None = None,
                 calibration: list[Path] | None = None) -> ExportResult:
    """Write `formats` beside the SavedModel in `model_dir`.

    The int8 TFLite file needs calibration photos: `calibration` (train passes its training photos),
    or the model's own training photos found in `dataset` (from its split.json); without either, the
    float16 and open-set files are written and a note says how to get the int8 one.
    """
    formats = parse_formats(",".join(formats))
    check_model_dir(model_dir)
    check_extras(formats)
    if dataset is not None and calibration is None:
        calibration = training_photos(Path(model_dir), check_dataset(dataset))
    from ..outputs import exported_model

    model = exported_model.load(model_dir)
    result = ExportResult(model.folder)
    for name in formats:
        started = time.perf_counter()
        files = _converted(model, name, calibration or [])
        result.seconds[name] = time.perf_counter() - started
        result.written += [write_atomically(model.folder / file, data) for file, data in files.items()]
    if TFLITE in formats and not calibration:
        result.notes.append("model_int8.tflite left out: it needs calibration photos (--dataset DIR, the folder the model was trained on)")
    return result


def _converted(model, name: str, calibration: list[Path]) -> dict[str, bytes]:
    if name == ONNX:
        from .onnx_export import FILE, onnx_bytes

        return {FILE: onnx_bytes(model)}
    from .tflite import OPEN_SET_FILE, mediapipe_files, open_set_file

    return {**mediapipe_files(model, calibration), OPEN_SET_FILE: open_set_file(model)}


def training_photos(model_dir: Path, dataset: Path) -> list[Path]:
    """The model's training photos (its split.json) that are in `dataset`: what int8 calibration reads."""
    try:
        listed = json.loads((model_dir / "split.json").read_text(encoding="utf-8"))["train"]
    except (OSError, ValueError, KeyError, TypeError):
        raise TrainError(f"{model_dir}: no split.json naming its training photos, so --dataset cannot calibrate int8") from None
    found = [dataset / relative for relative in listed if (dataset / relative).is_file()]
    if not found:
        raise TrainError(f"{dataset}: none of the photos {model_dir} was trained on is here (give the dataset it was trained on)")
    return found
