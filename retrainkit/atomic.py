"""One way to write a file so that a reader never sees half of it: a temporary name, then a rename.

Why one helper: model folders, caches and the dataset's own records are read by other commands while
they are written (serve on a folder train is replacing, curate beside collect), and a crash or a full
disk must leave the old file, not a torn one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(target: str | os.PathLike, data: bytes | str) -> Path:
    """`data` (text is written as UTF-8) under a temporary name in the same folder, then renamed over `target`."""
    target = Path(target)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(payload)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
