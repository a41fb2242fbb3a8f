"""The ONNX file: the pixels-in signature converted by tf2onnx, with the labels in its metadata.

ONNX is what onnxruntime (Python, C#, Java, C++, JavaScript, mobile), OpenVINO and TensorRT load.
ONNX has no image decoder, so the file starts from pixels: float32 [batch, size, size, 3], RGB
0..255, cropped and resized as docs/export.md says. It returns `probabilities` and, with the open
set, `novelty` and `known` (the threshold is inside the graph). The label strings stay out of the
graph: they are in the file's metadata_props (`labels`, a JSON list in output order), where every
onnxruntime binding reads them.

Why tf2onnx's `from_function` at opset 17: it converts the Lite backbones and the k-nearest novelty
(matmul + top-k) from TensorFlow 2.21 (tf2onnx 1.17.0, checked by tests/test_export.py), and opset 17
is what onnxruntime-web and every onnxruntime since 1.12 run.
"""

from __future__ import annotations

import json
import logging

from retrainkit.quiet_tf import import_tensorflow, quiet_stderr

from ..errors import ConversionFailed, TrainError
from .exported_model import ExportedModel

OPSET = 17
FILE = "model.onnx"
INSTALL = "pip install 'retrainkit[onnx]'"


def require_tf2onnx():
    """tf2onnx, or one line saying what to install. TensorFlow first, quietly: tf2onnx imports it, chatter and all."""
    import_tensorflow()
    try:
        import tf2onnx
    except ImportError:
        raise TrainError(f"ONNX export needs tf2onnx: {INSTALL}") from None
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)  # it logs every rewrite at INFO
    return tf2onnx


def onnx_bytes(model: ExportedModel) -> bytes:
    """The serialised ONNX model of `model`'s pixels-in signature, its labels and preprocessing in metadata_props."""
    tf2onnx = require_tf2onnx()
    function = model.function(None, model.outputs())
    try:
        with quiet_stderr(show_on_error=False):
            proto, _ = tf2onnx.convert.from_function(function, input_signature=list(function.input_signature), opset=OPSET)
    except Exception as error:  # noqa: BLE001 - the converter raises many kinds for unsupported ops
        raise ConversionFailed(f"{model.folder}: tf2onnx could not convert the model to ONNX ({type(error).__name__}: "
                               f"{_first_line(error)})") from None
    _tidy(proto)
    for key, value in metadata(model).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name, proto.doc_string = "retrainkit", f"Image classifier trained by retrainkit on {model.backbone} features."
    return proto.SerializeToString()


def metadata(model: ExportedModel) -> dict[str, str]:
    """What a caller needs beside the graph: the labels in output order and how to make the pixels."""
    preprocessing = model.preprocessing
    described = {
        "labels": json.dumps(model.labels),
        "image_size": str(preprocessing.image_size),
        "input": "pixels: float32[batch, size, size, 3], RGB 0..255, centre crop 0.875 and bicubic resize (docs/export.md)",
        "backbone": model.backbone,
    }
    if model.open_set:
        described["novelty_threshold"] = str(model.open_set.threshold)
    return described


def _tidy(proto) -> None:
    """Leave the caller one input, and a batch dimension called `batch` instead of tf2onnx's unk__N.

    The label names are a constant the signature captures; the outputs converted do not need them,
    but tf2onnx still declares the capture as a graph input that no node reads.
    """
    read = {name for node in proto.graph.node for name in node.input}
    unused = [value for value in proto.graph.input if value.name not in read]
    for value in unused:
        proto.graph.input.remove(value)
    for value in list(proto.graph.input) + list(proto.graph.output):
        first = value.type.tensor_type.shape.dim[:1]
        if first and first[0].dim_param:
            first[0].dim_param = "batch"


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else "no message"

