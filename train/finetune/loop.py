"""Fine-tuning: the last blocks of the embedded backbone trained together with the head.

The seed tutorials' second method: once the head has learnt on frozen features (its warm
start), unfreeze the top of the network and train both with augmentation, a small learning rate
that decays (cosine), and early stopping on validation loss that keeps the best epoch.

Why it is cheap on a CPU: the frozen part's output (the activations entering the first
unfrozen block) is cached per image and per augmentation variant, keyed like the bottlenecks
(content hash + variant, per backbone and cut point), so an epoch only runs the top blocks.
`--fine-tune all` has no cut to cache at: the whole network trains from the image files, with a
fresh random augmentation of every photo in every epoch (images.py), at the price of
running the full network forwards and backwards per photo and epoch: a job for a GPU, which
TensorFlow uses when it sees one.

BatchNorm: the embedded port folds each BatchNorm into the convolution before it (scale into the
kernel, shift into the bias), so there are no BatchNorm layers and no batch statistics. Training
the folded kernels and biases is what fine-tuning with BatchNorm frozen in inference mode does
(Keras' own advice for fine-tuning): the running statistics of ImageNet stay, the affine part
learns. Small datasets get no noisy batch statistics this way.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from ..head import BestEpoch, EpochScores, class_weights, train_step
from ..network import efficientnet_lite
from ..settings import TrainSettings
from .temperature import calibrated, cross_entropy

#: (inputs, labels, positions of these rows in the source) - rows a source could not decode are left out
Batch = tuple[np.ndarray | tf.Tensor, np.ndarray, np.ndarray]


class BatchSource(Protocol):
    """Where fine-tuning's examples come from: cached activations in memory, or the image files."""

    labels: np.ndarray
    #: the dataset path of each example (may be empty where nobody asks)
    paths: list[str]

    def epoch(self, number: int) -> Iterator[Batch]:
        """Epoch `number`'s training batches: shuffled, augmented where the source augments."""

    def plain(self) -> Iterator[Batch]:
        """Every example once, in order, not augmented: for measuring and predicting."""


class ArrayBatches:
    """Examples already in memory (the activations at the cut, every cached variant as a row).

    An epoch goes over every row: each training photo in each of its cached variants. (One
    variant drawn per photo per epoch, fewer steps, was measured too, and gained less over the
    frozen head than this way: bench/finetune.py's choices compared, figures in bench/README.md.)
    """

    def __init__(self, inputs: np.ndarray, labels: np.ndarray, batch_size: int, seed: int = 0,
                 paths: list[str] | None = None) -> None:
        self.inputs, self.labels, self.batch_size, self.paths = inputs, labels, batch_size, paths or []
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.labels)

    def epoch(self, number: int) -> Iterator[Batch]:
        return self._batches(self._rng.permutation(len(self.labels)))

    def plain(self) -> Iterator[Batch]:
        return self._batches(np.arange(len(self.labels)))

    def _batches(self, order: np.ndarray) -> Iterator[Batch]:
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            yield self.inputs[rows], self.labels[rows], rows


@dataclass
class FineTuneHistory:
    epochs: int = 0
    best_epoch: int = 0
    #: per epoch from 0 (the warm start), the loss early stopping watched: validation (else training) cross
    #: entropy at its best temperature (see `calibrated`)
    watched: list[float] = field(default_factory=list)
    #: the kept epoch's temperature, folded into the logits layer
    temperature: float = 1.0
    #: per epoch from 0; training numbers are the running ones of the epoch's (augmented, dropout) batches
    curve: list[EpochScores] = field(default_factory=list)
    seconds: float = 0.0


def relative_cost(lite: efficientnet_lite.Variant, cut: int) -> float:
    """An example of fine-tuning from block `cut` of `lite` against one of Lite0's last block (the unit of
    fine_tune_max_examples), by multiply-adds: Lite2's last block 1.9, Lite0's last two 1.47."""
    unit = efficientnet_lite.LITE0
    return lite.top_cost(cut) / unit.top_cost(len(unit.blocks) - 1)


