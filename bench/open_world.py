"""Benchmark: which novelty score separates photos of other flower kinds (near) and everyday photos (far) best,
at the share of the labels' own photos the promise allows?

    python bench/open_world.py [--flowers ../shared/data/flowers-dev] [--others ../shared/data/other-flowers-dev]
                               [--ood ../shared/data/ood-dev] [--rotations 0 1 2 3] [--known-pct 98]

Nine kinds (flowers-dev's five and other-flowers-dev's four) in a held-out-kind rotation: rotations 0-2 each
hold out every third kind (both sources on both sides, so a kind cannot be told by its photographer pool),
rotation 3 holds out other-flowers-dev (five known flowers-dev labels, as a user's first model has them). For each,
`train` (the real pipeline, default settings: fine-tuning) learns the known kinds; then every photo is
scored by each candidate, in numpy, from the same cached vectors the pipeline made:

- features the reference uses: the fine-tuned network's, the frozen network's (the bottleneck), the frozen
  last block's pooled output before the head's 1x1 convolution (the default since this bench), the pooled
  activations entering the fine-tuned block (free: computed anyway), and concatenations;
- the neighbour count k; per label (distance to the nearest label) or over all reference photos;
- the distance combined with the head's doubt (1 - its top probability), each scaled by its own
  98th percentile on the labels' photos, the larger of the two taken.

Each candidate's threshold is the `--known-pct` percentile of its scores on the known kinds' photos that
no weight learned from (validation and test), so every candidate flags the same share of them and the
columns compare what gets caught: the held-out kinds (near) and ood-dev (far), with AUROC. The spread
is over rotations. Nothing is written into the data folders: the trees are links in a scratch folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"

from bench.open_set import auroc  # noqa: E402
from bench.trees import link_kinds  # noqa: E402

OOD_LABEL = "zz-everyday"


def link_ood(ood: Path, tree: Path) -> None:
    (tree / OOD_LABEL).mkdir(parents=True, exist_ok=True)
    for photo in sorted(ood.rglob("*")):
        if photo.is_file():
            os.symlink(photo, tree / OOD_LABEL / f"{photo.parent.name}-{photo.name}")


def joined(*parts: np.ndarray) -> np.ndarray:
    """Unit parts side by side: the cosine similarity of the whole is the mean of the parts' similarities."""
    from train.judging.novelty import unit

    return unit(np.concatenate([unit(p) for p in parts], axis=1))


def knn_distance(queries: np.ndarray, reference: np.ndarray, labels: np.ndarray, k: int, per_label: bool) -> np.ndarray:
    """train/judging/novelty.py's score in numpy: distance to the k-th nearest reference photo of the nearest label
    (or of the whole set), or 10x the nearest one where that is smaller (a copy)."""
    similarity = queries @ reference.T
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)] if per_label else [np.arange(len(labels))]
    columns = []
    for rows in groups:
        near = 1 - np.sort(similarity[:, rows], axis=1)[:, ::-1][:, :min(k, len(rows))]
        columns.append(np.minimum(near[:, -1], 10 * near[:, 0]))
    return np.maximum(np.min(np.stack(columns, axis=1), axis=1), 0)


