"""Benchmark: the whole network's images/s by photos per call, and the size retrainkit/model/slicing.py picks here.

    python bench/network_slices.py [--backbones efficientnet_lite0,efficientnet_lite1,efficientnet_lite2] [--seconds 6]

Per backbone and call size (1, 2, 4, 8, 32 photos), the best of two runs of `--seconds` each on
random inputs of the backbone's size, after a warm-up call; printed with the ratio against 32 photos
a call, the batch extraction used before slicing. On a CPU the best size is where the first
blocks' activations still fit in the processor's cache; a GPU prefers the widest batch. Then the
size slicing's own short measurement chooses on this machine (what extraction, classify and serve
use), with its rate against one call of 32 and against slices of 4 (the fixed size before).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tensorflow as tf

from retrainkit.model import slicing
from train.network.efficientnet_lite import VARIANTS

SIZES = (1, 2, 4, 8, 16, 32)


def rate(features, size: int, image_size: int, seconds: float) -> float:
    images = tf.random.uniform((size, image_size, image_size, 3), -1.0, 1.0)
    features(images).numpy()
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        features(images).numpy()
        done += size
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", default=",".join(VARIANTS))
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, GPU: {bool(tf.config.list_physical_devices('GPU'))}; images/s, best of 2 runs of {args.seconds:.0f} s")
    for name in args.backbones.split(","):
        variant = VARIANTS[name]
        network = variant.build()
        size = variant.image_size
        features = tf.function(lambda images, network=network: network(images, training=False),
                               input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
        best = {n: max(rate(features, n, size, args.seconds) for _ in range(2)) for n in SIZES}
        print(f"{name}: " + ", ".join(f"{n} a call {best[n]:.1f} ({best[n] / best[32]:.2f}x)" for n in SIZES), flush=True)
        chosen = slicing.measure(slicing.network_probe(features, size))
        print(f"  slicing's measurement chooses {chosen} a call here: {best[chosen] / best[32]:.2f}x one call of 32, "
              f"{best[chosen] / best[4]:.2f}x slices of 4, {best[chosen] / max(best.values()):.2f} of the best size", flush=True)


if __name__ == "__main__":
    main()
