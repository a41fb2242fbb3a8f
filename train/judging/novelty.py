"""Novelty: how unlike a photo is to the photos a model was trained on, so it can say "none of these".

Per label, a photo's distance to that label is the cosine distance, in the exported network's own
feature space, to the label's k-th nearest reference photo (k = `NEIGHBOURS`, fewer for a label
with fewer photos); its novelty is the distance to the nearest label. The reference set is the
training photos, a per-label sample of them past `REFERENCE_CAP`. A copy of a reference photo
scores about 0 (`NEAREST_FACTOR`).

Why this score: on flowers-dev with a fifth label held out (bench/open_set.py, and numpy experiments on
its cached frozen Lite0 features, 5-fold, at a threshold that 2% of the labels' own test photos pass) the
k-th-nearest distance flags nearly all of ood-dev's everyday photos; the softmax's confidence (MSP) or
energy, relative Mahalanobis and ImageNet-class agreement flag far fewer, and neither fusing kNN with
those nor power-transforming the features lifted its tail. Per label rather than over the whole set,
because a label with fewer than k photos would otherwise be unlike itself (its k-th nearest photo lies
in another label): per label it measured the same on flowers-dev. A flower of another kind is a near
miss that these features hardly tell apart: few of the held-out kind are flagged by any of them
(figures in bench/README.md).

Calibration: the threshold is the `known_pct` percentile of novelty scores of photos the reference
does not contain as themselves: the validation photos, the training photos left out of a capped
reference, and each reference photo scored against the others (leave-one-out, its near-duplicates
left out too). Validation alone is a few dozen photos on a small set, whose 98th percentile is
nearly its maximum: on flowers-dev's folds it called more test photos unknown than promised, and
spread widely from fold to fold, where validation plus leave-one-out kept close to the promise
(bench/calibration.py measures the promise out of fold; figures in bench/README.md).

Photos the user rejected (curate/rejected.py): keyword search brings other kinds that lie as close to
a label's photos as its own do, so the distance alone lets them through. With rejected photos in the
reference, a photo's novelty is multiplied by max(1, scale / its distance to the `REJECTED_NEIGHBOURS`-th
nearest rejected photo), where `scale` is set so that no calibration photo changes sides: a photo nearer
the rejected ones, relative to its label, than any photo of the labels is called unknown, while the
promise stays the labels' photos' (scratch check on nine kinds: bench/README.md).

One implementation of the score, in TensorFlow ops: the SavedModel's graph calls `novelty()`, and so
do calibration and the suspects step (on numpy arrays), so the score means the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from retrainkit.model.card import Calibration

#: The k of the k-th nearest reference photo of a label (5 and 20 measured about the same as 10: bench/open_world.py;
#: figures in bench/README.md).
NEIGHBOURS = 10
#: A photo this many times closer to its nearest reference photo than to the k-th is that photo's copy (a resized
#: or re-encoded training photo): its distance is NEAREST_FACTOR x the nearest one, about 0. For any other photo
#: the k-th distance is the smaller (in 1,280 dimensions the 1st and 10th neighbours lie at similar distances), so
#: the rule changes nothing else; without it a training photo at the edge of its label could be "none of the labels".
NEAREST_FACTOR = 10.0
#: Reference photos kept in the model at most: 2,000 x 1,280 float16 features are 5.1 MB.
REFERENCE_CAP = 2000
#: The k of the rejected photos: one stray rejected photo among a label's own does not make its neighbours
#: unknown (3 caught more of the rejected kinds than 1 at the same promise in the scratch check).
REJECTED_NEIGHBOURS = 3
#: Rejected photos kept in the model at most (a per-model sample past it).
REJECTED_CAP = 500
#: Query rows per similarity block in calibration, so a big set never builds an N x N matrix at once.
_BLOCK = 1024


@dataclass
class Reference:
    """The photos a model compares a new photo with: unit vectors sorted by label, and what the threshold is."""

    vectors: np.ndarray
    #: per label (in label order), its rows of `vectors` as (start, end, k); an empty range is infinitely far
    ranges: list[tuple[int, int, int]]
    calibration: Calibration
    #: the rows of `vectors` after the labels' that hold rejected photos, as (start, end, k); None without them
    rejected: tuple[int, int, int] | None = None


def label_distances(features, vectors, ranges: list[tuple[int, int, int]], excluded=None) -> tf.Tensor:
    """(queries x labels) distance of each photo to each label: to the label's k-th nearest reference photo, or
    NEAREST_FACTOR x to its nearest where that is smaller (a copy of a reference photo: about 0).

    `excluded` (bool, queries x reference) leaves pairs out: a photo and its near-duplicates when a
    reference photo is scored against the others; a label left with fewer than k photos, or with none, is
    infinitely far.
    """
    queries = tf.math.l2_normalize(tf.cast(features, tf.float32), axis=1)
    similarity = tf.matmul(queries, tf.cast(vectors, tf.float32), transpose_b=True)
    if excluded is not None:
        similarity = tf.where(excluded, tf.constant(-np.inf, tf.float32), similarity)
    columns = []
    for start, end, k in ranges:
        if end == start:  # no photo of this label: never the nearest
            columns.append(tf.fill(tf.shape(similarity)[:1], tf.constant(np.inf, tf.float32)))
            continue
        nearest = 1.0 - tf.math.top_k(similarity[:, start:end], k=k).values
        columns.append(tf.minimum(nearest[:, -1], NEAREST_FACTOR * nearest[:, 0]))
    return tf.maximum(tf.stack(columns, axis=1), 0.0)  # rounding puts a copy a hair below 0


def novelty(features, vectors, ranges: list[tuple[int, int, int]], excluded=None, rejected: tuple[int, int, int] | None = None,
            rejected_scale: float = 0.0) -> tf.Tensor:
    """How unlike the nearest label each photo is: the smallest of its label distances; with `rejected` rows and
    a scale, multiplied by max(1, scale / the distance to the k-th nearest rejected photo)."""
    distance = tf.reduce_min(label_distances(features, vectors, ranges, excluded), axis=1)
    if rejected is None or rejected_scale <= 0:
        return distance
    return distance * tf.maximum(1.0, rejected_scale / tf.maximum(rejected_distance(features, vectors, rejected), 1e-6))


def rejected_distance(features, vectors, rejected: tuple[int, int, int]) -> tf.Tensor:
    """Each photo's cosine distance to its k-th nearest rejected photo (rows start:end of `vectors`)."""
    start, end, k = rejected
    queries = tf.math.l2_normalize(tf.cast(features, tf.float32), axis=1)
    similarity = tf.matmul(queries, tf.cast(vectors[start:end], tf.float32), transpose_b=True)
    return tf.maximum(1.0 - tf.math.top_k(similarity, k=k).values[:, -1], 0.0)


