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


class BestEpoch:
    """Early stopping that keeps the best weights: the one rule the head and fine-tuning share."""

    def __init__(self, model: keras.Model, patience: int, loss: float = math.inf, epoch: int = 0) -> None:
        self.model, self.patience = model, patience
        self.loss, self.epoch, self.weights, self.waited = loss, epoch, model.get_weights(), 0

    def should_stop(self, epoch: int, loss: float) -> bool:
        """Record `epoch`'s watched loss; True once `patience` epochs (0: never) brought nothing better."""
        if loss < self.loss - 1e-6:
            self.loss, self.epoch, self.weights, self.waited = loss, epoch, self.model.get_weights(), 0
            return False
        self.waited += 1
        return bool(self.patience) and self.waited >= self.patience

    def restore(self) -> None:
        self.model.set_weights(self.weights)


@dataclass
class EpochScores:
    """One point of a learning curve; None where it was not measured (no validation split; the
    running training numbers of fine-tuning's warm start, epoch 0, which had no training yet)."""

    epoch: int
    train_loss: float | None
    train_accuracy: float | None
    val_loss: float | None = None
    val_accuracy: float | None = None


@dataclass
class History:
    epochs: int = 0
    best_epoch: int = 0
    curve: list[EpochScores] = field(default_factory=list)


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
    """A plain training loop in a tf.function: on cached bottlenecks an epoch is little work, and keras'
    fit() would spend more than that per epoch on bookkeeping."""
    keras.utils.set_random_seed(settings.seed)
    head = build_head(features.shape[1], classes, settings)
    optimizer = keras.optimizers.Adam(settings.learning_rate)
    weights = class_weights(labels, classes)
    sample_weights = np.array([weights[int(y)] for y in labels], dtype=np.float32)
    step = train_step(head, optimizer)
    measure = _measure(head)
    epochs = settings.epochs
    batches_per_epoch = max(1, math.ceil(len(features) / settings.batch_size))
    if settings.steps:
        epochs = max(1, math.ceil(settings.steps / batches_per_epoch))
    has_validation = len(val_features) > 0
    rng = np.random.default_rng(settings.seed)
    writer = tf.summary.create_file_writer(str(log_dir))
    history = History()
    best = BestEpoch(head, settings.patience)
    every = max(1, epochs // 20)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(features))
        for start in range(0, len(order), settings.batch_size):
            batch = order[start:start + settings.batch_size]
            step(features[batch], labels[batch], sample_weights[batch])
        train_loss, train_accuracy = (float(v) for v in measure(features, labels))
        line = f"Epoch {epoch}: Train accuracy = {train_accuracy * 100:.1f}%, Cross entropy = {train_loss:.4f}"
        watched = train_loss
        scores = EpochScores(epoch, train_loss, train_accuracy)
        with writer.as_default(step=epoch):
            tf.summary.scalar("train/cross_entropy", train_loss)
            tf.summary.scalar("train/accuracy", train_accuracy)
            if has_validation:
                val_loss, val_accuracy = (float(v) for v in measure(val_features, val_labels))
                tf.summary.scalar("validation/cross_entropy", val_loss)
                tf.summary.scalar("validation/accuracy", val_accuracy)
                line += f", Validation accuracy = {val_accuracy * 100:.1f}% (cross entropy {val_loss:.4f})"
                watched = val_loss
                scores.val_loss, scores.val_accuracy = val_loss, val_accuracy
        history.curve.append(scores)
        if progress and (epoch % every == 0 or epoch == 1):
            print(line, file=sys.stderr, flush=True)
        history.epochs = epoch
        if best.should_stop(epoch, watched):
            break  # early stopping: no better validation loss for `patience` epochs
    writer.close()
    best.restore()
    history.best_epoch = best.epoch
    return head, history


def train_step(head: keras.Model, optimizer: keras.optimizers.Optimizer):
    """One class-weighted step of any model that outputs logits (the head, or the fine-tuned network)."""
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

    @tf.function(reduce_retracing=True)
    def step(x, y, w):
        with tf.GradientTape() as tape:
            logits = head(x, training=True)
            loss = tf.reduce_sum(w * cross_entropy(y, logits)) / tf.reduce_sum(w) + tf.add_n(head.losses or [0.0])
        gradients = tape.gradient(loss, head.trainable_weights)
        optimizer.apply(gradients, head.trainable_weights)
        return loss, logits

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


class FoldHeads:
    """k copies of the head above (dropout, one L2-regularised softmax layer, Adam, class weights),
    head f trained on every image outside fold f: out-of-fold probabilities for cross-validation.

    Stacked into one (k, features, classes) kernel they train together: each batch updates every
    head with the images outside its fold, and a whole epoch runs as one graph, traced once and
    reused by every `fit`. On a CPU that costs little more than one head, where k separate
    trainings would each pay for tracing and per-step overhead. There is no validation split
    inside a fold, so `fit` trains for a given number of epochs (the main head's early-stopped count).
    """

    def __init__(self, features: np.ndarray, labels: np.ndarray, folds: np.ndarray, classes: int, settings: TrainSettings) -> None:
        self.features, self.folds, self.classes, self.settings = features, folds, classes, settings
        self.k = k = int(folds.max()) + 1
        self.count, dim = features.shape
        self.kernel = tf.Variable(tf.zeros((k, dim, classes)), name="fold_kernels")
        self.bias = tf.Variable(tf.zeros((k, classes)), name="fold_biases")
        self.learnt_from = tf.Variable(tf.zeros((k, self.count)), name="learnt_from")
        self.optimizer = keras.optimizers.Adam(settings.learning_rate)
        self.optimizer.build([self.kernel, self.bias])
        weights = class_weights(labels, classes)
        self._x = tf.constant(features, tf.float32)
        self._y = tf.constant(labels, tf.int64)
        self._w = tf.constant([weights[int(y)] for y in labels], tf.float32)
        self._epoch = tf.function(self._run_epoch)

    def fit(self, epochs: int, trusted: np.ndarray | None = None, speed_up: int = 1) -> np.ndarray:
        """Train from scratch; images where `trusted` is False are judged but never learnt from.

        `speed_up` n takes n times larger batches at an n times larger learning rate for a fraction
        of the epochs: a rough, cheap fit, for a first look.
        """
        keras.utils.set_random_seed(self.settings.seed)
        self.optimizer.learning_rate.assign(self.settings.learning_rate * speed_up)
        initial = keras.initializers.GlorotUniform(seed=self.settings.seed)
        self.kernel.assign(tf.stack([initial(self.kernel.shape[1:]) for _ in range(self.k)]))
        self.bias.assign(tf.zeros_like(self.bias))
        for variable in self.optimizer.variables:
            if variable.name != "learning_rate":  # the step count and the moments start again
                variable.assign(tf.zeros_like(variable))
        learnt_from = self.folds[None, :] != np.arange(self.k)[:, None]
        if trusted is not None:
            learnt_from &= trusted[None, :]
        self.learnt_from.assign(learnt_from.astype(np.float32))
        rng = np.random.default_rng(self.settings.seed)
        batch_size = tf.constant(self.settings.batch_size * speed_up, tf.int32)
        for _ in range(max(1, epochs // (2 if speed_up > 1 else 1))):
            self._epoch(tf.constant(rng.permutation(self.count), tf.int32), batch_size)
        probabilities = np.zeros((self.count, self.classes), np.float32)
        kernel, bias = self.kernel.numpy(), self.bias.numpy()
        for fold in range(self.k):
            held_out = self.folds == fold
            probabilities[held_out] = tf.nn.softmax(self.features[held_out] @ kernel[fold] + bias[fold]).numpy()
        return probabilities

    def _run_epoch(self, order: tf.Tensor, batch_size: tf.Tensor) -> None:
        k, dropout = self.k, self.settings.dropout
        for start in tf.range(0, self.count, batch_size):
            batch = order[start:start + batch_size]
            x = tf.gather(self._x, batch)
            y = tf.broadcast_to(tf.gather(self._y, batch)[None, :], [k, tf.size(batch)])
            w = tf.gather(self.learnt_from, batch, axis=1) * tf.gather(self._w, batch)[None, :]
            with tf.GradientTape() as tape:
                dropped = tf.nn.dropout(x, dropout) if dropout > 0 else x
                logits = tf.einsum("bd,kdc->kbc", dropped, self.kernel) + self.bias[:, None, :]
                cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
                per_head = tf.reduce_sum(w * cross_entropy, axis=1) / tf.maximum(tf.reduce_sum(w, axis=1), 1e-9)
                loss = tf.reduce_sum(per_head) + self.settings.l2 * tf.reduce_sum(tf.square(self.kernel))
            self.optimizer.apply(tape.gradient(loss, [self.kernel, self.bias]), [self.kernel, self.bias])


def probabilities(head: keras.Model, features: np.ndarray) -> np.ndarray:
    """The head's softmax for rows of bottlenecks (none: an empty array of the right width)."""
    if not len(features):
        return np.zeros((0, head.output_shape[-1]), np.float32)
    return tf.nn.softmax(head(features, training=False)).numpy()


def accuracy(head: keras.Model, examples) -> float:
    """Top-1 accuracy on `examples` (train.examples.Examples); 0 for none."""
    if not len(examples):
        return 0.0
    return float((probabilities(head, examples.features).argmax(axis=1) == examples.labels).mean())
