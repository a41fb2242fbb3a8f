"""Benchmark: curate's scan vs a plain `imagehash.phash(Image.open(p))` loop, and the near-duplicate index.

    python bench/curate.py [--generated 5000] [--hashes 10000 100000 1000000] [--distance 10] [--index-only]

1. ../shared/data/flowers-dev (when present) and a generated tree of Flickr-like JPEGs (800x600,
   640x480, 1024x768, with planted exact and resized copies): images/s of both, the ratio, whether
   both find the same duplicate pairs, and the time of a second (cached) scan.
2. The near-duplicate search over N random 64-bit hashes at curate's distance (<= 10): time and
   peak extra memory (tracemalloc, which sees numpy's buffers). `--index-only --hashes 10000000`
   is the scale-out case (a 10-million-photo tree's hashes on one machine).
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curate.hamming import near_pairs, near_pairs_bruteforce  # noqa: E402
from curate.scan import scan  # noqa: E402
from curate.settings import CurateSettings  # noqa: E402

FLOWERS = ROOT.parent / "shared" / "data" / "flowers-dev"
GENERATED_CACHE = Path(tempfile.gettempdir()) / "retrainkit-bench-tree"
SIZES = ((800, 600), (640, 480), (1024, 768), (600, 800))


def photo_like(seed: int, size: tuple[int, int]) -> bytes:
    """Smooth structure plus sensor-like noise, so files weigh what real 800 px photos weigh."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 256, size=(9, 12, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(grid).resize(size, Image.BICUBIC), dtype=np.int16)
    noisy = np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noisy).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def generated_tree(count: int) -> Path:
    root = GENERATED_CACHE / str(count)
    if root.is_dir():
        return root
    tmp = root.with_suffix(".part")
    shutil.rmtree(tmp, ignore_errors=True)
    for i in range(count):
        label = tmp / f"label{i % 10}"
        label.mkdir(parents=True, exist_ok=True)
        if i % 50 == 1:  # an exact copy of the previous image
            shutil.copy(label.parent / f"label{(i - 1) % 10}" / f"{i - 1}.jpg", label / f"{i}.jpg")
        elif i % 50 == 2:  # a resized copy
            with Image.open(label.parent / f"label{(i - 2) % 10}" / f"{i - 2}.jpg") as image:
                image.resize((image.width // 2, image.height // 2)).save(label / f"{i}.jpg", quality=80)
        else:
            (label / f"{i}.jpg").write_bytes(photo_like(i, SIZES[i % len(SIZES)]))
    tmp.rename(root)
    return root


def baseline(files: list[Path]) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    hashes = [imagehash.phash(Image.open(p)) for p in files]
    seconds = time.perf_counter() - started
    return seconds, np.array([int.from_bytes(np.packbits(h.hash.flatten()).tobytes(), "big") for h in hashes], dtype=np.uint64)


def compare_on(name: str, source: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        shutil.copytree(source, tree, ignore=shutil.ignore_patterns(".*"))
        files = sorted(p for p in tree.rglob("*") if p.is_file())
        base_s, base_hashes = baseline(files)
        started = time.perf_counter()
        result = scan(tree, progress=False)
        ours_s = time.perf_counter() - started
        started = time.perf_counter()
        again = scan(tree, progress=False)
        warm_s = time.perf_counter() - started
        assert again.decoded == 0
        by_path = result.by_path()
        ours_hashes = np.array([by_path[p.relative_to(tree).as_posix()].phash for p in files], dtype=np.uint64)
        distance = CurateSettings().near_distance
        ours_pairs = {tuple(p) for p in near_pairs(ours_hashes, distance).tolist()}
        base_pairs = {tuple(p) for p in near_pairs_bruteforce(base_hashes, distance).tolist()}
        n = len(files)
        print(f"{name}: {n} images")
        print(f"  phash loop   {n / base_s:8.1f} images/s ({base_s:.2f} s)")
        print(f"  curate scan  {n / ours_s:8.1f} images/s ({ours_s:.2f} s, cold, all cores)  ratio {base_s / ours_s:.1f}x")
        print(f"  rescan       {warm_s:.3f} s (unchanged tree, from the cache)")
        print(f"  duplicate pairs at distance <= {distance}: scan {len(ours_pairs)}, loop {len(base_pairs)}, "
              f"in both {len(ours_pairs & base_pairs)}")
        for i, j in sorted(ours_pairs ^ base_pairs):
            ours_d = bin(int(ours_hashes[i] ^ ours_hashes[j])).count("1")
            base_d = bin(int(base_hashes[i] ^ base_hashes[j])).count("1")
            print(f"    only in {'scan' if (i, j) in ours_pairs else 'loop'}: {files[i].relative_to(tree)} ~ "
                  f"{files[j].relative_to(tree)} (distance: scan {ours_d}, loop {base_d})")


def index_benchmark(sizes: list[int], distance: int) -> None:
    rng = np.random.default_rng(0)
    print(f"near-duplicate search, random 64-bit hashes, distance <= {distance}")
    for n in sizes:
        hashes = rng.integers(0, 2**63, size=n, dtype=np.uint64) << np.uint64(1) | rng.integers(0, 2, size=n, dtype=np.uint64)
        tracemalloc.start()
        started = time.perf_counter()
        pairs = near_pairs(hashes, distance)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        line = f"  {n:>9,} hashes: {seconds:6.2f} s, peak extra memory {peak / 2**20:6.1f} MB, {len(pairs)} pairs"
        if n <= 20_000:
            started = time.perf_counter()
            reference = near_pairs_bruteforce(hashes, distance)
            line += f"  (brute force {time.perf_counter() - started:.2f} s, same: {np.array_equal(pairs, reference)})"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=int, default=5000, help="images in the generated tree (0: skip)")
    parser.add_argument("--hashes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--distance", type=int, default=CurateSettings().near_distance,
                        help="near-duplicate distance of the index benchmark (default: curate's, 10)")
    parser.add_argument("--index-only", action="store_true", help="only the near-duplicate search")
    args = parser.parse_args()
    if args.index_only:
        index_benchmark(args.hashes, args.distance)
        return
    if FLOWERS.is_dir():
        compare_on("flowers-dev", FLOWERS)
    else:
        print(f"(flowers-dev not found at {FLOWERS}; skipped)")
    if args.generated:
        compare_on(f"generated Flickr-like tree ({GENERATED_CACHE})", generated_tree(args.generated))
    if args.hashes:
        index_benchmark(args.hashes, args.distance)


if __name__ == "__main__":
    main()