def build_model(lite: efficientnet_lite.Variant, cut: int | None, head: keras.Model, settings: TrainSettings) -> keras.Model:
    """The trained part and the head, warm-started: activations entering block `cut` -> logits, or with
    `cut` None (--fine-tune all) the image -> logits through the whole backbone, ImageNet weights."""
    network = lite.build() if cut is None else lite.build_top(cut)
    inputs = keras.Input(network.input_shape[1:], name="image" if cut is None else "activations")
    x = keras.layers.Dropout(settings.dropout, seed=settings.seed)(network(inputs))
    dense = keras.layers.Dense(head.output_shape[-1], kernel_regularizer=keras.regularizers.L2(settings.l2), name="logits")
    logits = dense(x)
    dense.set_weights(head.get_layer("logits").get_weights())
    return keras.Model(inputs, logits, name="fine_tuned")


def fine_tune(model: keras.Model, train: BatchSource, validation: BatchSource | None, classes: int, settings: TrainSettings,
              log_dir: Path, progress: bool = True, cost: float = 1.0) -> FineTuneHistory:
    """Train `model` in place; the weights of the epoch with the lowest validation loss are kept
    (epoch 0, the untouched warm start, included: `best_epoch` 0 means fine-tuning did not help).
    `cost`: an example's cost in fine_tune_max_examples' unit (relative_cost), which bounds the epochs.

    One progress bar over every epoch's images: its ETA is the time left if no early stop comes.
    """
    started = time.perf_counter()
    keras.utils.set_random_seed(settings.seed)
    examples = len(train.labels)
    epochs = settings.fine_tune_epochs_for(examples, cost)
    batches = max(1, math.ceil(examples / settings.batch_size))
    rate = settings.fine_tune_all_learning_rate if settings.fine_tune_all else settings.fine_tune_learning_rate
    schedule = keras.optimizers.schedules.CosineDecay(rate, batches * epochs)
    optimizer = keras.optimizers.Adam(schedule)
    weights = class_weights(train.labels, classes)
    sample_weights = np.array([weights[int(y)] for y in range(classes)], dtype=np.float32)
    step, measure = train_step(model, optimizer), _measure(model)
    has_validation = validation is not None and len(validation.labels) > 0
    watched_source = validation if has_validation else train
    writer = tf.summary.create_file_writer(str(log_dir / "fine_tune"))
    history = FineTuneHistory()
    # Epoch 0 is the head's warm start: if no epoch beats it, fine-tuning changes nothing.
    start = measure(watched_source)
    history.curve.append(EpochScores(0, None, None, start.loss, start.accuracy) if has_validation
                         else EpochScores(0, start.loss, start.accuracy))
    history.watched.append(start.calibrated)
    temperatures = [start.temperature]
    best = BestEpoch(model, settings.fine_tune_patience, loss=start.calibrated)
    with tqdm(total=examples * epochs, desc="fine-tune", unit="img", disable=not progress) as bar:
        for epoch in range(1, epochs + 1):
            loss_sum = right = seen = 0.0
            for inputs, labels, _ in train.epoch(epoch):
                loss, logits = step(inputs, labels, sample_weights[labels])
                loss_sum += float(loss) * len(labels)
                right += float(np.sum(np.argmax(logits.numpy(), axis=1) == labels))
                seen += len(labels)
                bar.update(len(labels))
            scores = EpochScores(epoch, loss_sum / max(1, seen), right / max(1, seen))
            line = (f"Fine-tune epoch {epoch}: Train accuracy = {scores.train_accuracy * 100:.1f}%, "
                    f"Cross entropy = {scores.train_loss:.4f}")
            measured = measure(watched_source)
            if has_validation:
                scores.val_loss, scores.val_accuracy = measured.loss, measured.accuracy
                line += (f", Validation accuracy = {scores.val_accuracy * 100:.1f}% (cross entropy {scores.val_loss:.4f}, "
                         f"{measured.calibrated:.4f} at temperature {measured.temperature:.2f})")
            watched = measured.calibrated
            with writer.as_default(step=epoch):
                tf.summary.scalar("fine_tune/watched_cross_entropy", watched)
            history.watched.append(watched)
            temperatures.append(measured.temperature)
            history.curve.append(scores)
            if progress:
                bar.write(line)
            history.epochs = epoch
            if best.should_stop(epoch, watched):
                break
    writer.close()
    best.restore()
    history.best_epoch = best.epoch
    history.temperature = temperatures[best.epoch]
    _fold_temperature(model, history.temperature)
    history.seconds = time.perf_counter() - started
    return history


