"""Benchmark: the wall time of `train --fine-tune` on a tree of about 3,000 photos, against the frozen `train`.

    python bench/finetune_time.py [--data ../shared/data/flowers-dev] [--copies 6] [--blocks 1] [--backbone NAME]

The tree: `--copies` different crops of every photo of --data (6 x 505 = 3,030 by default; the
crops differ, so every file has its own content and its own cache entries). Timed, each as a user
runs it, in this order:
1. `curate review TREE --no-serve`: the scan (decode, hashes, flags), as before any training;
2. `train TREE --fine-tune 0`: the frozen head, from an empty bottleneck cache (the scan cached);
3. `train TREE --fine-tune N` (N = 1: what `train TREE` does by default): the same from empty
   bottleneck and activation caches.
`--backbone efficientnet_lite2` times both with that backbone (issue 24's goal: under 5 minutes).
Printed: each wall time, the fine-tuned run against the frozen one (ratio), and the test accuracy
of both (one split, the same for both: the crops of a photo are near-duplicates, kept together).
Machines are noisy: read the ratio before the seconds.
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

from bench.trees import make_tree  # noqa: E402


def timed(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FLOWERS)
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--blocks", default="1", help="--fine-tune's value")
    parser.add_argument("--backbone", default="efficientnet_lite0")
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"{args.data}: not found (give --data)")
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "tree"
        photos = make_tree(args.data, tree, args.copies)
        print(f"{photos} photos ({args.copies} crops of each photo of {args.data})", flush=True)
        scan, _ = timed([str(bin_dir / "curate"), "review", str(tree), "--no-serve"])
        print(f"curate review (the scan): {scan:.0f} s", flush=True)
        backbone = ["--backbone", args.backbone]
        frozen, frozen_summary = timed([str(bin_dir / "train"), str(tree), *backbone, "--fine-tune", "0", "--out", f"{scratch}/frozen",
                                        "--quiet"])
        print(f"train --backbone {args.backbone} --fine-tune 0 (frozen head, empty bottleneck cache): {frozen:.0f} s", flush=True)
        print(next(line for line in frozen_summary.splitlines() if line.startswith("Test accuracy")), flush=True)
        shutil.rmtree(tree / ".cache")
        tuned, summary = timed([str(bin_dir / "train"), str(tree), *backbone, "--fine-tune", args.blocks, "--out", f"{scratch}/tuned",
                                "--quiet"])
        print(f"train --backbone {args.backbone} --fine-tune {args.blocks} (empty caches): {tuned:.0f} s = {tuned / frozen:.2f} x the frozen run; "
              f"with the scan {scan + tuned:.0f} s")
        print("\n".join(line for line in summary.splitlines() if line.startswith(("Test accuracy", "Fine-tuned", "Model:"))))


if __name__ == "__main__":
    main()
