"""Benchmark: cross-validated accuracy of the frozen backbone (head only) against `--fine-tune`.

    python bench/finetune.py [--data ../shared/data/flowers-dev] [--folds 5] [--blocks 1|...|8|all]

The tree is copied to a temporary folder (curate and the caches write beside the photos). Every
photo is extracted once: its bottleneck, and the activations entering the first fine-tuned block
for the photo and its 2 augmented variants. Then, for each of k folds (curate's near-duplicates
kept in one fold): test = that fold, validation = the next fold, training = the rest; the head is
trained on the bottlenecks (frozen), then fine-tuned with the top blocks from its warm start.
With `--blocks all` nothing but the bottlenecks is cached: the whole network trains from the
files, a fresh augmentation per epoch, as `train --fine-tune all` does.
Printed: accuracy per fold, mean and standard deviation for both, the paired gain, and the time
of each step. The same functions as `train` do the work (pipeline, head, finetune, split).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FLOWERS = ROOT.parent / "shared" / "data" / "flowers-dev"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(FLOWERS))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--blocks", default="1", help="last blocks fine-tuned (1-8), or 'all' (from the images)")
    parser.add_argument("--learning-rate", type=float, help="fine-tuning's starting learning rate (default: [train]'s)")
    parser.add_argument("--epochs", type=int, help="fine-tuning's epochs at most (default: [train]'s)")
    args = parser.parse_args()
    from train.quiet_tf import import_tensorflow

    import_tensorflow()
    from train import efficientnet_lite
    from train.bottlenecks import BottleneckCache, extract, key_for
    from train.finetune import ArrayBatches, build_model, cut_for, fine_tune
    from train.finetune import probabilities as tuned_probabilities
    from train.finetune_images import ImageBatches
    from train.head import train_head
    from train.bottlenecks import job_for
    from train.pipeline import FINE_TUNE_VARIANTS, _groups, _jobs, _prepare
    from train.split import TRAIN, folds

    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "tree"
        shutil.copytree(args.data, tree)
        started = time.perf_counter()
        run = _prepare(tree, None, False, {"test_pct": 0, "val_pct": 0})
        settings = run.settings.but(fine_tune=args.blocks, fine_tune_epochs=args.epochs or run.settings.fine_tune_epochs)
        if args.learning_rate:
            settings = settings.but(fine_tune_learning_rate=args.learning_rate, fine_tune_all_learning_rate=args.learning_rate)
        index = {label: i for i, label in enumerate(run.labels)}
        truth = np.array([index[r.label] for r in run.usable])
        if settings.fine_tune_all:
            cut = None
            jobs = [job_for(tree, r) for r in run.usable]

            def source(rows: np.ndarray, augment: bool):
                picked = np.flatnonzero(rows)
                return ImageBatches([jobs[i] for i in picked], truth[picked], [run.usable[i].path for i in picked], run.backbone,
                                    settings.batch_size, settings.seed, augment)
        else:
            cut = cut_for(settings.fine_tune_blocks)
            cache = BottleneckCache(tree / ".cache", f"{run.backbone.id}-block{cut}", kind="activations")
            everything_trains = {r.path: TRAIN for r in run.usable}
            extract(_jobs(tree, run.usable, everything_trains, FINE_TUNE_VARIANTS), run.backbone, cache, 32, True,
                    network=efficientnet_lite.build_bottom(cut), what="activations")
            shape = efficientnet_lite.activation_shape(cut)
            activations = {v: cache.get([key_for(r.sha256, v) for r in run.usable]).reshape(-1, *shape)
                           for v in range(FINE_TUNE_VARIANTS + 1)}
            cache.close()

            def source(rows: np.ndarray, augment: bool):
                variants = activations if augment else {0: activations[0]}
                return ArrayBatches(np.concatenate([variants[v][rows] for v in variants]),
                                    np.concatenate([truth[rows]] * len(variants)), settings.batch_size, settings.seed)
        extraction = time.perf_counter() - started
        fold_of = folds(run.usable, _groups(run.analysis), args.folds)
        fold = np.array([fold_of[r.path] for r in run.usable])
        cached = "" if cut is None else f" + activations x{FINE_TUNE_VARIANTS + 1}"
        print(f"{len(truth)} photos, {len(run.labels)} labels; extraction (bottlenecks{cached}) {extraction:.0f} s")

        frozen, tuned, head_seconds, tune_seconds = [], [], [], []
        for k in range(args.folds):
            test, validation = fold == k, fold == (k + 1) % args.folds
            training = ~test & ~validation
            started = time.perf_counter()
            with tempfile.TemporaryDirectory() as logs:
                head, _ = train_head(run.plain[training], truth[training], run.plain[validation], truth[validation],
                                     len(run.labels), settings, Path(logs), False)
                head_seconds.append(time.perf_counter() - started)
                frozen.append(float((head(run.plain[test], training=False).numpy().argmax(1) == truth[test]).mean()))
                started = time.perf_counter()
                model = build_model(cut, head, settings)
                history = fine_tune(model, source(training, True), source(validation, False), len(run.labels), settings,
                                    Path(logs), False)
                tune_seconds.append(time.perf_counter() - started)
                test_source = source(test, False)
                predicted, rows = tuned_probabilities(model, test_source)
                tuned.append(float((predicted.argmax(1) == test_source.labels[rows]).mean()))
            print(f"fold {k}: frozen {frozen[-1] * 100:.1f}%  fine-tuned {tuned[-1] * 100:.1f}%  "
                  f"(head {head_seconds[-1]:.1f} s, fine-tune {tune_seconds[-1]:.1f} s, best epoch {history.best_epoch} of {history.epochs})",
                  flush=True)
        gain = np.array(tuned) - np.array(frozen)
        print(f"{args.folds}-fold CV: frozen {np.mean(frozen) * 100:.1f}% (+-{np.std(frozen) * 100:.1f}), "
              f"--fine-tune {args.blocks}: {np.mean(tuned) * 100:.1f}% (+-{np.std(tuned) * 100:.1f}); "
              f"paired gain {gain.mean() * 100:+.1f} points (+-{gain.std() * 100:.1f})")
        per_photo = extraction / len(truth)
        print(f"time: extraction {per_photo * 1000:.0f} ms a photo; per fold head {np.mean(head_seconds):.1f} s, "
              f"fine-tune {np.mean(tune_seconds):.1f} s")


if __name__ == "__main__":
    main()
