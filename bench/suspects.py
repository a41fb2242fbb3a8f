"""Benchmark: do suspects catch the swapped and off-topic photos of a noisy tree, and what do they cost?

    pip install scikit-image          # its sample photos are the non-flower part of the off-topic pool
    python bench/suspects.py [--data ../shared/data/flowers-dev] [--rounds 3]

The noisy tree: four of flowers-dev's labels (daisy, roses, sunflowers, tulips). From each label
8% of its photos are moved into another label (swaps), and 8% off-topic photos are added (half
dandelions, the fifth label, half scikit-image's sample photos: an astronaut, a cat, coffee,
a rocket, coins...). Printed:

- recall of swaps and of off-topic photos, and the share of clean photos flagged (any kind);
- the time the suspects step adds to a warm `train` (cache full), as a share of it, best of
  `--rounds` alternating runs;
- test accuracy of `train` and of `train --drop-suspects`, scored against the true labels on the
  test split's photos that belong to one of the four labels.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FLOWERS = ROOT.parent / "shared" / "data" / "flowers-dev"
LABELS = ("daisy", "roses", "sunflowers", "tulips")
OFF_TOPIC_LABEL = "dandelion"
OBJECTS = ("astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "grass.png", "gravel.png", "horse.png",
           "hubble_deep_field.jpg", "ihc.png", "moon.png", "motorcycle_left.png", "motorcycle_right.png", "retina.jpg",
           "rocket.jpg", "brick.png")
SHARE = 0.08


def build_noisy_tree(source: Path, target: Path, seed: int = 0) -> dict[str, str]:
    """Write the tree; return path -> "clean" | "swap" | "off-topic" (its truth)."""
    import skimage

    objects = [Path(skimage.__file__).parent / "data" / name for name in OBJECTS]
    rng = random.Random(seed)
    truth: dict[str, str] = {}
    files = {label: sorted((source / label).iterdir()) for label in LABELS}
    dandelions = sorted((source / OFF_TOPIC_LABEL).iterdir())
    rng.shuffle(dandelions)
    for number, label in enumerate(LABELS):
        photos = list(files[label])
        rng.shuffle(photos)
        swaps = round(SHARE * len(photos))
        for i, photo in enumerate(photos):
            if i < swaps:
                destination = LABELS[(number + 1 + i % 3) % len(LABELS)]
                kind = "swap"
            else:
                destination, kind = label, "clean"
            _copy(photo, target / destination / f"{label}-{photo.name}", truth, kind)
        extra = round(SHARE * len(photos))
        for i in range(extra):
            if i % 2 == 0:
                _copy(dandelions.pop(), target / label / f"offtopic-{i}-{label}.jpg", truth, "off-topic")
            else:
                picture = objects[(number * 4 + i // 2) % len(objects)]
                _copy(picture, target / label / f"offtopic-{i}-{picture.name}", truth, "off-topic")
    return {path.relative_to(target).as_posix(): kind for path, kind in truth.items()}


def _copy(source: Path, destination: Path, truth: dict, kind: str) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
    truth[destination] = kind


def true_label(path: str) -> str | None:
    name = path.split("/", 1)[1]
    return None if name.startswith("offtopic-") else name.split("-", 1)[0]


def timed_train(tree: Path, out: Path, **options) -> tuple[float, object]:
    from train.pipeline import train

    started = time.perf_counter()
    result = train(tree, out=out, progress=False, **options)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(FLOWERS))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from train.quiet_tf import import_tensorflow

    import_tensorflow()
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "noisy"
        truth = build_noisy_tree(Path(args.data), tree)
        kinds = {k: sum(1 for v in truth.values() if v == k) for k in ("clean", "swap", "off-topic")}
        print(f"noisy tree: {len(truth)} photos in {len(LABELS)} labels: {kinds}")
        cold, _ = timed_train(tree, Path(scratch) / "model")
        print(f"cold train (extraction included): {cold:.1f} s")

        with_suspects, without = [], []
        for _ in range(args.rounds):
            seconds, result = timed_train(tree, Path(scratch) / "model")
            with_suspects.append(seconds)
            without.append(timed_train(tree, Path(scratch) / "model", suspects=False)[0])
        suspects = json.loads((tree / ".curate" / "suspects.json").read_text())
        flagged = {s["path"]: s for s in suspects}
        for kind in ("swap", "off-topic", "clean"):
            paths = [p for p, k in truth.items() if k == kind]
            hit = [p for p in paths if p in flagged]
            as_kind = {}
            for p in hit:
                as_kind[flagged[p]["kind"]] = as_kind.get(flagged[p]["kind"], 0) + 1
            word = "flagged" if kind == "clean" else "recall"
            print(f"{kind:10s} {word}: {len(hit)}/{len(paths)} = {len(hit) / max(1, len(paths)) * 100:.1f}%  as {as_kind}")
        pictures = [p for p, k in truth.items() if k == "off-topic" and not p.endswith(f"-{p.split('/')[0]}.jpg")]
        missed = [p for p in pictures if p not in flagged]
        print(f"non-flower pictures flagged: {len(pictures) - len(missed)}/{len(pictures)}"
              + (f"; missed: {', '.join(missed)}" if missed else ""))
        added = min(with_suspects) - min(without)
        print(f"warm train: {min(with_suspects):.2f} s with suspects, {min(without):.2f} s without (best of {args.rounds}); "
              f"suspects add {added:.2f} s = {added / min(without) * 100:.0f}% (step itself {result.suspects.seconds:.2f} s)")
        print(f"out-of-fold accuracy against the given (noisy) labels: {result.suspects.cross_validated_accuracy * 100:.1f}%")

        for drop in (False, True):
            _, result = timed_train(tree, Path(scratch) / f"model-{drop}", drop_suspects=drop)
            metrics = json.loads((Path(scratch) / f"model-{drop}" / "metrics.json").read_text())
            labels = metrics["labels"]
            right = total = 0
            for row in metrics["test_predictions"]:
                real = true_label(row["path"])
                if real is None:
                    continue
                total += 1
                right += labels[max(range(len(labels)), key=row["probabilities"].__getitem__)] == real
            name = "--drop-suspects" if drop else "plain train    "
            print(f"{name}: test accuracy {result.evaluation.accuracy * 100:.1f}% against the given labels, "
                  f"{right / total * 100:.1f}% against the true labels ({total} flower photos in the test split)"
                  + (f"; {len(result.dropped)} training photos left out" if drop else ""))


if __name__ == "__main__":
    main()
