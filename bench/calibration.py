"""Benchmark: does "none of the labels" keep its promise on photos the model never saw?

    python bench/calibration.py [--data ../shared/data/flowers-dev] [--repeats 2] [--fine-tune auto|0] [--known-pct 98]

`train` (the real pipeline, default settings unless told) runs on four folds of `--data` and the
exported SavedModel answers the fifth, through retrainkit.model.classifier.Classifier, for 5 folds x `--repeats`
partitions (near-duplicates in one fold): every photo is scored out of fold `--repeats` times, and
the share called unknown, pooled, is set against the promise (100 - known_pct). The spread is over
folds. Diagnostics, per fold, explain a gap: the calibration set's parts (each reference photo
against the others, the validation photos) at the threshold, and the same test photos' novelty as
train computed it (the training feature path) and as the exported model computes it (the serving
path), whose gap is train/serve skew in the features.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FLOWERS = ROOT.parent / "shared" / "data" / "flowers-dev"


def photos_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*/*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def partitions(data: Path, repeats: int, scratch: Path, cache: Path) -> tuple[list[str], list[dict[str, int]]]:
    """Every usable photo (dataset-relative) and, per repeat, its fold: curate's view, near-duplicates together.
    Curation runs on a linked copy in `scratch`: nothing is ever written into the data folder."""
    from train.inputs import gather_inputs, groups_of
    from train.split import folds

    linked_tree(data, [p.relative_to(data).as_posix() for p in photos_of(data)], scratch)
    run = gather_inputs(scratch, None, False, {"test_pct": 0, "val_pct": 0, "cache_dir": str(cache), "fine_tune": "0"})
    groups = groups_of(run.analysis)
    return [r.path for r in run.usable], [folds(run.usable, groups, 5, shuffle) for shuffle in range(repeats)]


def linked_tree(data: Path, paths: list[str], tree: Path) -> None:
    for path in paths:
        target = tree / path
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(data / path, target)


def one_fold(data: Path, held: list[str], kept: list[str], scratch: Path, cache: Path, options: dict) -> dict:
    from retrainkit.model.classifier import Classifier
    from retrainkit.model.image_bytes import checked_bytes
    from train.pipeline import train

    tree = scratch / "tree"
    linked_tree(data, kept, tree)
    started = time.perf_counter()
    result = train(tree, out=scratch / "model", progress=False, suspects=False, cache_dir=str(cache), **options)
    seconds = time.perf_counter() - started
    classifier = Classifier(result.out)
    outputs = classifier.outputs([checked_bytes(data / p) for p in held])
    metrics = json.loads((result.out / "metrics.json").read_text())
    calibration = metrics["open_set"]
    threshold = calibration["threshold"]
    # the same test photos through both paths: train's features (test_novelty) and the exported model's
    test_paths = list(result.open_set.test_novelty)
    served = classifier.outputs([checked_bytes(tree / p) for p in test_paths]).novelty if test_paths else np.zeros(0)
    trained = np.array([result.open_set.test_novelty[p] for p in test_paths])
    parts = calibration_parts(result)
    return {"held_unknown": int((~outputs.known).sum()), "held": len(held), "threshold": threshold,
            "held_novelty": outputs.novelty.tolist(), "test_trained": trained.tolist(), "test_served": served.tolist(),
            "parts": parts, "accuracy": result.evaluation.accuracy, "seconds": seconds}


def calibration_parts(result) -> dict:
    """The calibration set's parts, recomputed as build_reference does, in the features train used."""
    from train.judging.novelty import _leave_one_out, label_ranges, scores, unit
    from train.split import TRAIN, VALIDATION

    features = result.open_set.vectors
    train = features[TRAIN]
    order = np.argsort(train.labels, kind="stable")
    vectors = unit(train.features[order])
    ranges = label_ranges(train.labels[order], int(train.labels.max()) + 1)
    loo = _leave_one_out(vectors, ranges, np.arange(len(vectors)))
    validation = features[VALIDATION]
    val = scores(validation.features, result.open_set.reference)
    return {"loo": loo.tolist(), "validation": val.tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(FLOWERS))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--fine-tune", default="auto")
    parser.add_argument("--known-pct", type=float, default=98.0)
    parser.add_argument("--folds", type=int, nargs="*", help="only these folds (a quick look)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="other train settings, e.g. fine_tune_variants=0")
    parser.add_argument("--save", help="write every fold's numbers to this JSON file")
    args = parser.parse_args()
    from retrainkit.quiet_tf import import_tensorflow

    import_tensorflow()
    data = Path(args.data)
    options = {"fine_tune": args.fine_tune, "known_pct": args.known_pct, **dict(item.split("=", 1) for item in args.set)}
    promise = 100 - args.known_pct
    rounds = []
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        cache = scratch / "cache"
        paths, partition = partitions(data, args.repeats, scratch / "all", cache)
        for repeat, fold_of in enumerate(partition):
            for fold in args.folds if args.folds is not None else range(5):
                held = [p for p in paths if fold_of[p] == fold]
                kept = [p for p in paths if fold_of[p] != fold]
                work = scratch / f"r{repeat}f{fold}"
                found = one_fold(data, held, kept, work, cache, {**options, "seed": repeat})
                rounds.append(found)
                parts = found["parts"]
                t = found["threshold"]
                line = (f"repeat {repeat} fold {fold}: held-out unknown {found['held_unknown']:3d} of {found['held']} "
                        f"({found['held_unknown'] / found['held'] * 100:4.1f}%), threshold {t:.4f}, accuracy {found['accuracy'] * 100:.1f}%, "
                        f"train {found['seconds']:.0f} s")
                if parts:
                    loo, val = np.array(parts["loo"]), np.array(parts["validation"])
                    line += (f"; past it: leave-one-out {np.mean(loo > t) * 100:.1f}%, validation {np.mean(val > t) * 100:.1f}%; "
                             f"median novelty loo {np.median(loo):.4f} val {np.median(val):.4f} held {np.median(found['held_novelty']):.4f}")
                if found["test_trained"]:
                    gap = np.array(found["test_served"]) - np.array(found["test_trained"])
                    line += f"; served-trained novelty on test photos {np.mean(gap):+.4f} (max |.| {np.max(np.abs(gap)):.4f})"
                print(line, flush=True)
    shares = np.array([r["held_unknown"] / r["held"] for r in rounds]) * 100
    pooled = sum(r["held_unknown"] for r in rounds) / sum(r["held"] for r in rounds) * 100
    spread = f"per fold mean {shares.mean():.2f}%, sd {shares.std():.2f}, min {shares.min():.1f}, max {shares.max():.1f}"
    print(f"\npromised {promise:.1f}% unknown; measured {pooled:.2f}% of {sum(r['held'] for r in rounds)} out-of-fold photos "
          f"(fine-tune {args.fine_tune} {' '.join(args.set)}; {spread})")
    if args.save:
        Path(args.save).write_text(json.dumps(rounds))


if __name__ == "__main__":
    main()
