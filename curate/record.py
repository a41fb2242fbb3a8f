"""What a scan learns about one file, and how it is stored in the scan cache."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class ImageRecord:
    #: "label/file.jpg" relative to the dataset root, always with forward slashes
    path: str
    label: str
    bytes: int
    mtime_ns: int
    #: "" when the file decoded completely; else empty, not-an-image, corrupt, bomb, unreadable,
    #: or error (our own bug, logged)
    problem: str = ""
    format: str = ""
    mode: str = ""
    #: an alpha channel or a transparent colour: every stage composites it on white (retrainkit/pixels.py)
    transparent: bool = False
    #: size after EXIF orientation, as a viewer shows it
    width: int = 0
    height: int = 0
    sha256: str = ""
    #: 64-bit pHash of the oriented image, as an unsigned int
    phash: int = 0
    #: digest of the reduced decode: equal digests are candidates for "same pixels"
    pixel_digest: str = ""
    brightness: float = 0.0
    contrast: float = 0.0
    grayscale: bool = False
    few_colors: bool = False
    exif_rotated: bool = False
    flags: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problem

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("flags")
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ImageRecord:
        return cls(**json.loads(text))
