"""Benchmark: does a trained model say "none of the labels" for photos that are none of them, and what does it cost?

    python bench/open_set.py [--data ../shared/data/flowers-dev] [--ood ../shared/data/ood-dev] [--fine-tune N]
                             [--held-out LABEL ...] [--known-pct 98]

For each held-out label (default: every label in turn) `train` runs on the other labels (test
split 20%, so each round has ~80 test photos), and the exported SavedModel itself answers, through
retrainkit.model.classifier.Classifier:
- the share called unknown of the labels' own test photos (the false alarms), of ood-dev (400
  everyday photos that are no flower) and of the held-out flower label (a near miss);
- AUROC of the novelty score for ood-dev and for the held-out label against the test photos.
The labels' own test photos of one split are few (and the same photos in every round), so the
false-alarm rate is also cross-validated on all of `--data`: for each of 5 folds x `--repeats`
partitions (near-duplicates in one fold), the reference and threshold are built exactly as train
builds them (train.judging.novelty.build_reference) from three folds, the next fold as validation, and the
fold itself is scored.
Then the cost: the same network and head exported with and without a reference of the size the
models used (in the network's own features, and in a frozen copy of the last block, as a fine-tuned
model carries it), timed on the same 32 encoded photos (best of alternating rounds), and the
SavedModel folders' sizes. `--cost-only N` runs that part alone, for a reference of N photos.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FLOWERS = ROOT.parent / "shared" / "data" / "flowers-dev"
OOD = ROOT.parent / "shared" / "data" / "ood-dev"


def auroc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """P(a positive scores above a negative), ties half: the Mann-Whitney form."""
    both = np.concatenate([positives, negatives])
    ranks = both.argsort().argsort() + 1.0
    for value in np.unique(both):  # ties share their mean rank
        tied = both == value
        ranks[tied] = ranks[tied].mean()
    return float((ranks[:len(positives)].sum() - len(positives) * (len(positives) + 1) / 2) / (len(positives) * len(negatives)))


def photos_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.parts))


def answers(classifier, paths: list[Path]):
    from retrainkit.model.image_bytes import checked_bytes

    outputs = classifier.outputs([checked_bytes(p) for p in paths])
    return outputs.novelty, outputs.known, 1 - outputs.probabilities.max(axis=1)


def one_round(data: Path, held_out: str, scratch: Path, cache: Path, ood: list[Path], options: dict) -> dict:
    from retrainkit.model.classifier import Classifier
    from train.pipeline import train

    tree = scratch / f"without-{held_out}"
    for folder in sorted(p for p in data.iterdir() if p.is_dir() and p.name != held_out and not p.name.startswith(".")):
        shutil.copytree(folder, tree / folder.name)
    started = time.perf_counter()
    result = train(tree, out=scratch / f"model-{held_out}", progress=False, suspects=False, test_pct=20, cache_dir=str(cache),
                   **options)
    seconds = time.perf_counter() - started
    metrics = json.loads((result.out / "metrics.json").read_text())
    classifier = Classifier(result.out)
    test = [tree / row["path"] for row in metrics["test_predictions"]]
    scored = {name: answers(classifier, paths) for name, paths in
              (("test", test), ("ood", ood), ("held", photos_of(data / held_out)))}
    unknown = {name: float((~known).mean()) for name, (_, known, _) in scored.items()}
    # the head's own doubt (1 - its top probability), for comparison: what "combined with the head" could add
    doubt = {name: auroc(scored[name][2], scored["test"][2]) for name in ("ood", "held")}
    return {"held_out": held_out, "unknown": unknown, "counts": {name: len(n) for name, (n, _, _) in scored.items()},
            "auroc_ood": auroc(scored["ood"][0], scored["test"][0]), "auroc_held": auroc(scored["held"][0], scored["test"][0]),
            "doubt_auroc": doubt, "calibration": metrics["open_set"],
            "accuracy": result.evaluation.accuracy, "seconds": seconds}


def false_alarms_cv(data: Path, scratch: Path, cache: Path, known_pct: float, repeats: int) -> tuple[float, float, int]:
    """(mean, sd over folds) share of held-out photos of the labels called unknown, and photos scored."""
    from train.inputs import gather_inputs, groups_of
    from train.judging.novelty import build_reference, scores
    from train.split import folds

    tree = scratch / "all-labels"
    shutil.copytree(data, tree)
    run = gather_inputs(tree, None, False, {"test_pct": 0, "val_pct": 0, "cache_dir": str(cache)})
    groups = groups_of(run.analysis)
    group_of = {path: n for n, members in enumerate(groups) for path in members}
    index = {label: i for i, label in enumerate(run.labels)}
    truth = np.array([index[r.label] for r in run.usable])
    group_ids = np.array([group_of.get(r.path, len(groups) + i) for i, r in enumerate(run.usable)])
    shares, scored = [], 0
    for shuffle in range(repeats):
        fold_of = folds(run.usable, groups, 5, shuffle)
        fold = np.array([fold_of[r.path] for r in run.usable])
        for f in range(5):
            test, validation = fold == f, fold == (f + 1) % 5
            train = ~test & ~validation
            reference = build_reference(run.plain[train], truth[train], list(group_ids[train]), run.plain[validation], known_pct)
            novelty = scores(run.plain[test], reference)
            shares.append(float((novelty > reference.calibration.threshold).mean()))
            scored += int(test.sum())
    return float(np.mean(shares)), float(np.std(shares)), scored


def cost(reference_size: int, photos: list[Path], scratch: Path, rounds: int = 15) -> dict:
    """The same network and head exported with and without a reference of `reference_size`, timed on one batch of 32."""
    import tensorflow as tf

    from retrainkit.model.folder import SIGNATURE
    from retrainkit.model.image_bytes import checked_bytes
    from train.head import build_head
    from train.judging.novelty import Calibration, Reference, label_ranges, unit
    from train.network import backbones
    from train.outputs.saved_model import export
    from train.settings import TrainSettings

    backbone = backbones.load(backbones.EMBEDDED)
    head = build_head(backbone.feature_dim, 4, TrainSettings())
    cut = len(backbone.lite.blocks) - 1  # the default fine-tuning's: its reference is the frozen copy of the last block

    def reference_of(width: int) -> Reference:
        vectors = unit(np.random.default_rng(0).normal(size=(reference_size, width))).astype(np.float16)
        ranges = label_ranges(np.arange(reference_size) * 4 // reference_size, 4)  # four labels, as the rounds have
        return Reference(vectors, ranges, Calibration(0.5, 98.0, 10, reference_size, reference_size, None))

    folders = {"closed": scratch / "closed", "open": scratch / "open", "frozen copy": scratch / "frozen-copy"}
    export(folders["closed"], backbone, head, ["a", "b", "c", "d"])
    export(folders["open"], backbone, head, ["a", "b", "c", "d"], reference_of(backbone.feature_dim))
    export(folders["frozen copy"], backbone, head, ["a", "b", "c", "d"], reference_of(backbone.lite.build_novelty_top(cut).output_shape[-1]),
           novelty_cut=cut)
    batch = tf.constant([checked_bytes(p) for p in photos[:32]])  # one call of 32: the cost relative to the whole batch
    signatures = {name: tf.saved_model.load(str(folder / "saved_model")).signatures[SIGNATURE] for name, folder in folders.items()}
    best = {name: float("inf") for name in signatures}
    for signature in signatures.values():
        signature(image_bytes=batch)  # warm
    for _ in range(rounds):
        for name, signature in signatures.items():
            started = time.perf_counter()
            signature(image_bytes=batch)
            best[name] = min(best[name], time.perf_counter() - started)
    size = {name: sum(f.stat().st_size for f in (folder / "saved_model").rglob("*") if f.is_file()) for name, folder in folders.items()}
    return {"seconds": best, "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(FLOWERS))
    parser.add_argument("--ood", default=str(OOD))
    parser.add_argument("--fine-tune", default="auto", help="train's --fine-tune for every round (default: train's own, "
                                                           "the last block; 0: the frozen head)")
    parser.add_argument("--held-out", nargs="*", help="labels held out in turn (default: every label)")
    parser.add_argument("--known-pct", type=float, default=98.0)
    parser.add_argument("--repeats", type=int, default=4, help="partitions of the false-alarm cross-validation")
    parser.add_argument("--cost-only", type=int, metavar="REFERENCE_PHOTOS", help="only the cost part, for a reference this size")
    args = parser.parse_args()
    from retrainkit.quiet_tf import import_tensorflow

    import_tensorflow()
    data, ood = Path(args.data), photos_of(Path(args.ood))
    if args.cost_only:
        with tempfile.TemporaryDirectory() as scratch_name:
            measured = cost(args.cost_only, ood, Path(scratch_name), rounds=25)
        seconds, sizes = measured["seconds"], measured["bytes"]
        print(f"cost, batch of 32 (best of 25), {args.cost_only}-photo reference: ratio {seconds['open'] / seconds['closed']:.3f} "
              f"in the network's own features; SavedModel +{(sizes['open'] - sizes['closed']) / 1e6:.2f} MB")
        print_frozen_copy(seconds, sizes)
        return
    labels = args.held_out or sorted(p.name for p in data.iterdir() if p.is_dir() and not p.name.startswith("."))
    options = {"fine_tune": args.fine_tune, "known_pct": args.known_pct}
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        cache = scratch / "cache"  # content-keyed: the rounds share their photos' vectors
        rounds = []
        for held_out in labels:
            found = one_round(data, held_out, scratch, cache, ood, options)
            rounds.append(found)
            u, c = found["unknown"], found["calibration"]
            print(f"held out {held_out:11s}: unknown: test {u['test'] * 100:5.1f}% of {found['counts']['test']}, "
                  f"ood-dev {u['ood'] * 100:5.1f}%, {held_out} {u['held'] * 100:5.1f}%; AUROC ood {found['auroc_ood']:.3f}, "
                  f"held-out {found['auroc_held']:.3f}; threshold {c['threshold']:.4f} on {c['calibration_photos']} photos "
                  f"(validation kept {c['validation_kept_pct']}%); test accuracy {found['accuracy'] * 100:.1f}%; "
                  f"train {found['seconds']:.0f} s", flush=True)
        test_count = sum(r["counts"]["test"] for r in rounds)
        test_unknown = sum(r["unknown"]["test"] * r["counts"]["test"] for r in rounds) / test_count
        print(f"\nover {len(rounds)} rounds (fine-tune {args.fine_tune}, known_pct {args.known_pct:g}): "
              f"labels' test photos called unknown {test_unknown * 100:.1f}% of {test_count}; "
              f"ood-dev {np.mean([r['unknown']['ood'] for r in rounds]) * 100:.1f}% (min {min(r['unknown']['ood'] for r in rounds) * 100:.1f}%); "
              f"held-out flower {np.mean([r['unknown']['held'] for r in rounds]) * 100:.1f}%; "
              f"AUROC ood {np.mean([r['auroc_ood'] for r in rounds]):.3f}, held-out {np.mean([r['auroc_held'] for r in rounds]):.3f} "
              f"(the head's doubt, 1 - top probability, for comparison: ood {np.mean([r['doubt_auroc']['ood'] for r in rounds]):.3f}, "
              f"held-out {np.mean([r['doubt_auroc']['held'] for r in rounds]):.3f})")
        mean, sd, scored = false_alarms_cv(data, scratch, cache, args.known_pct, args.repeats)
        print(f"false alarms, cross-validated on all labels of {data.name} (frozen features, the rule train uses; "
              f"5 folds x {args.repeats}): "
              f"{mean * 100:.1f}% (sd {sd * 100:.1f} over folds) of {scored} held-out photos called unknown")
        size = max(r["calibration"]["reference"] for r in rounds)
        measured = cost(size, ood, scratch)
        seconds, sizes = measured["seconds"], measured["bytes"]
        print(f"cost, batch of 32 (best of 15): {seconds['open'] * 1000:.0f} ms with a {size}-photo reference, "
              f"{seconds['closed'] * 1000:.0f} ms without: ratio {seconds['open'] / seconds['closed']:.3f} "
              f"(+{(seconds['open'] - seconds['closed']) / 32 * 1000:.2f} ms a photo); SavedModel "
              f"{sizes['open'] / 1e6:.1f} MB against {sizes['closed'] / 1e6:.1f} MB (+{(sizes['open'] - sizes['closed']) / 1e6:.2f} MB)")
        print_frozen_copy(seconds, sizes)
        at_cap = cost(2000, ood, scratch / "cap") if size < 2000 else None
        if at_cap:
            s, b = at_cap["seconds"], at_cap["bytes"]
            print(f"at the cap (2,000 reference photos): ratio {s['open'] / s['closed']:.3f}, +{(b['open'] - b['closed']) / 1e6:.2f} MB; "
                  f"with the frozen copy {s['frozen copy'] / s['closed']:.3f}, +{(b['frozen copy'] - b['closed']) / 1e6:.2f} MB")


def print_frozen_copy(seconds: dict, sizes: dict) -> None:
    print(f"the reference in a frozen copy of the last block (a fine-tuned model's, train/judging/novelty_space.py): batch of 32 "
          f"{seconds['frozen copy'] * 1000:.0f} ms, ratio {seconds['frozen copy'] / seconds['closed']:.3f} against no reference; "
          f"SavedModel +{(sizes['frozen copy'] - sizes['closed']) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
