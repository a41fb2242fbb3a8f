"""TFLite metadata, as Model Maker writes it: what the input image is, how to normalise it, the labels.

With it, MediaPipe's ImageClassifier (and other TFLite Support consumers) load our `--tflite`
files as they are: they read the normalisation and the label file from the model itself.

Why our own writer: MediaPipe's metadata writers import a compiled module that its PyPI wheels
lack (`mediapipe.tasks.cc.metadata.python`), and the older ones pin numpy < 2 and protobuf < 5,
which TensorFlow cannot share. What we need of them is data, not code: the metadata schema's
generated flatbuffers classes, which the `mediapipe` wheel ships as plain Python, and TensorFlow
Lite's own model schema classes. The metadata goes into the model's `TFLITE_METADATA` buffer, and
the label file into a zip archive appended to the model, where the TFLite Support readers look.
"""

from __future__ import annotations

import io
import zipfile

import flatbuffers

from ..errors import TrainError

METADATA_NAME = "TFLITE_METADATA"
LABELS_FILE = "labels.txt"
#: The lowest metadata parser that reads the fields written here (all from the schema's first release).
MIN_PARSER_VERSION = "1.0.0"


def with_metadata(model: bytes, labels: list[str], mean: float, std: float, name: str, description: str) -> bytes:
    """`model` with image classifier metadata and its label file packed in."""
    schema = metadata_schema()
    metadata = schema.ModelMetadataT()
    metadata.name, metadata.description, metadata.version = name, description, "1"
    metadata.minParserVersion = MIN_PARSER_VERSION
    subgraph = schema.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [_image_input(schema, mean, std)]
    subgraph.outputTensorMetadata = [_probabilities_output(schema)]
    metadata.subgraphMetadata = [subgraph]
    builder = flatbuffers.Builder(0)
    builder.Finish(metadata.Pack(builder), b"M001")
    return _with_files(_with_metadata_buffer(model, bytes(builder.Output())), {LABELS_FILE: "\n".join(labels) + "\n"})


def metadata_schema():
    try:
        from mediapipe.tasks.metadata import metadata_schema_py_generated
    except ImportError:
        raise TrainError("--tflite writes TFLite metadata with the schema the mediapipe package ships: "
                         "pip install 'retrainkit[tflite]' (or leave --tflite out)") from None
    return metadata_schema_py_generated


def _image_input(schema, mean: float, std: float):
    image = schema.TensorMetadataT()
    image.name, image.description = "image", "Input image: RGB, resized and normalised as NormalizationOptions say."
    image.content = schema.ContentT()
    image.content.contentPropertiesType = schema.ContentProperties.ImageProperties
    image.content.contentProperties = schema.ImagePropertiesT()
    image.content.contentProperties.colorSpace = schema.ColorSpaceType.RGB
    normalisation = schema.ProcessUnitT()
    normalisation.optionsType = schema.ProcessUnitOptions.NormalizationOptions
    normalisation.options = schema.NormalizationOptionsT()
    normalisation.options.mean, normalisation.options.std = [mean], [std]
    image.processUnits = [normalisation]
    image.stats = schema.StatsT()
    image.stats.max, image.stats.min = [(255.0 - mean) / std], [(0.0 - mean) / std]
    return image


def _probabilities_output(schema):
    output = schema.TensorMetadataT()
    output.name, output.description = "probability", "The probability of each label."
    output.content = schema.ContentT()
    output.content.contentPropertiesType = schema.ContentProperties.FeatureProperties
    output.content.contentProperties = schema.FeaturePropertiesT()
    output.stats = schema.StatsT()
    output.stats.max, output.stats.min = [1.0], [0.0]
    labels = schema.AssociatedFileT()
    labels.name, labels.description = LABELS_FILE, "The labels, one a line, in output order."
    labels.type = schema.AssociatedFileType.TENSOR_AXIS_LABELS
    output.associatedFiles = [labels]
    return output


def _with_metadata_buffer(model: bytes, metadata: bytes) -> bytes:
    from tensorflow.lite.python import schema_py_generated as tflite

    parsed = tflite.ModelT.InitFromPackedBuf(bytearray(model), 0)
    buffer = tflite.BufferT()
    buffer.data = list(metadata)
    parsed.buffers.append(buffer)
    entry = tflite.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(parsed.buffers) - 1
    kept = [m for m in parsed.metadata or [] if _text(m.name) != METADATA_NAME]  # the converter's own entries stay
    parsed.metadata = kept + [entry]
    builder = flatbuffers.Builder(1024)
    builder.Finish(parsed.Pack(builder), b"TFL3")
    return bytes(builder.Output())


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else value or ""


def _with_files(model: bytes, files: dict[str, str]) -> bytes:
    """A zip archive appended to the model: the flatbuffer still reads from the start, the zip from the end."""
    packed = io.BytesIO(model)
    with zipfile.ZipFile(packed, "a") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return packed.getvalue()
