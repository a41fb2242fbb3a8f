"""Import TensorFlow without its start-up chatter on the terminal.

TensorFlow's C++ core prints absl and CUDA-probe lines to stderr while it is imported, before any
Python setting can stop them; on a CPU-only machine they are noise in front of our one-line
messages. They are captured during the import and shown only if the import fails.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


def import_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    with quiet_stderr():
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_logical_devices()  # the device probe prints too; let it happen now


@contextmanager
def quiet_stderr(show_on_error: bool = True) -> Iterator[None]:
    """What C++ code writes to stderr inside the block is kept back, and shown if the block raises and `show_on_error`.

    Also around the TFLite and ONNX converters (train/outputs/tflite.py, train/outputs/onnx_export.py): their MLIR and
    grappler passes log through absl, which TF_CPP_MIN_LOG_LEVEL does not reach, dozens of lines per
    file; a converter's failure becomes our one line (`show_on_error=False`), not their log.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            if show_on_error:
                captured.seek(0)
                sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
