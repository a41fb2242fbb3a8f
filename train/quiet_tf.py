"""Import TensorFlow without its start-up chatter on the terminal.

TensorFlow's C++ core prints absl and CUDA-probe lines to stderr while it is imported, before any
Python setting can stop them; on a CPU-only machine they are noise in front of our one-line
messages. They are captured during the import and shown only if the import fails.
"""

from __future__ import annotations

import os
import sys
import tempfile


def import_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow as tf

            tf.config.list_logical_devices()  # the device probe prints too; let it happen now
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
