"""Benchmark: bottleneck extraction and the whole `train` command on ../shared/data/flowers-dev.

    python bench/train.py [--data ../shared/data/flowers-dev] [--skip-cli] [--long-side 800]

Prints, in one run:
- extraction images/s of our pipeline (next batch decoded in a thread while the network runs),
  of a batch-1 per-image loop (retrain.py's way), and of the model alone on images decoded
  beforehand (the upper limit), with the ratios;
- the wall time of `train` cold (empty bottleneck cache), warm (`--force`: caches filled, trained
  again), and again with nothing changed (the model kept), and the test accuracy.

`--long-side 800` runs it on copies of the photos scaled to 800 px on the long side (JPEG quality
90), the size Flickr serves by default.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tensorflow as tf  # noqa: E402

from retrainkit.model.preprocessing import preprocess  # noqa: E402
from retrainkit.model.slicing import in_slices, slice_size  # noqa: E402
from train.features.cache import BottleneckCache  # noqa: E402
from train.features.decoding import Job  # noqa: E402
from train.features.extraction import extract  # noqa: E402
from train.network import backbones  # noqa: E402

FLOWERS = ROOT.parent / "shared" / "data" / "flowers-dev"


def scaled_copies(data: Path, target: Path, long_side: int) -> Path:
    from PIL import Image

    for source in sorted(p for p in data.glob("*/*") if p.is_file()):
        with Image.open(source) as image:
            image = image.convert("RGB")
            scale = long_side / max(image.size)
            resized = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)
        (target / source.parent.name).mkdir(parents=True, exist_ok=True)
        resized.save(target / source.parent.name / f"{source.stem}.jpg", "JPEG", quality=90)
    return target


def ours(files: list[Path], backbone, folder: Path) -> float:
    cache = BottleneckCache(folder, backbone.id + "-bench")
    jobs = [Job(f"k{i}", path) for i, path in enumerate(files)]
    started = time.perf_counter()
    computed, failed = extract(jobs, backbone, cache, 32, progress=False)
    seconds = time.perf_counter() - started
    cache.close()
    assert computed == len(files) and not failed
    return seconds


def batch_one(files: list[Path], backbone) -> float:
    """retrain.py's loop, in TF2 terms: per image, one graph call to decode (its first sess.run), the
    pixels back to numpy, one graph call of the network on a batch of one (its second sess.run)."""
    size = backbone.preprocessing.image_size
    features = tf.function(backbone.features, input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32)])
    decode = tf.function(lambda data: preprocess(data, backbone.preprocessing))
    features(tf.zeros([1, size, size, 3]))
    started = time.perf_counter()
    for path in files:
        pixels = decode(tf.io.read_file(str(path))).numpy()
        features(pixels[None]).numpy()
    return time.perf_counter() - started


def batch_one_eager(files: list[Path], backbone) -> float:
    """The same loop calling the network eagerly, as a straight TF2 port of retrain.py would."""
    started = time.perf_counter()
    for path in files:
        pixels = preprocess(tf.io.read_file(str(path)), backbone.preprocessing).numpy()
        backbone.features(tf.constant(pixels[None])).numpy()
    return time.perf_counter() - started


def model_alone(files: list[Path], backbone, per_call: int | None = None) -> float:
    """The network on images decoded beforehand, in batches of 32 called `per_call` photos at a time
    (default: as extraction calls it here, see retrainkit/model/slicing.py)."""
    per_call = per_call or slice_size() or 32
    size = backbone.preprocessing.image_size
    features = tf.function(backbone.features, input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
    decode = tf.function(lambda data: preprocess(data, backbone.preprocessing))
    images = tf.stack([decode(tf.io.read_file(str(p))) for p in files])
    features(images[:32])
    started = time.perf_counter()
    for start in range(0, len(files), 32):
        in_slices(features, images[start:start + 32], per_call).numpy()
    return time.perf_counter() - started


def cli_runs(data: Path, tmp: Path) -> None:
    dataset = tmp / "flowers"
    shutil.copytree(data, dataset)
    script = Path(sys.executable).parent / "train"
    meaning = {"cold": "empty caches", "warm": "caches filled, trained again", "unchanged": "nothing changed: the model kept"}
    for kind, extra in (("cold", ["--force"]), ("warm", ["--force"]), ("unchanged", [])):
        started = time.perf_counter()
        subprocess.run([str(script), str(dataset), "--out", str(tmp / "model"), "-q", *extra], check=True, capture_output=True)
        print(f"train, {kind:9s}: {time.perf_counter() - started:6.1f} s wall (a fresh process, TensorFlow start-up included; "
              f"{meaning[kind]})")
    metrics = json.loads((tmp / "model" / "metrics.json").read_text())
    test = metrics["test"]
    print(f"test accuracy on flowers-dev's test split: {test['accuracy'] * 100:.1f}% of {test['count']} images "
          f"(validation {metrics['validation_accuracy'] * 100:.1f}%, {metrics['images']['train']} training images)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(FLOWERS))
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best time of each counts")
    parser.add_argument("--long-side", type=int, default=0, help="scale copies of the photos to this many px on the long side")
    args = parser.parse_args()
    data = Path(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        if args.long_side:
            data = scaled_copies(data, Path(tmp) / f"long{args.long_side}", args.long_side)
        files = sorted(p for p in data.glob("*/*") if p.is_file())
        if not files:
            sys.exit(f"no images under {data}")
        backbone = backbones.load("efficientnet_lite0")
        ours(files[:8], backbone, Path(tmp) / "warm-up")  # trace our graphs, as the others are traced before timing
        # Best of alternating rounds: this machine's speed drifts by half from minute to minute.
        limit_s = ours_s = one_s = whole_s = float("inf")
        for round_ in range(args.rounds):
            limit_s = min(limit_s, model_alone(files, backbone))
            whole_s = min(whole_s, model_alone(files, backbone, 32))
            ours_s = min(ours_s, ours(files, backbone, Path(tmp) / f"round{round_}"))
            one_s = min(one_s, batch_one(files, backbone))
        eager_s = batch_one_eager(files[:100], backbone) * len(files) / 100
        n = len(files)
        print(f"{n} images from {data}, backbone efficientnet_lite0, {os.cpu_count()} cores, best of {args.rounds} rounds")
        print(f"extraction, ours (batches of 32, overlapped): {n / ours_s:6.1f} images/s")
        print(f"extraction, batch-1 loop (retrain.py)     : {n / one_s:6.1f} images/s   ours / this = {one_s / ours_s:.2f}x")
        print(f"extraction, batch-1 loop, eager network   : {n / eager_s:6.1f} images/s   ours / this = {eager_s / ours_s:.2f}x "
              f"(first 100 images)")
        print(f"model alone on decoded tensors (limit)    : {n / limit_s:6.1f} images/s   ours / this = {limit_s / ours_s:.2f} "
              f"({slice_size() or 32} photos a call)")
        print(f"model alone, 32 photos a call             : {n / whole_s:6.1f} images/s   ours / this = {whole_s / ours_s:.2f}")
        if not args.skip_cli:
            cli_runs(data, Path(tmp))


if __name__ == "__main__":
    main()
