"""A small image feature-vector SavedModel, built by the tests, in TF Hub's convention.

It stands in for a downloaded TF Hub model: (N, 64, 64, 3) floats in [0, 1] in, (N, 16) features
out, served from a local folder. Its features are fixed random projections of colour statistics,
enough for a head to tell generated pictures of different colours apart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

SIZE = 64
FEATURES = 64


class _TinyFeatures(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(7)
        self.kernel = tf.Variable(rng.normal(0, 0.3, (3, 3, 3, FEATURES)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, SIZE, SIZE, 3], tf.float32)])
    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        x = tf.nn.conv2d(images * 2.0 - 1.0, self.kernel, strides=2, padding="SAME")
        return tf.reduce_mean(tf.nn.relu(x), axis=[1, 2])


def build_tiny_backbone(folder: Path) -> Path:
    module = _TinyFeatures()
    tf.saved_model.save(module, str(folder))
    return folder
