"""Benchmark: does "none of the labels" catch the kinds a user rejected in a review, and what does it cost the promise?

    python bench/open_set_rejected.py [--flowers ../shared/data/flowers-dev] [--others ../shared/data/other-flowers-dev]
                                      [--ood ../shared/data/ood-dev] [--rejected-share 0.05 0.2] [--splits 3] [--cache DIR]

Nine kinds (flowers-dev's five, other-flowers-dev's four) in bench/open_world.py's held-out-kind rotation, and
ood-dev. Per rotation and split: the known kinds' photos are drawn 70/15/15 into training, calibration (the
validation photos the reference is calibrated on beside leave-one-out) and unseen; of the held-out kinds'
photos a share (`--rejected-share`) plays the photos a user rejected in a review, with 2% of ood-dev
(keyword search brings a few everyday pictures too). train/judging/novelty.py's `build_reference` - the
code `train` runs - builds the reference with and without them, on the frozen Lite0 features (the space of a
model trained with `--fine-tune 0`; a fine-tuned model compares in its frozen last block, measured alike by
bench/open_world.py). Printed: the known kinds' unseen photos called unknown (the promise is 2%), the held-out
kinds' photos that were not rejected (near) and ood-dev's (far) called unknown, mean (sd) over rotations x splits.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"

from bench.open_world import OOD_LABEL, link_ood  # noqa: E402
from bench.trees import link_kinds  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flowers", default=str(DATA / "flowers-dev"))
    parser.add_argument("--others", default=str(DATA / "other-flowers-dev"))
    parser.add_argument("--ood", default=str(DATA / "ood-dev"))
    parser.add_argument("--rejected-share", type=float, nargs="*", default=[0.05, 0.2])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--known-pct", type=float, default=98.0)
    parser.add_argument("--cache", help="keep the vector cache here between runs (default: in the scratch folder)")
    args = parser.parse_args()
    from retrainkit.quiet_tf import import_tensorflow

    import_tensorflow()
    from train.inputs import gather_inputs
    from train.judging.novelty import build_reference, scores

    flowers, others = Path(args.flowers).resolve(), Path(args.others).resolve()
    first = sorted(p.name for p in flowers.iterdir() if p.is_dir() and not p.name.startswith("."))
    second = sorted(p.name for p in others.iterdir() if p.is_dir() and not p.name.startswith("."))
    kinds = first + second
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        link_kinds([flowers, others], scratch / "all", kinds)
        link_ood(Path(args.ood).resolve(), scratch / "all")
        cache = Path(args.cache) if args.cache else scratch / "cache"
        run = gather_inputs(scratch / "all", None, True, {"test_pct": 0, "val_pct": 0, "cache_dir": str(cache), "fine_tune": "0"})
        features, kind = run.plain, np.array([r.label for r in run.usable])
    results: dict[tuple[float, str], list[tuple[float, float, float]]] = {}
    for rotation in range(4):
        held = second if rotation == 3 else [k for i, k in enumerate(kinds) if i % 3 == rotation]
        known = [k for k in kinds if k not in held]
        index = {k: i for i, k in enumerate(known)}
        for split in range(args.splits):
            rng = np.random.default_rng(100 * rotation + split)
            draw = rng.random(len(kind))
            is_known = np.isin(kind, known)
            train, calibration, unseen = is_known & (draw < 0.7), is_known & (draw >= 0.7) & (draw < 0.85), is_known & (draw >= 0.85)
            labels = np.array([index.get(k, -1) for k in kind])
            for share in args.rejected_share:
                pick = rng.random(len(kind))
                rejected = (np.isin(kind, held) & (pick < share)) | ((kind == OOD_LABEL) & (pick < 0.02))
                near, far = np.isin(kind, held) & ~rejected, (kind == OOD_LABEL) & ~rejected
                for arm, extra in (("without the rejected", None), ("with the rejected", features[rejected])):
                    reference = build_reference(features[train], labels[train], list(range(int(train.sum()))), features[calibration],
                                                args.known_pct, seed=split, rejected_features=extra)
                    threshold = reference.calibration.threshold
                    called = [float(np.mean(scores(features[rows], reference) > threshold)) for rows in (unseen, near, far)]
                    results.setdefault((share, arm), []).append(tuple(called))
            print(f"rotation {rotation} split {split}: held out {', '.join(held)}", flush=True)
    print(f"\nfrozen Lite0 features, known_pct {args.known_pct:g}: called unknown, mean (sd) over {4 * args.splits} rotations x splits")
    for (share, arm), rows in sorted(results.items()):
        table = np.array(rows) * 100
        mean, sd = table.mean(axis=0), table.std(axis=0)
        print(f"  rejected {share:4.0%} of the held-out kinds, {arm:21s} known unseen {mean[0]:4.1f}% (sd {sd[0]:3.1f})  "
              f"near {mean[1]:5.1f}% (sd {sd[1]:4.1f})  far {mean[2]:5.1f}% (sd {sd[2]:4.1f})")


if __name__ == "__main__":
    main()