def rotation_scores(run_dir: Path, everything, kinds_known: list[str], model_out: Path) -> dict:
    """Each candidate's scores for every photo, with which group each photo belongs to."""
    import keras

    from train.finetune.warm_start import read
    from train.judging.novelty import unit

    split = json.loads((model_out / "split.json").read_text())
    metrics = json.loads((model_out / "metrics.json").read_text())
    labels = metrics["labels"]
    previous = read(model_out)
    lite, cut = everything["lite"], previous.cut
    network = lite.build_top(cut)
    inputs = keras.Input(network.input_shape[1:])
    features_out = network(inputs)
    logits_out = keras.layers.Dense(len(labels))(features_out)
    model = keras.Model(inputs, [features_out, logits_out])
    model.set_weights(previous.weights)
    tuned, logits = model.predict(everything["activations"], batch_size=64, verbose=0)
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    doubt = 1 - probabilities.max(axis=1)
    frozen, pooled = everything["frozen"], everything["activations"].mean(axis=(1, 2))

    name_of = {}  # "kind/file" in the rotation's tree -> its role
    for part, paths in split.items():
        for path in paths:
            name_of[path] = "train" if part == "train" else "known"
    roles = []
    for path, kind in zip(everything["paths"], everything["kinds"]):
        if kind == OOD_LABEL:
            roles.append("far")
        elif kind in kinds_known:
            roles.append(name_of.get(path, "skipped"))
        else:
            roles.append("near")
    roles = np.array(roles)
    label_index = {label: i for i, label in enumerate(labels)}
    train_rows = np.flatnonzero(roles == "train")
    train_labels = np.array([label_index[everything["kinds"][i]] for i in train_rows])
    last_block = lite.build_novelty_top(cut).predict(everything["activations"], batch_size=64, verbose=0)
    spaces = {"fine-tuned": unit(tuned), "frozen": unit(frozen), "cut-pooled": unit(pooled), "frozen last block": unit(last_block),
              "fine-tuned+frozen": joined(tuned, frozen), "fine-tuned+frozen last block": joined(tuned, last_block),
              "frozen+frozen last block": joined(frozen, last_block)}
    candidates = {}
    for name, space in spaces.items():
        candidates[f"{name}, k=10 per label"] = knn_distance(space, space[train_rows], train_labels, 10, True)
    chosen = spaces["frozen last block"]
    for k in (1, 5, 20):
        candidates[f"frozen last block, k={k} per label"] = knn_distance(chosen, chosen[train_rows], train_labels, k, True)
    candidates["frozen last block, k=10 overall"] = knn_distance(chosen, chosen[train_rows], train_labels, 10, False)
    candidates["head's doubt alone"] = doubt
    known = roles == "known"
    for name in ("fine-tuned, k=10 per label", "frozen last block, k=10 per label"):
        distance = candidates[name]
        scaled = np.maximum(distance / np.percentile(distance[known], 98), doubt / max(np.percentile(doubt[known], 98), 1e-6))
        candidates[f"{name} or doubt"] = scaled
    # a training photo scores itself against itself: leave them out of the comparison
    return {"roles": roles, "candidates": candidates, "threshold": metrics["open_set"]["threshold"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flowers", default=str(DATA / "flowers-dev"))
    parser.add_argument("--others", default=str(DATA / "other-flowers-dev"))
    parser.add_argument("--ood", default=str(DATA / "ood-dev"))
    parser.add_argument("--rotations", type=int, nargs="*", default=[0, 1, 2, 3])
    parser.add_argument("--known-pct", type=float, default=98.0)
    parser.add_argument("--save", help="write every rotation's scores to this .npz file")
    parser.add_argument("--cache", help="keep the vector cache here between runs (default: in the scratch folder)")
    args = parser.parse_args()
    from retrainkit.quiet_tf import import_tensorflow

    import_tensorflow()
    from train.features.cache import key_for
    from train.inputs import activation_cache, gather_inputs
    from train.pipeline import train

    flowers, others = Path(args.flowers), Path(args.others)
    first = sorted(p.name for p in flowers.iterdir() if p.is_dir() and not p.name.startswith("."))
    second = sorted(p.name for p in others.iterdir() if p.is_dir() and not p.name.startswith("."))
    kinds = first + second
    results: dict[str, list[tuple[float, float, float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        cache = Path(args.cache) if args.cache else scratch / "cache"
        link_kinds([flowers, others], scratch / "all", kinds)
        link_ood(Path(args.ood), scratch / "all")
        run = gather_inputs(scratch / "all", None, True, {"test_pct": 0, "val_pct": 0, "cache_dir": str(cache)})
        cut = run.at_cut.cut
        keys = [key_for(r.sha256) for r in run.usable]
        activations = activation_cache(run.settings, run.root, run.backbone, cut)
        shape = run.backbone.lite.activation_shape(cut)
        everything = {"lite": run.backbone.lite, "paths": [r.path for r in run.usable], "kinds": [r.label for r in run.usable],
                      "frozen": run.plain, "activations": activations.get(keys).reshape((-1, *shape)).astype(np.float32)}
        activations.close()
        saved = {}
        for rotation in args.rotations:
            held = second if rotation == 3 else [kind for i, kind in enumerate(kinds) if i % 3 == rotation]
            known = [kind for kind in kinds if kind not in held]
            tree = scratch / f"rotation{rotation}"
            link_kinds([flowers, others], tree, known)
            result = train(tree, out=scratch / f"model{rotation}", progress=False, suspects=False, cache_dir=str(cache), test_pct=20)
            found = rotation_scores(tree, everything, known, result.out)
            roles = found["roles"]
            print(f"\nrotation {rotation}: held out {', '.join(held)}; test accuracy {result.evaluation.accuracy * 100:.1f}%; "
                  f"{np.sum(roles == 'known')} known photos out of training, {np.sum(roles == 'near')} near, {np.sum(roles == 'far')} far",
                  flush=True)
            model_score = found["candidates"]["frozen last block, k=10 per label"]  # the exported model's own score
            calibrated = [float(np.mean(model_score[roles == role] > found["threshold"])) for role in ("known", "near", "far")]
            results.setdefault("as trained (its own threshold)", []).append((calibrated[0], calibrated[1], calibrated[2], np.nan, np.nan))
            print(f"  as trained, at its own threshold: known unseen photos called unknown {calibrated[0] * 100:.1f}%, "
                  f"near {calibrated[1] * 100:.1f}%, far {calibrated[2] * 100:.1f}%")
            for name, score in found["candidates"].items():
                known_scores = score[roles == "known"]
                threshold = np.percentile(known_scores, args.known_pct)
                near, far = score[roles == "near"], score[roles == "far"]
                row = (float(np.mean(known_scores > threshold)), float(np.mean(near > threshold)), float(np.mean(far > threshold)),
                       auroc(near, known_scores), auroc(far, known_scores))
                results.setdefault(name, []).append(row)
                print(f"  {name:44s} near {row[1] * 100:5.1f}%  far {row[2] * 100:5.1f}%  AUROC near {row[3]:.3f} far {row[4]:.3f}", flush=True)
                saved[f"r{rotation}|{name}"] = score
            saved[f"r{rotation}|roles"] = roles
        saved["kinds"] = np.array(everything["kinds"])
    print(f"\nover rotations {args.rotations} (mean, sd), threshold: {args.known_pct:g}th percentile of the known kinds' unseen photos")
    for name, rows in results.items():
        table = np.array(rows) * [100, 100, 100, 1, 1]
        mean, sd = table.mean(axis=0), table.std(axis=0)
        print(f"  {name:44s} known {mean[0]:4.1f}%  near {mean[1]:5.1f}% (sd {sd[1]:4.1f})  far {mean[2]:5.1f}% (sd {sd[2]:4.1f})  "
              f"AUROC near {mean[3]:.3f} far {mean[4]:.3f}")
    if args.save:
        np.savez(args.save, **{key: np.asarray(value) for key, value in saved.items()})


if __name__ == "__main__":
    main()
