"""The trainable part: dropout and one softmax layer on top of the cached bottlenecks.

Trained with Adam, L2 on the weights, class weights (rare labels count as much as common ones),
and early stopping on validation loss that keeps the best epoch's weights. Progress is printed
the way retrain.py prints it (train accuracy, validation accuracy, cross entropy), and written
for TensorBoard.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .settings import TrainSettings


@dataclass
class History:
    epochs: int = 0
    best_epoch: int = 0
    lines: list[str] = field(default_factory=list)


def build_head(feature_dim: int, classes: int, settings: TrainSettings) -> keras.Model:
    inputs = keras.Input((feature_dim,), name="bottleneck")
    x = keras.layers.Dropout(settings.dropout, seed=settings.seed)(inputs)
    logits = keras.layers.Dense(classes, kernel_regularizer=keras.regularizers.L2(settings.l2), name="logits")(x)
    return keras.Model(inputs, logits, name="head")


def class_weights(labels: np.ndarray, classes: int) -> dict[int, float]:
    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    present = counts > 0
    weights = np.where(present, len(labels) / (present.sum() * np.maximum(counts, 1)), 0.0)
    return {i: float(w) for i, w in enumerate(weights)}


def train_head(
    features: np.ndarray,
    labels: np.ndarray,
    val_features: np.ndarray,
    val_labels: np.ndarray,
    classes: int,
    settings: TrainSettings,
    log_dir: Path,
    progress: bool = True,
) -> tuple[keras.Model, History]:
    """A plain training loop in a tf.function: on cached bottlenecks an epoch takes milliseconds,
    where keras' fit() spends tens of milliseconds per epoch on bookkeeping."""
    keras.utils.set_random_seed(settings.seed)
    head = build_head(features.shape[1], classes, settings)
    optimizer = keras.optimizers.Adam(settings.learning_rate)
    weights = class_weights(labels, classes)
    sample_weights = np.array([weights[int(y)] for y in labels], dtype=np.float32)
    step = _train_step(head, optimizer)
    measure = _measure(head)
    epochs = settings.epochs
    batches_per_epoch = max(1, math.ceil(len(features) / settings.batch_size))
    if settings.steps:
        epochs = max(1, math.ceil(settings.steps / batches_per_epoch))
    has_validation = len(val_features) > 0
    rng = np.random.default_rng(settings.seed)
    writer = tf.summary.create_file_writer(str(log_dir))
    history = History()
    best_loss, best_weights, waited = math.inf, head.get_weights(), 0
    every = max(1, epochs // 20)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(features))
        for start in range(0, len(order), settings.batch_size):
            batch = order[start:start + settings.batch_size]
            step(features[batch], labels[batch], sample_weights[batch])
        train_loss, train_accuracy = (float(v) for v in measure(features, labels))
        line = f"Epoch {epoch}: Train accuracy = {train_accuracy * 100:.1f}%, Cross entropy = {train_loss:.4f}"
        watched = train_loss
        with writer.as_default(step=epoch):
            tf.summary.scalar("train/cross_entropy", train_loss)
            tf.summary.scalar("train/accuracy", train_accuracy)
            if has_validation:
                val_loss, val_accuracy = (float(v) for v in measure(val_features, val_labels))
                tf.summary.scalar("validation/cross_entropy", val_loss)
                tf.summary.scalar("validation/accuracy", val_accuracy)
                line += f", Validation accuracy = {val_accuracy * 100:.1f}% (cross entropy {val_loss:.4f})"
                watched = val_loss
        history.lines.append(line)
        if progress and (epoch % every == 0 or epoch == 1):
            print(line, file=sys.stderr, flush=True)
        history.epochs = epoch
        if watched < best_loss - 1e-6:
            best_loss, best_weights, waited, history.best_epoch = watched, head.get_weights(), 0, epoch
        else:
            waited += 1
            if settings.patience and waited >= settings.patience:
                break  # early stopping: no better validation loss for `patience` epochs
    writer.close()
    head.set_weights(best_weights)
    return head, history


def _train_step(head: keras.Model, optimizer: keras.optimizers.Optimizer):
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

    @tf.function(reduce_retracing=True)
    def step(x, y, w):
        with tf.GradientTape() as tape:
            logits = head(x, training=True)
            loss = tf.reduce_sum(w * cross_entropy(y, logits)) / tf.reduce_sum(w) + tf.add_n(head.losses or [0.0])
        gradients = tape.gradient(loss, head.trainable_weights)
        optimizer.apply(gradients, head.trainable_weights)
        return loss

    return step


def _measure(head: keras.Model):
    """(mean cross entropy, accuracy) without dropout, the numbers retrain.py prints."""
    @tf.function(reduce_retracing=True)
    def measure(x, y):
        logits = head(x, training=False)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, axis=1), y), tf.float32))
        return loss, accuracy

    return measure