def _fold_temperature(model: keras.Model, temperature: float) -> None:
    """logits / T as the logits layer's own output: the kept model gives its calibrated probabilities."""
    logits = model.get_layer("logits")
    kernel, bias = logits.get_weights()
    logits.set_weights([kernel / temperature, bias / temperature])


def probabilities(model: keras.Model, source: BatchSource) -> tuple[np.ndarray, np.ndarray]:
    """(softmax rows, their positions in `source`): rows a source could not decode are absent."""
    logits = _predict(model)
    return _over_plain(lambda inputs: tf.nn.softmax(logits(inputs)), source, model.output_shape[-1])


def features(model: keras.Model, source: BatchSource) -> tuple[np.ndarray, np.ndarray]:
    """(the fine-tuned network's pooled features, the head's input, per plain example; their positions):
    the space the exported model's novelty reference lives in."""
    network = _network(model)
    return _over_plain(_predict(network), source, network.output_shape[-1])


def _over_plain(function, source: BatchSource, width: int) -> tuple[np.ndarray, np.ndarray]:
    """`function` over a source's plain batches: (its rows, their positions in `source`)."""
    rows, positions = [], []
    for inputs, _, where in source.plain():
        rows.append(function(inputs).numpy())
        positions.append(where)
    if not rows:
        return np.zeros((0, width), np.float32), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(positions)


def _network(model: keras.Model) -> keras.Model:
    """The trained part of the backbone inside a fine-tuning model (the layer that is itself a model)."""
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def copy_into_backbone(model: keras.Model, network: keras.Model) -> int:
    """Put the fine-tuned top's weights into the full backbone (same layer names); returns the layers copied."""
    top = _network(model)
    copied = 0
    for layer in top.layers:
        if layer.weights:
            network.get_layer(layer.name).set_weights(layer.get_weights())
            copied += 1
    return copied


def dense_head(model: keras.Model, settings: TrainSettings) -> keras.Model:
    """The fine-tuned softmax layer as a stand-alone head, the shape export() takes."""
    from ..head import build_head

    logits = model.get_layer("logits")
    head = build_head(logits.kernel.shape[0], logits.kernel.shape[1], settings)
    head.get_layer("logits").set_weights(logits.get_weights())
    return head


def _predict(model: keras.Model):
    """Inference traced once per model (not once per batch shape: the last batch is shorter); the traced
    function lives as long as the model does, and holds it only weakly so that it does not keep it alive."""
    function = _INFERENCE.get(model)
    if function is None:
        spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
        held = weakref.ref(model)

        def inference(images):
            return held()(images, training=False)

        function = _INFERENCE[model] = tf.function(inference, input_signature=[spec])
    return function


#: model -> its traced inference (`_predict`)
_INFERENCE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass
class Measured:
    """A model's numbers over a source's plain examples."""

    loss: float
    accuracy: float
    #: the cross entropy at the temperature that makes it lowest, and that temperature (see calibrated)
    calibrated: float
    temperature: float


def _measure(model: keras.Model):
    """Measured numbers over a source's plain examples, without dropout, in batches:
    activations are ~40 KB a photo and images 600 KB, where the head's bottlenecks fit in one call."""
    logits_of = _predict(model)

    def measure(source: BatchSource) -> Measured:
        logits, labels = [], []
        for inputs, batch_labels, _ in source.plain():
            logits.append(logits_of(inputs).numpy())
            labels.append(batch_labels)
        if not logits:
            return Measured(0.0, 0.0, 0.0, 1.0)
        logits, labels = np.concatenate(logits).astype(np.float64), np.concatenate(labels)
        return Measured(cross_entropy(logits, labels), float(np.mean(logits.argmax(axis=1) == labels)), *calibrated(logits, labels))

    return measure
