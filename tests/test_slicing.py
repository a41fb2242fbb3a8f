"""The network runs on a few photos per call on a CPU: the answers must be those of one call on the batch."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from train import slicing
from train.efficientnet_lite import LITE0


def test_slices_join_back_every_kind_of_output():
    calls = []

    def network(x):
        calls.append(int(x.shape[0]))
        return {"double": x * 2, "sum": tf.reduce_sum(x, axis=1)}

    inputs = tf.reshape(tf.range(30, dtype=tf.float32), (10, 3))
    joined = slicing.in_slices(network, inputs, 4)
    assert calls == [4, 4, 2]
    np.testing.assert_array_equal(joined["double"], inputs * 2)
    np.testing.assert_array_equal(joined["sum"], tf.reduce_sum(inputs, axis=1))
    pair = slicing.in_slices(lambda x: (x, -x), inputs, 3)
    np.testing.assert_array_equal(pair[1], -inputs)
    np.testing.assert_array_equal(slicing.in_slices(lambda x: x + 1, inputs, None), inputs + 1)


def test_the_network_in_slices_gives_the_whole_batch_answers():
    network = LITE0.build()
    features = tf.function(lambda x: network(x, training=False))
    images = tf.random.stateless_uniform((9, 224, 224, 3), seed=(1, 2), minval=-1.0, maxval=1.0)
    np.testing.assert_allclose(slicing.in_slices(features, images, 4), features(images), atol=1e-4)


@pytest.mark.parametrize(("devices", "expected"), [(["GPU:0"], None), ([], slicing.CPU_SLICE)])
def test_a_gpu_takes_the_whole_batch_a_cpu_slices(monkeypatch, devices, expected):
    slicing.slice_size.cache_clear()
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: devices if kind == "GPU" else [])
    try:
        assert slicing.slice_size() == expected
    finally:
        slicing.slice_size.cache_clear()

