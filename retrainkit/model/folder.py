"""A model folder: the names of what it holds, the signatures its SavedModel answers, and loading it.

`train` writes these names and `classify`, `serve` and the exports read them; one module spells
them, so a renamed file is a change in one place and not a silent miss in another.
"""

from __future__ import annotations

from pathlib import Path

from .errors import DamagedModel, ModelError

SAVED_MODEL = "saved_model"
LABELS = "labels.txt"
MODEL_CARD = "model.json"
METRICS = "metrics.json"
#: The bytes-in signature: `image_bytes` string[batch] in, the answers out.
SIGNATURE = "serving_default"
BYTES_INPUT = "image_bytes"
#: The pixels-in signature every other export is converted from, and its input's name.
PIXELS_SIGNATURE = "serving_pixels"
PIXELS_INPUT = "pixels"
#: Photos per call of a signature at most: the whole call on a GPU, and the most that serve's batcher hands
#: over at once (a CPU splits a call into the few photos retrainkit.model.slicing measured as fastest).
MAX_BATCH = 32


def check_model_dir(model_dir: str | Path) -> Path:
    """The folder, once it holds a SavedModel and its labels (cheap: nothing is loaded)."""
    folder = Path(model_dir)
    if not (folder / SAVED_MODEL / "saved_model.pb").is_file() or not (folder / LABELS).is_file():
        raise ModelError(f"{model_dir}: not a model folder made by train (expected {SAVED_MODEL}/ and {LABELS})")
    return folder


def read_labels(folder: Path) -> list[str]:
    return (folder / LABELS).read_text(encoding="utf-8").splitlines()


def write_labels(folder: Path, labels: list[str]) -> None:
    (folder / LABELS).write_text("\n".join(labels) + "\n", encoding="utf-8")


def load_saved_model(model_dir: str | Path) -> tuple[Path, object]:
    """(the checked folder, its loaded SavedModel); a model that cannot be loaded is one line."""
    import tensorflow as tf

    folder = check_model_dir(model_dir)
    try:
        return folder, tf.saved_model.load(str(folder / SAVED_MODEL))
    except Exception as error:  # noqa: BLE001 - a damaged model raises many kinds
        raise DamagedModel(f"{model_dir}: cannot load the model ({type(error).__name__}); train it again") from None
