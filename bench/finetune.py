"""Benchmark: cross-validated accuracy of the frozen backbone (head only) against `--fine-tune`.

    python bench/finetune.py [--data ../shared/data/flowers-dev] [--backbone efficientnet_lite0] [--folds 5]
                             [--repeats 1] [--blocks 1|...|8|all]

The tree is copied to a temporary folder (curate and the caches write beside the photos). Every
photo goes through the network once, as in `train --fine-tune`: its bottleneck, and the activations
entering the first fine-tuned block for the photo and its augmented variant. Then, for each of k
folds (curate's near-duplicates kept in one fold): test = that fold, validation = the next fold,
training = the rest; the head is trained on the bottlenecks (frozen), then fine-tuned with the top
blocks from its warm start.
With `--blocks all` nothing but the bottlenecks is cached: the whole network trains from the
files, a fresh augmentation per epoch, as `train --fine-tune all` does.
`--per-label N` keeps N photos of each label (a fixed random draw): does fine-tuning pay on a
small set, as `train` now does by default?
`--repeats n` runs the k folds on n partitions (split.folds' shuffle 0..n-1; the first is the one
earlier figures used): on a few hundred photos one photo moves a fold by a point, and a gain is
only believable once it holds across partitions.
Printed: accuracy per fold, mean and standard deviation for both, the paired gain, and the time
of each step. The same functions as `train` do the work (pipeline, head, finetune, split).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FLOWERS = ROOT.parent / "shared" / "data" / "flowers-dev"


def copy_tree(source: Path, target: Path, per_label: int) -> None:
    """The tree, or `per_label` photos of each label drawn with a fixed seed (the same draw every run)."""
    if not per_label:
        shutil.copytree(source, target)
        return
    rng = np.random.default_rng(0)
    for folder in sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")):
        photos = sorted(p for p in folder.iterdir() if p.is_file())
        (target / folder.name).mkdir(parents=True)
        for index in sorted(rng.choice(len(photos), size=min(per_label, len(photos)), replace=False)):
            shutil.copy2(photos[index], target / folder.name / photos[index].name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(FLOWERS))
    parser.add_argument("--backbone", default="efficientnet_lite0", help="a built-in backbone (efficientnet_lite0/1/2)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1, help="partitions of the k folds (repeated cross-validation)")
    parser.add_argument("--blocks", default="1", help="last blocks fine-tuned (1-8), or 'all' (from the images)")
    parser.add_argument("--learning-rate", type=float, help="fine-tuning's starting learning rate (default: [train]'s)")
    parser.add_argument("--epochs", type=int, help="fine-tuning's epochs at most (default: [train]'s)")
    parser.add_argument("--per-label", type=int, default=0, help="keep this many photos of each label (a fixed random draw)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "tree"
        copy_tree(Path(args.data), tree, args.per_label)
        cross_validate(tree, args.backbone, args.blocks, args.folds, args.repeats, args.learning_rate, args.epochs)


@dataclass
class CrossValidation:
    """Per fold (partitions one after the other): test accuracy frozen and fine-tuned, and the seconds of each."""

    frozen: np.ndarray
    tuned: np.ndarray
    head_seconds: np.ndarray
    tune_seconds: np.ndarray
    #: bottlenecks (and activations at the cut) of every photo, from empty caches
    extraction_seconds: float
    photos: int


def cross_validate(tree: Path, backbone: str, blocks: str, folds_count: int, repeats: int,
                   learning_rate: float | None = None, epochs: int | None = None) -> CrossValidation:
    """Frozen and fine-tuned accuracy per fold of `tree` (a scratch copy: caches are written in it)."""
    from retrainkit.quiet_tf import import_tensorflow

    import_tensorflow()
    from train.features.decoding import job_for
    from train.finetune.images import ImageBatches
    from train.finetune.loop import ArrayBatches, build_model, fine_tune, relative_cost
    from train.finetune.loop import probabilities as tuned_probabilities
    from train.head import train_head
    from train.inputs import gather_inputs, groups_of
    from train.split import TRAIN, folds

    started = time.perf_counter()
    # every photo "trains" in gather_inputs, so every photo gets its augmented variants at the cut
    run = gather_inputs(tree, None, True, {"test_pct": 0, "val_pct": 0, "fine_tune": blocks, "backbone": backbone})
    lite = run.backbone.lite
    settings = run.settings.but(fine_tune_epochs=epochs or run.settings.fine_tune_epochs)
    if learning_rate:
        settings = settings.but(fine_tune_learning_rate=learning_rate, fine_tune_all_learning_rate=learning_rate)
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
        cut = run.at_cut.cut
        rows = run.at_cut.data[TRAIN]
        inputs, row_labels, row_paths = rows.features, rows.labels, rows.paths
        inputs = inputs.reshape(-1, *lite.activation_shape(cut))
        position = {r.path: i for i, r in enumerate(run.usable)}
        photo_of_row = np.array([position[p] for p in row_paths])
        plain_row = np.r_[True, photo_of_row[1:] != photo_of_row[:-1]]  # each photo's rows: plain first

        def source(rows: np.ndarray, augment: bool):
            picked = rows[photo_of_row] & (True if augment else plain_row)
            return ArrayBatches(inputs[picked], row_labels[picked], settings.batch_size, settings.seed,
                                [row_paths[i] for i in np.flatnonzero(picked)])
    extraction = time.perf_counter() - started
    cached = "" if cut is None else f" + activations at block {cut} of each photo and {len(inputs) / len(truth) - 1:.0f} augmented variant(s)"
    print(f"{len(truth)} photos, {len(run.labels)} labels; extraction (bottlenecks{cached}) {extraction:.0f} s")

    def one_fold(training: np.ndarray, validation: np.ndarray, test: np.ndarray):
        """(frozen accuracy, fine-tuned accuracy, head seconds, fine-tune seconds, fine-tuning's history) on test."""
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as logs:
            head, _ = train_head(run.plain[training], truth[training], run.plain[validation], truth[validation],
                                 len(run.labels), settings, Path(logs), False)
            head_time = time.perf_counter() - started
            frozen_accuracy = float((head(run.plain[test], training=False).numpy().argmax(1) == truth[test]).mean())
            started = time.perf_counter()
            model = build_model(lite, cut, head, settings)
            history = fine_tune(model, source(training, True), source(validation, False), len(run.labels), settings,
                                Path(logs), False, cost=1.0 if cut is None else relative_cost(lite, cut))
            tune_time = time.perf_counter() - started
        test_source = source(test, False)
        predicted, rows = tuned_probabilities(model, test_source)
        tuned_accuracy = float((predicted.argmax(1) == test_source.labels[rows]).mean())
        return frozen_accuracy, tuned_accuracy, head_time, tune_time, history

    frozen, tuned, head_seconds, tune_seconds = [], [], [], []
    groups = groups_of(run.analysis)
    for repeat in range(repeats):
        fold_of = folds(run.usable, groups, folds_count, repeat)
        fold = np.array([fold_of[r.path] for r in run.usable])
        for k in range(folds_count):
            test, validation = fold == k, fold == (k + 1) % folds_count
            *scores, history = one_fold(~test & ~validation, validation, test)
            for numbers, value in zip((frozen, tuned, head_seconds, tune_seconds), scores):
                numbers.append(value)
            partition = f"partition {repeat} " if repeats > 1 else ""
            print(f"{partition}fold {k}: frozen {frozen[-1] * 100:.1f}%  fine-tuned {tuned[-1] * 100:.1f}%  "
                  f"(head {head_seconds[-1]:.1f} s, fine-tune {tune_seconds[-1]:.1f} s, "
                  f"best epoch {history.best_epoch} of {history.epochs})", flush=True)
    if repeats > 1:
        for repeat in range(repeats):
            these = slice(repeat * folds_count, (repeat + 1) * folds_count)
            print(f"partition {repeat}: frozen {np.mean(frozen[these]) * 100:.1f}%, fine-tuned {np.mean(tuned[these]) * 100:.1f}%, "
                  f"gain {(np.mean(tuned[these]) - np.mean(frozen[these])) * 100:+.1f} points")
    gain = np.array(tuned) - np.array(frozen)
    partitions = f" x {repeats} partitions" if repeats > 1 else ""
    print(f"{folds_count}-fold CV{partitions}: frozen {np.mean(frozen) * 100:.1f}% (+-{np.std(frozen) * 100:.1f}), "
          f"--fine-tune {blocks}: {np.mean(tuned) * 100:.1f}% (+-{np.std(tuned) * 100:.1f}); "
          f"paired gain {gain.mean() * 100:+.1f} points (+-{gain.std() * 100:.1f})")
    per_photo = extraction / len(truth)
    print(f"time: extraction {per_photo * 1000:.0f} ms a photo; per fold head {np.mean(head_seconds):.1f} s, "
          f"fine-tune {np.mean(tune_seconds):.1f} s")

    return CrossValidation(np.array(frozen), np.array(tuned), np.array(head_seconds), np.array(tune_seconds), extraction,
                           len(truth))

if __name__ == "__main__":
    main()
