"""Benchmark: training again, as users do it - unchanged, and after a few wrongly filed photos are fixed.

    python bench/retrain.py [--data ../shared/data/flowers-dev] [--copies 6] [--moved 5] [--backbone NAME]

The tree: `--copies` crops of every photo of --data (bench/trees.py; 3,030 photos by default), with
`--moved` photos filed under a wrong label first, as keyword search leaves them. Timed, each as a
user runs it (a fresh `train` process, the curate scan cached):
1. `train TREE` from empty caches (the cold run, the baseline);
2. `train TREE` again with nothing changed (the model is kept: train/reuse.py);
3. after `curate move` puts the wrongly filed photos back under their label, `train TREE` (fine-tuning
   from the last run's weights where sound: train/finetune/warm_start.py);
4. the fixed tree again with `--force`: a cold fine-tuning on the same split, the accuracy baseline of 3.
Printed: each wall time and its ratio to the cold run, and the test accuracies (1's test split differs
from 3's and 4's by the moved photos, which travel with their new label's key; 3 and 4 share theirs).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FLOWERS = ROOT.parent / "shared" / "data" / "flowers-dev"

from bench.finetune_time import timed  # noqa: E402
from bench.trees import make_tree  # noqa: E402


def misfile(tree: Path, count: int) -> list[tuple[str, str]]:
    """Move `count` photos (every crop of each) to the next label's folder; returns (now, rightful label) per file."""
    labels = sorted(p.name for p in tree.iterdir() if p.is_dir() and not p.name.startswith("."))
    stems = {label: sorted({p.stem.rsplit("-", 1)[0] for p in (tree / label).iterdir()}) for label in labels}  # crops: <stem>-<k>.jpg
    chosen = [(labels[n % len(labels)], labels[(n + 1) % len(labels)], stems[labels[n % len(labels)]][n // len(labels)])
              for n in range(count)]  # all chosen before any moves, so no photo moves twice
    moved = []
    for label, wrong, stem in chosen:
        for path in sorted((tree / label).glob(f"{stem}-*.jpg")):
            path.rename(tree / wrong / path.name)
            moved.append((f"{wrong}/{path.name}", label))
    return moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FLOWERS)
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--moved", type=int, default=5)
    parser.add_argument("--backbone", default="efficientnet_lite0")
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "tree"
        photos = make_tree(args.data, tree, args.copies)
        moved = misfile(tree, args.moved)
        print(f"{photos} photos ({args.copies} crops of each photo of {args.data}); {args.moved} photos ({len(moved)} files) "
              "filed under a wrong label", flush=True)
        timed([str(bin_dir / "curate"), "review", str(tree), "--no-serve"])
        train = [str(bin_dir / "train"), str(tree), "--backbone", args.backbone, "--out", f"{scratch}/model", "--quiet"]
        cold, cold_summary = timed(train)
        print(f"cold train (empty caches): {cold:.0f} s", flush=True)
        same, _ = timed(train)
        print(f"again, nothing changed: {same:.1f} s = {same / cold:.2f} of the cold run", flush=True)
        for label in sorted({label for _, label in moved}):
            timed([str(bin_dir / "curate"), "move", str(tree), *[path for path, rightful in moved if rightful == label], "--to", label])
        fixed, fixed_summary = timed(train)
        print(f"after {args.moved} wrongly filed photos were moved back: {fixed:.0f} s = {fixed / cold:.2f} of the cold run", flush=True)
        for name, summary in (("cold", cold_summary), ("after the fix", fixed_summary)):
            accuracy = next(line for line in summary.splitlines() if line.startswith("Test accuracy"))
            tuned = next((line for line in summary.splitlines() if line.startswith("Fine-tuned")), "")
            print(f"{name}: {accuracy}\n  {tuned}")
        cold_again, cold_again_summary = timed([*train, "--force"])
        accuracy = next(line for line in cold_again_summary.splitlines() if line.startswith("Test accuracy"))
        print(f"the fixed tree trained cold (--force; the baseline for the accuracy after the fix): {cold_again:.0f} s; {accuracy}")


if __name__ == "__main__":
    main()