def unit(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, np.float32)
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)


def label_ranges(labels: np.ndarray, classes: int, leave_one_out: bool = True) -> list[tuple[int, int, int]]:
    """(start, end, k) per label of label-sorted rows; k leaves room for leave-one-out when asked.
    A label without rows gets an empty range and never is the nearest."""
    counts = np.bincount(labels, minlength=classes)
    ends = np.cumsum(counts)
    spare = 1 if leave_one_out else 0
    return [(int(end - n), int(end), int(max(1, min(NEIGHBOURS, n - spare)))) for n, end in zip(counts, ends)]


def scores(features: np.ndarray, reference: Reference) -> np.ndarray:
    """Novelty of feature rows against a built reference (numpy in, numpy out), in blocks."""
    return _blocked(unit(features), reference.vectors, reference.ranges, reference.rejected, reference.calibration.rejected_scale)


def build_reference(train_features: np.ndarray, train_labels: np.ndarray, train_groups: list[int],
                    validation_features: np.ndarray, known_pct: float, seed: int = 0,
                    cap: int = REFERENCE_CAP, rejected_features: np.ndarray | None = None) -> Reference:
    """The reference (a per-label sample past `cap`) and the threshold that keeps `known_pct`% of real photos.

    `train_groups` gives each training row a near-duplicate group id (equal ids: copies of one picture),
    so leave-one-out never scores a photo against its own copy. `rejected_features`: the photos the user
    rejected, in the same space (see the module's note).
    """
    train = unit(train_features)
    labels = np.asarray(train_labels)
    chosen = _sample(labels, cap, seed)
    chosen = chosen[np.argsort(labels[chosen], kind="stable")]  # label-sorted: each label a slice
    classes = int(labels.max()) + 1 if len(labels) else 0
    vectors, ranges = train[chosen], label_ranges(labels[chosen], classes)
    groups = np.asarray(train_groups)
    left_out = np.setdiff1d(np.arange(len(train)), chosen)
    validation_vectors = unit(validation_features) if len(validation_features) else np.zeros((0, train.shape[1]), np.float32)
    queries = np.concatenate([vectors, train[left_out], validation_vectors])
    scored = np.concatenate([_leave_one_out(vectors, ranges, groups[chosen]), _blocked(train[left_out], vectors, ranges),
                             _blocked(validation_vectors, vectors, ranges)])
    finite = np.isfinite(scored)  # a photo whose every other reference photo is its copy says nothing
    calibration_scores = scored[finite]
    threshold = float(np.percentile(calibration_scores, known_pct)) if len(calibration_scores) else float("inf")
    validation = scored[len(scored) - len(validation_vectors):]
    kept = float((validation <= threshold).mean() * 100) if len(validation) else None
    rejected = _rejected_sample(rejected_features, seed)
    scale, rows = 0.0, None
    if len(rejected) and np.isfinite(threshold) and len(calibration_scores):
        rows = (len(vectors), len(vectors) + len(rejected), min(REJECTED_NEIGHBOURS, len(rejected)))
        everything, calibrated = np.concatenate([vectors, rejected]), queries[finite]
        near_rejected = np.concatenate([rejected_distance(calibrated[start:start + _BLOCK], everything, rows).numpy()
                                        for start in range(0, len(calibrated), _BLOCK)])
        # no calibration photo within the threshold crosses it: novelty x scale / near_rejected <= threshold for each,
        # so the scale is the threshold over the largest (distance / distance to the rejected) among them
        inside = calibration_scores <= threshold
        largest = float(np.max(calibration_scores[inside] / np.maximum(near_rejected[inside], 1e-6))) if inside.any() else 0.0
        scale = threshold / largest if largest > 0 else 0.0
        vectors = everything
    calibration = Calibration(round(threshold, 6), float(known_pct), NEIGHBOURS, len(chosen), len(calibration_scores),
                              None if kept is None else round(kept, 2), rejected_photos=len(rejected) if scale else 0,
                              rejected_scale=float(scale))
    return Reference(vectors.astype(np.float16), ranges, calibration, rows if scale else None)


