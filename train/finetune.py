"""Fine-tuning: the last blocks of the embedded backbone trained together with the head.

The seed tutorials' second method: once the head has learnt on frozen features (its warm
start), unfreeze the top of the network and train both with augmentation, a small learning rate
that decays (cosine), and early stopping on validation loss that keeps the best epoch.

Why it is cheap on a CPU: the frozen part's output (the activations entering the first
unfrozen block) is cached per image and per augmentation variant, keyed like the bottlenecks
(content hash + variant, per backbone and cut point), so an epoch only runs the top blocks.

BatchNorm: the embedded port folds each BatchNorm into the convolution before it (scale into the
kernel, shift into the bias), so there are no BatchNorm layers and no batch statistics. Training
the folded kernels and biases is what fine-tuning with BatchNorm frozen in inference mode does
(Keras' own advice for fine-tuning): the running statistics of ImageNet stay, the affine part
learns. Small datasets get no noisy batch statistics this way.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import efficientnet_lite
from .errors import TrainError
from .head import BestEpoch, class_weights, train_step
from .settings import TrainSettings


@dataclass
class FineTuneHistory:
    epochs: int = 0
    best_epoch: int = 0
    lines: list[str] = field(default_factory=list)
    #: per epoch from 0 (the warm start), the loss early stopping watched (validation, else training cross entropy)
    watched: list[float] = field(default_factory=list)


def cut_for(blocks: int) -> int:
    """The first block trained when the last `blocks` blocks are unfrozen."""
    total = len(efficientnet_lite.BLOCKS)
    if not 1 <= blocks <= MAX_BLOCKS:
        raise TrainError(f"--fine-tune takes 1 to {MAX_BLOCKS} blocks (the last ones of {total})")
    return total - blocks


#: Deeper cuts cache activations too large per image (block 8 in: 14x14x80 floats, 63 KB).
MAX_BLOCKS = 8


def build_model(cut: int, head: keras.Model, settings: TrainSettings) -> keras.Model:
    """Activations entering block `cut` -> logits: the top of the backbone (ImageNet weights) and the trained head."""
    top = efficientnet_lite.build_top(cut)
    inputs = keras.Input(top.input_shape[1:], name="activations")
    x = keras.layers.Dropout(settings.dropout, seed=settings.seed)(top(inputs))
    dense = keras.layers.Dense(head.output_shape[-1], kernel_regularizer=keras.regularizers.L2(settings.l2), name="logits")
    logits = dense(x)
    dense.set_weights(head.get_layer("logits").get_weights())
    return keras.Model(inputs, logits, name="fine_tuned")


def fine_tune(model: keras.Model, train: tuple[np.ndarray, np.ndarray], validation: tuple[np.ndarray, np.ndarray],
              classes: int, settings: TrainSettings, log_dir: Path, progress: bool = True) -> FineTuneHistory:
    """Train `model` in place; the weights of the epoch with the lowest validation loss are kept
    (epoch 0, the untouched warm start, included: `best_epoch` 0 means fine-tuning did not help)."""
    keras.utils.set_random_seed(settings.seed)
    features, labels = train
    batches = max(1, math.ceil(len(features) / settings.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(settings.fine_tune_learning_rate, batches * settings.fine_tune_epochs)
    optimizer = keras.optimizers.Adam(schedule)
    weights = class_weights(labels, classes)
    sample_weights = np.array([weights[int(y)] for y in labels], dtype=np.float32)
    step, measure = train_step(model, optimizer), _measure(model)
    rng = np.random.default_rng(settings.seed)
    writer = tf.summary.create_file_writer(str(log_dir / "fine_tune"))
    history = FineTuneHistory()
    # Epoch 0 is the head's warm start: if no epoch beats it on validation, fine-tuning changes nothing.
    start_loss, _ = _epoch_line(0, measure, train, validation)
    best = BestEpoch(model, settings.fine_tune_patience, loss=start_loss)
    history.watched.append(start_loss)
    for epoch in range(1, settings.fine_tune_epochs + 1):
        order = rng.permutation(len(features))
        for start in range(0, len(order), settings.batch_size):
            batch = order[start:start + settings.batch_size]
            step(features[batch], labels[batch], sample_weights[batch])
        watched, line = _epoch_line(epoch, measure, train, validation)
        with writer.as_default(step=epoch):
            tf.summary.scalar("fine_tune/watched_cross_entropy", watched)
        history.lines.append(line)
        history.watched.append(watched)
        if progress:
            print(line, file=sys.stderr, flush=True)
        history.epochs = epoch
        if best.should_stop(epoch, watched):
            break
    writer.close()
    best.restore()
    history.best_epoch = best.epoch
    return history


def probabilities(model: keras.Model, features: np.ndarray, batch_size: int = 64) -> np.ndarray:
    if not len(features):
        return np.zeros((0, model.output_shape[-1]), np.float32)
    return np.concatenate([tf.nn.softmax(model(features[i:i + batch_size], training=False)).numpy()
                           for i in range(0, len(features), batch_size)])


def copy_into_backbone(model: keras.Model, network: keras.Model) -> int:
    """Put the fine-tuned top's weights into the full backbone (same layer names); returns the layers copied."""
    top = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    copied = 0
    for layer in top.layers:
        if layer.weights:
            network.get_layer(layer.name).set_weights(layer.get_weights())
            copied += 1
    return copied


def dense_head(model: keras.Model, settings: TrainSettings) -> keras.Model:
    """The fine-tuned softmax layer as a stand-alone head, the shape export() takes."""
    from .head import build_head

    logits = model.get_layer("logits")
    head = build_head(logits.kernel.shape[0], logits.kernel.shape[1], settings)
    head.get_layer("logits").set_weights(logits.get_weights())
    return head


def _epoch_line(epoch: int, measure, train, validation) -> tuple[float, str]:
    train_loss, train_accuracy = measure(*train)
    line = f"Fine-tune epoch {epoch}: Train accuracy = {train_accuracy * 100:.1f}%, Cross entropy = {train_loss:.4f}"
    if not len(validation[0]):
        return train_loss, line
    val_loss, val_accuracy = measure(*validation)
    return val_loss, line + f", Validation accuracy = {val_accuracy * 100:.1f}% (cross entropy {val_loss:.4f})"


def _measure(model: keras.Model, batch_size: int = 64):
    """(mean cross entropy, accuracy) like head._measure, but in batches: activations are ~40 KB a photo,
    where the head's bottlenecks fit in one call."""
    @tf.function(reduce_retracing=True)
    def batch_sums(x, y):
        logits = model(x, training=False)
        loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        right = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, axis=1), y), tf.float32))
        return loss, right

    def measure(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        loss = right = 0.0
        for start in range(0, len(x), batch_size):
            batch_loss, batch_right = batch_sums(x[start:start + batch_size], y[start:start + batch_size])
            loss, right = loss + float(batch_loss), right + float(batch_right)
        return loss / max(1, len(x)), right / max(1, len(x))

    return measure
