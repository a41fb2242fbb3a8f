"""The network runs on a few photos per call on a CPU: the answers must be those of one call on the batch."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import tensorflow as tf

from retrainkit.model import slicing
from train.network.efficientnet_lite import LITE0


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


@pytest.fixture
def on_a_cpu(monkeypatch, tmp_path):
    """No GPU, an empty user cache, nothing forced: slice_size measures."""
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(slicing.FORCE_VARIABLE, raising=False)
    slicing.force(None)
    slicing.forget_choices()
    yield tmp_path / "cache" / "retrainkit" / slicing.CHOICES_NAME
    slicing.force(None)
    slicing.forget_choices()


@pytest.mark.parametrize(("devices", "expected"), [(["GPU:0"], None), ([], slicing.CPU_SLICE)])
def test_a_gpu_takes_the_whole_batch_a_cpu_slices(on_a_cpu, monkeypatch, devices, expected):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: devices if kind == "GPU" else [])
    assert slicing.slice_size() == expected
    if devices:
        assert slicing.slice_size("some-network", lambda n: None) is None


def test_the_call_size_is_measured_once_per_machine_and_network_then_read_back(on_a_cpu):
    cost = {4: 0.012, 8: 0.002, 16: 0.008, 32: 0.02}  # seconds a probe takes at each size: 8 is this machine's best
    calls = []

    def probe(size):
        calls.append(size)
        time.sleep(cost[size])

    assert slicing.slice_size("net-a", probe) == 8
    measured = len(calls)
    assert measured == 1 + len(slicing.CANDIDATES) * 3  # a warm-up, then three timed rounds
    assert slicing.slice_size("net-a", probe) == 8 and len(calls) == measured  # remembered in the process
    slicing.forget_choices()
    assert slicing.slice_size("net-a", probe) == 8 and len(calls) == measured  # read back from the user's cache
    stored = json.loads(on_a_cpu.read_text())
    assert stored == {f"{slicing.machine()} | net-a": 8}
    cost.update({4: 0.002, 8: 0.02})
    assert slicing.slice_size("net-b", probe) == 4  # another network is measured on its own


def test_the_call_size_can_be_forced_and_then_nothing_is_measured(on_a_cpu, monkeypatch):
    def probe(size):
        raise AssertionError("measured although forced")

    monkeypatch.setenv(slicing.FORCE_VARIABLE, "6")
    assert slicing.slice_size("net-a", probe) == 6
    monkeypatch.delenv(slicing.FORCE_VARIABLE)
    slicing.force(12)  # [train] photos_per_call
    assert slicing.slice_size("net-a", probe) == 12
    assert not on_a_cpu.exists()


def test_a_real_network_gets_one_of_the_candidates(on_a_cpu):
    network = LITE0.build()
    features = tf.function(lambda x: network(x, training=False))
    assert slicing.slice_size("lite0-test", slicing.network_probe(features, 224)) in slicing.CANDIDATES