def _rejected_sample(rejected_features: np.ndarray | None, seed: int) -> np.ndarray:
    if rejected_features is None or not len(rejected_features):
        return np.zeros((0, 0), np.float32)
    rejected = unit(rejected_features)
    if len(rejected) > REJECTED_CAP:
        rejected = rejected[np.sort(np.random.default_rng(seed).choice(len(rejected), REJECTED_CAP, replace=False))]
    return rejected


def _sample(labels: np.ndarray, cap: int, seed: int) -> np.ndarray:
    """All rows when they fit; else each label's share of `cap`, drawn at random (with `seed`), in row order."""
    if len(labels) <= cap:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        take = max(1, round(cap * len(rows) / len(labels)))
        chosen.append(rng.choice(rows, size=min(take, len(rows)), replace=False))
    return np.sort(np.concatenate(chosen))[:cap]


def _blocked(queries: np.ndarray, vectors: np.ndarray, ranges: list[tuple[int, int, int]], rejected: tuple[int, int, int] | None = None,
             rejected_scale: float = 0.0) -> np.ndarray:
    out = [novelty(queries[start:start + _BLOCK], vectors, ranges, rejected=rejected, rejected_scale=rejected_scale).numpy()
           for start in range(0, len(queries), _BLOCK)]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _leave_one_out(vectors: np.ndarray, ranges: list[tuple[int, int, int]], groups: np.ndarray) -> np.ndarray:
    """Each reference photo against the others, its near-duplicates left out (a label of copies stays honest);
    inf for a photo whose every other reference photo is its copy."""
    out = []
    for start in range(0, len(vectors), _BLOCK):
        excluded = groups[start:start + _BLOCK, None] == groups[None, :]
        out.append(novelty(vectors[start:start + _BLOCK], vectors, ranges, excluded).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)
