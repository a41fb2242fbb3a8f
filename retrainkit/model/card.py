"""What a model folder says about itself: `model.json` (the model card) and `metrics.json` (how it did).

Typed and versioned, and written and read only here: `train` writes them, while `classify`, `serve`,
the report page and the exports read them. A field renamed in one place would otherwise read back as
a silent null on the web page. Reading is lenient on purpose: a folder written by an older version
(no `version`, fewer fields) loads with the missing fields at their defaults, and fields this version
does not know are ignored, so old model folders keep working.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ..atomic import write_atomically
from .errors import ModelError
from .folder import BYTES_INPUT, METRICS, MODEL_CARD, SIGNATURE

#: model.json and metrics.json as this version writes them; a file without `version` is version 1.
CARD_VERSION = 2

_Record = TypeVar("_Record")


def _from_dict(kind: type[_Record], data: dict[str, Any]) -> _Record:
    """`kind` from the fields of `data` it knows; the others are ignored, missing ones take their defaults."""
    known = {f.name for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    return kind(**{key: value for key, value in data.items() if key in known})


@dataclass(frozen=True)
class Calibration:
    """What `known` means for one model ("none of the labels" past a novelty threshold)."""

    #: novelty above it is "none of the labels"
    threshold: float
    #: the asked-for share of real photos kept (percent)
    known_pct: float
    #: k at most (a label with fewer reference photos uses fewer)
    neighbours: int = 0
    #: photos in the reference set, and how many photos the threshold was set on
    reference: int = 0
    calibration_photos: int = 0
    #: the share of validation photos kept at the threshold (percent), None without validation photos
    validation_kept_pct: float | None = None
    #: which features the photos are compared in (train/judging/novelty_space.py)
    space: str = ""
    #: photos the user rejected, in the reference: a photo nearer them than any photo of the labels is unknown
    #: (novelty x max(1, rejected_scale / its distance to the rejected ones); 0: none)
    rejected_photos: int = 0
    rejected_scale: float = 0.0

    def describe(self) -> str:
        kept = "" if self.validation_kept_pct is None else f"; {self.validation_kept_pct:.1f}% of validation photos kept"
        rejected = f"; also photos like the {self.rejected_photos} rejected in reviews" if self.rejected_photos else ""
        return (f"'none of the labels' past novelty {self.threshold:.4f} (the {self.known_pct:g}th percentile of "
                f"{self.calibration_photos} photos it was set on{kept}){rejected}")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Calibration | None:
        if not data or "threshold" not in data or "known_pct" not in data:
            return None
        return _from_dict(cls, data)


@dataclass(frozen=True)
class OpenSetMetrics(Calibration):
    """The calibration and what it did on the photos the model did not learn from (metrics.json's `open_set`)."""

    test_kept_pct: float | None = None
    #: the promise (100 - known_pct) beside the share of validation and test photos called unknown
    promised_unknown_pct: float | None = None
    measured_unknown_pct: float | None = None
    measured_unknown_photos: int = 0
    measured_photos: int = 0
    #: the photos past the threshold, most novel first: {"path", "label", "novelty"}
    validation_unknown: list[dict] = field(default_factory=list)
    test_unknown: list[dict] = field(default_factory=list)


class _FolderRecord:
    """A JSON file of a model folder, written whole and read leniently. A record class names its file
    (`FILE`) and gives `to_dict` and `from_dict`; this base writes and reads it."""

    FILE = ""

    def write(self, folder: Path) -> Path:
        return write_atomically(folder / self.FILE, json.dumps(self.to_dict(), indent=1))

    @classmethod
    def read(cls, folder: Path):
        """The folder's record; one without a readable one is a one-line ModelError."""
        data = _json(folder / cls.FILE)
        record = None
        if data is not None:
            with contextlib.suppress(TypeError, ValueError, KeyError):  # fields of the wrong kind: unreadable too
                record = cls.from_dict(data)
        if record is None:
            raise ModelError(f"{folder}: not a model folder made by train (no readable {cls.FILE})")
        return record

    @classmethod
    def read_if_any(cls, folder: Path):
        """The record, or None where the folder has none it can read (folders from before it)."""
        try:
            return cls.read(folder)
        except ModelError:
            return None


@dataclass
class ModelCard(_FolderRecord):
    """model.json: the backbone, the input it takes, the labels, the outputs and the open set's calibration."""

    FILE: ClassVar[str] = MODEL_CARD

    backbone: str
    image_size: int
    labels: list[str]
    backbone_id: str = ""
    #: the backbone's normalisation, as `Preprocessing.describe()` words it
    preprocessing: dict = field(default_factory=dict)
    signature: str = SIGNATURE
    input: str = f"{BYTES_INPUT}: string[batch] (encoded JPEG/PNG/GIF/BMP)"
    outputs: list[str] = field(default_factory=list)
    #: the pixels-in signature's account (mean, std, the exact resize); None for a model exported before it
    pixels: dict | None = None
    #: None for a model exported before the open-set step
    open_set: Calibration | None = None
    version: int = CARD_VERSION

    def to_dict(self) -> dict:
        data = asdict(self)
        data["open_set"] = None if self.open_set is None else self.open_set.as_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelCard:
        card = _from_dict(cls, {"version": 1, **data})
        card.open_set = Calibration.from_dict(data.get("open_set"))
        return card


@dataclass
class ScoresOnTest:
    """The test split's evaluation: accuracy, per-label precision, recall and support, the confusion matrix."""

    labels: list[str]
    accuracy: float
    count: int
    precision: dict[str, float] = field(default_factory=dict)
    recall: dict[str, float] = field(default_factory=dict)
    support: dict[str, int] = field(default_factory=dict)
    #: rows: true label; columns: predicted
    confusion: list[list[int]] = field(default_factory=list)
    #: {"path", "true", "predicted", "probability"}, the most confident first
    mistakes: list[dict] = field(default_factory=list)


@dataclass
class Metrics(_FolderRecord):
    """metrics.json: every number `train` measured, for programs, the report page and `serve`'s about box."""

    FILE: ClassVar[str] = METRICS

    dataset: str
    backbone: str
    labels: list[str]
    test: ScoresOnTest
    #: photos per split (train, validation, test)
    images: dict[str, int] = field(default_factory=dict)
    validation_accuracy: float = 0.0
    #: the [train] settings the run used
    settings: dict = field(default_factory=dict)
    dropped_suspects: list[str] = field(default_factory=list)
    #: {"head": {"best_epoch", "epochs": [...]}, "fine_tune": ...}
    curves: dict = field(default_factory=dict)
    seconds: float | None = None
    open_set: OpenSetMetrics | None = None
    #: per test photo: {"path", "true", "probabilities", "novelty"}
    test_predictions: list[dict] = field(default_factory=list)
    version: int = CARD_VERSION

    def to_dict(self) -> dict:
        data = asdict(self)
        data["open_set"] = None if self.open_set is None else asdict(self.open_set)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Metrics:
        metrics = _from_dict(cls, {"version": 1, "dataset": "", "backbone": "", **data, "test": _from_dict(ScoresOnTest, data["test"])})
        open_set = data.get("open_set")
        metrics.open_set = _from_dict(OpenSetMetrics, open_set) if Calibration.from_dict(open_set) is not None else None
        return metrics


def _json(file: Path) -> dict | None:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
