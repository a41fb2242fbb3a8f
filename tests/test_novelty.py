"""The novelty score and its calibration (train/judging/novelty.py), on feature vectors made to order."""

from __future__ import annotations

import numpy as np

from train.judging.novelty import NEIGHBOURS, build_reference, scores, unit


def clusters(rng: np.random.Generator, counts: list[int], dim: int = 32, spread: float = 0.3):
    """Photos of each label around its own direction: (features, labels)."""
    centres = unit(rng.normal(size=(len(counts), dim)))
    features = np.concatenate([centres[j] + spread * rng.normal(size=(n, dim)) / np.sqrt(dim) for j, n in enumerate(counts)])
    return features.astype(np.float32), np.repeat(np.arange(len(counts)), counts)


def no_groups(count: int) -> list[int]:
    return list(range(count))


def test_a_copy_of_a_training_photo_is_known_and_an_unrelated_picture_is_not():
    rng = np.random.default_rng(0)
    features, labels = clusters(rng, [40, 40, 40])
    validation, _ = clusters(np.random.default_rng(0), [8, 8, 8])
    reference = build_reference(features, labels, no_groups(len(labels)), validation, known_pct=98)
    copies = scores(features[:10] * 3.0 + 1e-4, reference)  # re-encoded training photos; scale does not matter: cosine
    assert np.all(copies < 0.01)
    unrelated = scores(rng.normal(size=(20, features.shape[1])), reference)
    assert np.all(unrelated > reference.calibration.threshold)


def test_the_threshold_keeps_the_asked_share_of_unseen_photos_of_the_labels():
    rng = np.random.default_rng(1)
    features, labels = clusters(rng, [300, 300])
    held, _ = clusters(np.random.default_rng(1), [300, 300])  # same centres: more photos of the same labels
    fresh, _ = clusters(np.random.default_rng(1), [1000, 1000])
    for known_pct in (90.0, 98.0):
        reference = build_reference(features, labels, no_groups(len(labels)), held[::10], known_pct=known_pct)
        kept = (scores(fresh[-1000:], reference) <= reference.calibration.threshold).mean() * 100
        assert abs(kept - known_pct) < 3, (known_pct, kept)
        assert reference.calibration.calibration_photos == len(labels) + len(held[::10])


def test_a_label_with_fewer_photos_than_neighbours_is_still_like_itself():
    rng = np.random.default_rng(2)
    features, labels = clusters(rng, [40, 3])  # the second label: fewer photos than NEIGHBOURS
    reference = build_reference(features, labels, no_groups(43), features[:0], known_pct=98)
    assert [k for _, _, k in reference.ranges] == [NEIGHBOURS, 2]
    assert reference.calibration.validation_kept_pct is None  # no validation photos: nothing to claim
    more, more_labels = clusters(np.random.default_rng(2), [400, 400])  # the same two centres, new photos
    small_label = scores(more[more_labels == 1], reference)
    # over the whole set its photos' 10th nearest would lie in the other label, and none would be known;
    # per label most are (fewer than with 40 photos: three photos say less about where the label ends)
    assert (small_label <= reference.calibration.threshold).mean() > 0.5


def test_a_big_set_is_sampled_per_label_and_the_rest_calibrates():
    features, labels = clusters(np.random.default_rng(3), [600, 300, 100])
    reference = build_reference(features, labels, no_groups(len(labels)), features[:0], known_pct=98, cap=200)
    assert len(reference.vectors) == 200 and reference.vectors.dtype == np.float16
    taken = np.bincount(labels[_rows_in(reference.vectors, unit(features))], minlength=3)
    assert list(taken) == [120, 60, 20]  # each label its share of the cap
    assert reference.calibration.calibration_photos == len(labels)  # 200 left one out + 800 never in it


def test_near_duplicates_are_left_out_of_leave_one_out():
    """Each photo eleven times over: judged against its own copies, every photo would score 0."""
    features, labels = clusters(np.random.default_rng(4), [20, 20])
    copies = NEIGHBOURS + 1
    repeated, repeated_labels = np.tile(features, (copies, 1)), np.tile(labels, copies)
    groups = list(range(40)) * copies
    honest = build_reference(repeated, repeated_labels, groups, features[:0], known_pct=50)
    naive = build_reference(repeated, repeated_labels, no_groups(len(groups)), features[:0], known_pct=50)
    assert naive.calibration.threshold < 1e-3  # what calibration would say without the groups: nothing is new
    unique = unit(features)
    similarity = unique @ unique.T
    np.fill_diagonal(similarity, -np.inf)
    nearest_other = np.median(1 - similarity.max(axis=1))  # the 10th nearest is a copy of the nearest other photo
    assert abs(honest.calibration.threshold - nearest_other) < 2e-3


def _rows_in(vectors: np.ndarray, features: np.ndarray) -> np.ndarray:
    similarity = vectors.astype(np.float32) @ features.T
    return similarity.argmax(axis=1)


def test_photos_like_the_rejected_ones_are_unknown_while_the_labels_keep_their_promise():
    rng = np.random.default_rng(5)
    dim = 32
    centres = unit(rng.normal(size=(2, dim)))
    other_kind = unit(centres[:1] + 0.2 * unit(rng.normal(size=(1, dim))))[0]  # another kind, close to label 0

    def photos(centre: np.ndarray, count: int) -> np.ndarray:
        return (centre + 0.3 * rng.normal(size=(count, dim)) / np.sqrt(dim)).astype(np.float32)

    features, labels = np.concatenate([photos(centres[0], 200), photos(centres[1], 200)]), np.repeat([0, 1], 200)
    validation = np.concatenate([photos(centres[0], 20), photos(centres[1], 20)])
    plain = build_reference(features, labels, no_groups(400), validation, known_pct=98)
    taught = build_reference(features, labels, no_groups(400), validation, known_pct=98, rejected_features=photos(other_kind, 15))

    def unknown(reference, rows: np.ndarray) -> float:
        return float((scores(rows, reference) > reference.calibration.threshold).mean())

    fresh_known = np.concatenate([photos(centres[0], 500), photos(centres[1], 500)])
    fresh_other = photos(other_kind, 200)
    assert unknown(plain, fresh_other) < 0.5  # as close to label 0 as its own photos: the distance alone lets most through
    assert unknown(taught, fresh_other) >= unknown(plain, fresh_other) + 0.3, (unknown(plain, fresh_other), unknown(taught, fresh_other))
    assert unknown(taught, fresh_known) <= unknown(plain, fresh_known) + 0.01 <= 0.05  # the promise is the labels' photos'
    assert unknown(taught, rng.normal(size=(50, dim)).astype(np.float32)) == 1.0  # far pictures stay unknown
    assert (taught.calibration.rejected_photos, plain.calibration.rejected_photos) == (15, 0)
    assert "also photos like the 15 rejected" in taught.calibration.describe()
