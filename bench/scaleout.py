"""Benchmark: the Beam pipeline on the DirectRunner against the local path, on the same photos, in one run.

    python bench/scaleout.py [--dataset ../shared/data/flowers-dev] [--copies 1] [--workers 2] [--rounds 1]

Both do the two per-image steps from cold caches on a private copy of the tree: the local path is
`curate.scan` + train's bottleneck extraction (what `train DATASET` runs before its head); the Beam
path is `retrainkit-beam` with `--direct_running_mode=multi_processing --direct_num_workers=N`,
worker start-up and Parquet writing included. Prints images/s of each and the ratio. A run of
the pipeline on 10 photos first gives its fixed cost (worker start, TensorFlow import, tracing),
so the per-image CPU cost and throughput past start-up (what the README's Dataflow estimate
is made from) come out too. `--copies N` makes N different crops of every photo (a bigger tree,
distinct contents, so nothing is a cache hit).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrainkit.quiet_tf import import_tensorflow  # noqa: E402

import_tensorflow()

from bench.trees import make_tree  # noqa: E402
from curate.scan import scan  # noqa: E402
from scaleout import embed  # noqa: E402
from train.features.cache import BottleneckCache  # noqa: E402
from train.features.decoding import job_for  # noqa: E402
from train.features.extraction import extract  # noqa: E402
from train.network import backbones  # noqa: E402

FLOWERS = ROOT.parent / "shared" / "data" / "flowers-dev"


def local(tree: Path, cache_dir: Path) -> tuple[float, int]:
    started = time.perf_counter()
    records = [r for r in scan(tree, progress=False).records if r.ok]
    backbone = backbones.load(backbones.EMBEDDED)
    cache = BottleneckCache(cache_dir, backbone.id)
    try:
        computed, _ = extract([job_for(tree, r) for r in records], backbone, cache, 32, progress=False)
    finally:
        cache.close()
    return time.perf_counter() - started, computed


def on_beam(tree: Path, out: Path, workers: int) -> tuple[float, int, float]:
    """(wall seconds, vectors, CPU seconds of the worker processes)."""
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = embed(str(tree), str(out / "bench"), pipeline_args=[
        "--direct_running_mode=multi_processing", f"--direct_num_workers={workers}", "--default_sdk_harness_log_level=ERROR"])
    seconds = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (children.ru_utime - children_before.ru_utime) + (children.ru_stime - children_before.ru_stime)
    return seconds, result.vectors, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=FLOWERS)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=1, help="alternate the two this many times; report the best of each")
    parser.add_argument("--copies", type=int, default=1, help="crops of each photo in the tree (default 1: the photos)")
    args = parser.parse_args()
    if not args.dataset.is_dir():
        sys.exit(f"{args.dataset}: not found (give --dataset)")
    best_local = best_beam = float("inf")
    with tempfile.TemporaryDirectory() as scratch:
        small = Path(scratch) / "small"
        small_count = make_tree(args.dataset, small, 1, limit=2)
        fixed_seconds, _, fixed_cpu = on_beam(small, Path(scratch) / "out-small", args.workers)
        print(f"Beam on {small_count} photos (its fixed cost): {fixed_seconds:.1f} s, worker CPU {fixed_cpu:.0f} s", flush=True)
        for round_number in range(args.rounds):
            for name in ("local", "beam"):
                tree = Path(scratch) / f"tree-{name}-{round_number}"
                make_tree(args.dataset, tree, args.copies)
                if name == "local":
                    seconds, count = local(tree, Path(scratch) / f"cache-{round_number}")
                    best_local = min(best_local, seconds)
                    print(f"round {round_number + 1}: local scan + extraction: {count} images in {seconds:.1f} s "
                          f"({count / seconds:.1f} img/s)", flush=True)
                else:
                    seconds, count, cpu = on_beam(tree, Path(scratch) / f"out-{round_number}", args.workers)
                    best_beam = min(best_beam, seconds)
                    print(f"round {round_number + 1}: Beam DirectRunner, {args.workers} worker processes: {count} images in "
                          f"{seconds:.1f} s ({count / seconds:.1f} img/s); worker CPU {cpu:.0f} s = "
                          f"{cpu / count * 1000:.0f} ms of CPU an image, start-up included", flush=True)
                    print(f"  past the fixed cost: {(count - small_count) / (seconds - fixed_seconds):.1f} img/s, "
                          f"{(cpu - fixed_cpu) / (count - small_count) * 1000:.0f} ms of worker CPU an image", flush=True)
    print(f"ratio (local time / Beam time, best of {args.rounds}): {best_local / best_beam:.2f}")


if __name__ == "__main__":
    main()
