"""curate: find what is wrong in a folder-per-label image tree, and set it aside without losing a file.

    >>> import curate
    >>> analysis = curate.analyse("dataset")                  # doctest: +SKIP
    >>> [g.keep.path for g in analysis.groups if g.conflict]  # doctest: +SKIP
    >>> images = curate.usable_images("dataset")              # what train uses  # doctest: +SKIP
"""

from .analysis import Analysis, analyse, usable_images
from .duplicates import DuplicateGroup
from .errors import CurateError
from .quarantine import apply, restore
from .record import ImageRecord
from .rejects import RejectList
from .relabel import move
from .scan import ScanResult, scan
from .settings import CurateSettings

__all__ = [
    "Analysis", "analyse", "usable_images", "DuplicateGroup", "CurateError", "apply", "move", "restore",
    "ImageRecord", "RejectList", "ScanResult", "scan", "CurateSettings",
]
