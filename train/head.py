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
    keras.utils.set_random_seed(settings.seed)
    head = build_head(features.shape[1], classes, settings)
    head.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    epochs = settings.epochs
    if settings.steps:
        epochs = max(1, math.ceil(settings.steps / max(1, math.ceil(len(features) / settings.batch_size))))
    history = History()
    has_validation = len(val_features) > 0
    monitor = "val_loss" if has_validation else "loss"
    callbacks = [
        keras.callbacks.EarlyStopping(monitor=monitor, patience=settings.patience, restore_best_weights=True),
        keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False),
        _RetrainStyleLog(history, epochs, progress),
    ]
    fit = head.fit(
        features,
        labels,
        validation_data=(val_features, val_labels) if has_validation else None,
        epochs=epochs,
        batch_size=settings.batch_size,
        class_weight=class_weights(labels, classes),
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )
    losses = fit.history[monitor]
    history.epochs = len(losses)
    history.best_epoch = int(np.argmin(losses)) + 1
    return head, history


class _RetrainStyleLog(keras.callbacks.Callback):
    """One line every few epochs, as retrain.py prints every few steps."""

    def __init__(self, history: History, epochs: int, progress: bool) -> None:
        super().__init__()
        self.history_out = history
        self.every = max(1, epochs // 20)
        self.progress = progress

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        line = (f"Epoch {epoch + 1}: Train accuracy = {logs.get('accuracy', 0) * 100:.1f}%, "
                f"Cross entropy = {logs.get('loss', 0):.4f}")
        if "val_accuracy" in logs:
            line += f", Validation accuracy = {logs['val_accuracy'] * 100:.1f}% (cross entropy {logs['val_loss']:.4f})"
        self.history_out.lines.append(line)
        if self.progress and (epoch % self.every == 0):
            print(line, file=sys.stderr, flush=True)
