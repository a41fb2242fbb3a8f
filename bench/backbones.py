"""Benchmark: which built-in backbone? Lite0, Lite1 and Lite2 side by side, on the same tree and folds.

    python bench/backbones.py [--data ../shared/data/flowers-dev] [--folds 5] [--repeats 2]
                              [--backbones efficientnet_lite0,efficientnet_lite1,efficientnet_lite2]

Per backbone, in one run:
- accuracy, k-fold cross-validation repeated on `--repeats` partitions (bench/finetune.py's
  cross_validate: curate's near-duplicates kept in one fold; the same folds for every backbone, so
  the gains are paired): the frozen head, and the head with the last block fine-tuned (the default);
- extraction images/s: `train`'s extraction (decode, preprocess, network, cache writes) and the
  network alone on the same photos decoded beforehand, called as extraction calls it (batches of
  32 in slices of retrainkit/model/slicing.py's size on a CPU), and their ratio;
- `train DATASET --backbone NAME` wall time from empty bottleneck and activation caches (curate's
  scan cached, as after `curate review`), its test accuracy and the SavedModel's size.
Printed: the table the README shows, and each backbone's fine-tuned gain over today's default
before fine-tuning became the default (frozen Lite0), fold by fold paired, with its spread.
Machines are noisy: the rates' ratio travels better than the rates.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FLOWERS = ROOT.parent / "shared" / "data" / "flowers-dev"
RATE_PHOTOS = 160

from bench.finetune import CrossValidation, cross_validate  # noqa: E402


def extraction_rates(files: list[Path], name: str, folder: Path) -> tuple[float, float]:
    """(train's extraction, the network alone) in images/s on the same photos."""
    from bench.train import model_alone, ours
    from train.network import backbones

    backbone = backbones.load(name)
    model_alone(files[:32], backbone)  # warm both paths first: tracing is not the rate
    ours(files[:32], backbone, folder / "warm-up")
    alone = model_alone(files, backbone)
    extraction = ours(files, backbone, folder)
    return len(files) / extraction, len(files) / alone


def train_cold(tree: Path, name: str, out: Path) -> tuple[float, str, float]:
    """(wall seconds, the test accuracy line, SavedModel MB) of `train` from empty caches."""
    shutil.rmtree(tree / ".cache", ignore_errors=True)
    command = [str(Path(sys.executable).parent / "train"), str(tree), "--backbone", name, "--out", str(out), "--quiet"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    accuracy = next(line for line in done.stdout.splitlines() if line.startswith("Test accuracy"))
    size = sum(p.stat().st_size for p in (out / "saved_model").rglob("*") if p.is_file()) / 1e6
    return seconds, accuracy, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FLOWERS)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--backbones", default="efficientnet_lite0,efficientnet_lite1,efficientnet_lite2")
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"{args.data}: not found (give --data)")
    names = args.backbones.split(",")
    results: dict[str, tuple[CrossValidation, float, float, float, str, float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "tree"
        shutil.copytree(args.data, tree)
        files = sorted(p for p in tree.glob("*/*") if p.is_file() and not p.parent.name.startswith("."))[:RATE_PHOTOS]
        for name in names:
            print(f"== {name}", flush=True)
            cv = cross_validate(tree, name, "1", args.folds, args.repeats)
            ours_rate, alone_rate = extraction_rates(files, name, Path(scratch) / f"rates-{name}")
            seconds, accuracy, size = train_cold(tree, name, Path(scratch) / f"model-{name}")
            print(f"extraction {ours_rate:.1f} images/s, the network alone {alone_rate:.1f} images/s "
                  f"(ratio {ours_rate / alone_rate:.2f}); train from empty caches {seconds:.0f} s, {accuracy}; "
                  f"SavedModel {size:.1f} MB", flush=True)
            results[name] = (cv, ours_rate, alone_rate, seconds, accuracy, size)

    baseline = results[names[0]][0].frozen
    print(f"\n{args.folds}-fold CV x {args.repeats} partitions on {results[names[0]][0].photos} photos of {args.data.name}; "
          f"gains paired fold by fold against {names[0]} frozen")
    print("| backbone | frozen | fine-tuned (default) | gain over frozen Lite0 | extraction images/s (x network alone) "
          "| `train` from empty caches | SavedModel |")
    print("|---|---|---|---|---|---|---|")
    for name, (cv, ours_rate, alone_rate, seconds, _, size) in results.items():
        gain = (cv.tuned - baseline) * 100
        print(f"| {name} | {cv.frozen.mean() * 100:.1f}% (+-{cv.frozen.std() * 100:.1f}) "
              f"| {cv.tuned.mean() * 100:.1f}% (+-{cv.tuned.std() * 100:.1f}) | {gain.mean():+.1f} (+-{gain.std():.1f}) "
              f"| {ours_rate:.1f} ({ours_rate / alone_rate:.2f}) | {seconds:.0f} s | {size:.1f} MB |")
    lite0_rate = results[names[0]][1]
    print("extraction rate against " + names[0] + ": "
          + ", ".join(f"{name} {rates[1] / lite0_rate:.2f}x" for name, rates in results.items()))


if __name__ == "__main__":
    main()
