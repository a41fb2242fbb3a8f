"""Suspects: the photos a keyword search filed wrongly, judged by heads that never saw them.

A head trained on every image and then asked about those same images has learnt their labels,
right or wrong, so it vouches for most mislabeled photos. Here each image is judged out of fold
(k-fold cross-validation of the same head on the cached bottlenecks, near-duplicates kept in
one fold), and two kinds of suspect come out:

- mislabeled: the out-of-fold head is confident the photo belongs to another label. Confidence
  is measured per label, as confident learning does (Northcutt et al. 2021): a photo counts as
  "confidently label j" when its probability for j reaches the average probability that photos
  filed under j get for j. One global cut-off would flag every photo of a hard label.
- off-topic: the photo is unlike its own label. Its distance to the label is train/judging/novelty.py's,
  the score behind the model's "none of the labels", taken out of fold (against the photos of
  the other folds, so a photo never vouches for itself or its near-duplicates), and it is far
  compared with the label's other photos (a robust z-score: median and MAD per label), and
  farther than the label's photos usually are from other labels, so a rose among daisies, a wine
  bottle among roses or a portrait of someone called Rose stands out even when no label fits it.
  A photo that no label fits (its own label improbable to the out-of-fold head, and no other label
  likely) is off-topic too. After a first review, the photos the user rejected are learnt as one
  more class (curate/rejected.py): a photo more likely one of them than its label is
  off-topic, which finds the other kinds of flower that lie as close to a label's photos as its own.

With the embedded backbone each suspect also gets the ImageNet classifier's guess at what the
photo shows ("looks like: wine bottle, person"), from the same cached features.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from retrainkit.atomic import write_atomically
from retrainkit.dataset_layout import CURATE_DIR, SUSPECTS

from ..head import FoldHeads
from ..settings import TrainSettings
from .novelty import label_distances, label_ranges, unit

MISLABELED, OFF_TOPIC = "mislabeled", "off-topic"
#: Below this many images a label cannot be judged: its photos' neighbours and folds say too little.
MIN_IMAGES = 10
#: The spread used for the off-topic z-score is at least this share of the label's median distance,
#: so a label of near-identical photos does not turn tiny differences into outliers (on real photo
#: labels, flowers-dev's, the MAD-based spread is well above it).
SPREAD_FLOOR = 0.2
#: An off-topic photo is at least this share of the label's usual distance to other labels away from
#: its own label (flowers-dev's off-topic photos: well beyond it; the edge of a tight label: far less).
FAR_SHARE = 0.25
#: ImageNet guesses below this probability are not worth showing.
HINT_AT_LEAST = 0.05
#: A photo whose own label gets less than this out of fold is a suspect even when no label fits it.
OWN_LABEL_BELOW = 0.1
#: A photo more likely "rejected before" than its own label, and at least this likely, is off-topic:
#: more likely than not one of what the user rejected (bench/suspects.py --second-review).
LIKE_REJECTED = 0.5
#: First-round rules, looser than the final ones: photos they catch are not learnt from in round two.
FIRST_ROUND_MARGIN, FIRST_ROUND_Z, FIRST_ROUND_OWN = 0.3, 2.5, 0.2


@dataclass
class Suspect:
    path: str
    label: str
    kind: str
    #: higher is more suspicious; mislabeled: the other label's probability minus the own label's (0-1);
    #: off-topic: the robust z-score of the distance to its own label's photos, divided by 10, at most 1
    score: float
    reason: str
    #: for mislabeled: the label the photo looks like
    looks_like: str | None = None
    #: what the ImageNet classifier sees (embedded backbone only), most likely first
    imagenet: list[str] = field(default_factory=list)


@dataclass
class SuspectReport:
    suspects: list[Suspect]
    #: labels too small to judge (label -> images)
    too_small: dict[str, int]
    #: out-of-fold accuracy over the judged images: a cross-validated accuracy for free
    cross_validated_accuracy: float
    folds: int
    seconds: float = 0.0
    #: photos rejected in earlier reviews that the heads learnt as "rejected before"
    rejected_before: int = 0

    @property
    def paths(self) -> set[str]:
        return {s.path for s in self.suspects}

    def count(self, kind: str) -> int:
        return sum(1 for s in self.suspects if s.kind == kind)

    def summary(self, dataset: Path) -> str:
        lines = [f"Suspects: {self.count(MISLABELED)} look mislabeled and {self.count(OFF_TOPIC)} off-topic "
                 f"({self.folds}-fold out-of-fold accuracy {self.cross_validated_accuracy * 100:.1f}%), "
                 f"listed in {dataset}/{CURATE_DIR}/{SUSPECTS}; review them with: curate review {dataset}"]
        if self.rejected_before:
            lines.append(f"Learnt from {self.rejected_before} photos rejected in earlier reviews: photos like them are off-topic suspects")
        if self.too_small:
            small = ", ".join(f"{label} ({n})" for label, n in sorted(self.too_small.items()))
            lines.append(f"Too few images to judge for suspects (at least {MIN_IMAGES}): {small}")
        return "\n".join(lines)


def find_suspects(paths: list[str], truth: np.ndarray, labels: list[str], features: np.ndarray, fold_of: dict[str, int],
                  settings: TrainSettings, epochs: int, imagenet=None, rejected: np.ndarray | None = None) -> SuspectReport:
    """Judge every image; `fold_of` comes from split.folds(), which keeps curate's near-duplicate groups in one fold.

    `rejected`: the vectors of photos the user rejected in earlier reviews. The heads learn them as one
    more class, "rejected before": keyword search brings a few photos of each of many other kinds, so
    the ones still in the tree often resemble those rejected (another kind the same search brought),
    while they lie as close to a label's photos as its own do. A photo more likely rejected than
    anything else is off-topic.
    """
    counts = np.bincount(truth, minlength=len(labels))
    too_small = {labels[j]: int(n) for j, n in enumerate(counts) if 0 < n < MIN_IMAGES}
    judged = np.array([counts[t] >= MIN_IMAGES for t in truth])
    folds = np.array([fold_of[p] for p in paths])
    k = int(folds.max()) + 1 if len(folds) else 0
    if judged.sum() < 2 * MIN_IMAGES or k < 2 or (counts >= MIN_IMAGES).sum() < 2:
        return SuspectReport([], too_small, 0.0, k)
    distances = _out_of_fold_distances(features, truth, folds, len(labels))
    unusual = _unusual(distances, truth, judged)
    none_rejected = np.empty((0, features.shape[1]), np.float32)
    probabilities, like_rejected, learnt = _out_of_fold_probabilities(features, truth, folds, len(labels), judged, unusual, settings, epochs,
                                                                      rejected if rejected is not None and len(rejected) else none_rejected)
    accuracy = float((probabilities.argmax(axis=1) == truth)[judged].mean())
    suspects = _classify(paths, truth, labels, probabilities, unusual, distances, judged, settings, like_rejected)
    if imagenet is not None:
        _add_hints(suspects, paths, features, imagenet)
    suspects.sort(key=lambda s: -s.score)
    return SuspectReport(suspects, too_small, accuracy, k, rejected_before=learnt)


def _out_of_fold_probabilities(features: np.ndarray, truth: np.ndarray, folds: np.ndarray, classes: int, judged: np.ndarray,
                               unusual: np.ndarray, settings: TrainSettings, epochs: int,
                               rejected: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(photos x labels) probabilities from heads that never saw the photo, each photo's probability of
    "rejected before" (0 without rejected photos), and how many rejected photos were learnt.

    Round one (a rough, fast fit) learns from every photo, so the noise it judges also bends what it
    learnt. Round two (confident learning's "prune, then train again") learns only from the photos
    round one found plausible, with the head's own settings. Rejected photos are dealt round the
    folds in round one, so each is judged by a head that never learnt it: one that is a photo of a
    label after all (`_of_a_label`) is left out of round two, where every head learns the rest.
    """
    count, k = len(truth), int(folds.max()) + 1
    settings = settings.but(l2=settings.suspect_l2)  # the judges' own regularisation (TrainSettings.suspect_l2)
    everything = np.concatenate([features, rejected]).astype(np.float32)
    targets = np.concatenate([truth, np.full(len(rejected), classes)])
    width = classes + 1 if len(rejected) else classes
    heads = FoldHeads(everything, targets, np.concatenate([folds, np.arange(len(rejected)) % k]), width, settings)
    rough = heads.fit(epochs, speed_up=4)
    first = rough[:count, :classes]
    own = first[np.arange(count), truth]
    doubtful = (_confidently_other(first, truth, judged, FIRST_ROUND_MARGIN) >= 0) | (unusual >= FIRST_ROUND_Z) | (own < FIRST_ROUND_OWN)
    trusted = np.concatenate([~(doubtful & judged), ~_of_a_label(rough[count:], first, truth)])
    if len(rejected):  # fold -1 is no head's held-out fold: in round two every head learns the rejected photos
        heads = FoldHeads(everything, targets, np.concatenate([folds, np.full(len(rejected), -1)]), width, settings)
    probabilities = heads.fit(epochs, trusted=trusted)[:count]
    like_rejected = probabilities[:, classes] if len(rejected) else np.zeros(count)
    # the labels' share is smaller where a photo looks rejected
    return probabilities[:, :classes], like_rejected, int(trusted[count:].sum())


def _confidently_other(probabilities: np.ndarray, truth: np.ndarray, judged: np.ndarray, margin: float) -> np.ndarray:
    """Per photo, the other label it confidently belongs to, or -1 (confident learning's per-label thresholds).

    A photo is "confidently label j" when its probability for j reaches the average probability
    that photos filed under j get for j; among such labels the likeliest counts, and only when it
    beats the photo's own label by `margin`.
    """
    count, classes = probabilities.shape
    thresholds = _typical_own(probabilities, truth)
    judged_label = np.bincount(truth[judged], minlength=classes) > 0
    confident = (probabilities >= thresholds[None, :]) & judged_label[None, :]
    confident[np.arange(count), truth] = False
    other = np.argmax(np.where(confident, probabilities, -1.0), axis=1)
    gap = probabilities[np.arange(count), other] - probabilities[np.arange(count), truth]
    return np.where(confident.any(axis=1) & (gap >= margin) & judged, other, -1)


def _typical_own(probabilities: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per label, the average probability its own photos get for it (1 for a label without photos): how
    likely "a photo of label j" looks, by confident learning's per-label measure."""
    return np.array([probabilities[truth == j, j].mean() if (truth == j).any() else 1.0 for j in range(probabilities.shape[1])])


def _of_a_label(rejected: np.ndarray, probabilities: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per rejected photo (its out-of-fold probabilities, the last column "rejected before"): True where it is a
    photo of one of the labels after all (as likely that label as the label's own photos are on average, and
    more that label than rejected), which a person may reject instead of moving it: learnt as "rejected", it
    would make that label's own photos look rejected."""
    classes = probabilities.shape[1]
    if not len(rejected):
        return np.zeros(0, bool)
    typical = _typical_own(probabilities, truth)
    best = rejected[:, :classes].argmax(axis=1)
    likeliest = rejected[np.arange(len(rejected)), best]
    return (likeliest >= typical[best]) & (likeliest > rejected[:, classes])


def _classify(paths, truth, labels, probabilities, unusual, distances, judged, settings: TrainSettings,
              like_rejected: np.ndarray) -> list[Suspect]:
    count = len(truth)
    own = probabilities[np.arange(count), truth]
    other = _confidently_other(probabilities, truth, judged, settings.suspect_margin)
    best_other = np.argmax(np.where(np.eye(len(labels), dtype=bool)[truth], -1.0, probabilities), axis=1)
    unlike_all = _unlike_every_label(distances, truth, judged)
    spreads = _label_spreads(distances, truth, judged)
    found = []
    for i in np.flatnonzero(judged):
        label = labels[truth[i]]
        likely_other = probabilities[i, best_other[i]] >= 0.5
        j = other[i] if other[i] >= 0 else (best_other[i] if own[i] < OWN_LABEL_BELOW and unusual[i] < settings.label_outlier_z
                                            and likely_other else -1)
        # A swapped photo also lies nearer the other label's photos than its own (nearly every swap of bench/suspects.py's
        # trees); a hard photo of its own label, between two look-alike labels, mostly does not (most of their clean ones).
        # ... unless it is unlike that label's photos too (further from them than they are, by offtopic_z spreads):
        # then it is none of the labels (a tulip among dandelions that the head can only call a sunflower).
        # bench/suspects.py: no swapped photo is that far from its true label's photos.
        unlike_j = (distances[i, j] - spreads[j][0]) / spreads[j][1] if j >= 0 else 0.0
        if j >= 0 and distances[i, j] < distances[i, truth[i]] and unlike_j >= settings.offtopic_z:
            found.append(Suspect(paths[i], label, OFF_TOPIC, round(min(1.0, float(unlike_j) / 10), 4),
                                 f"unlike the other {label} photos, and the {labels[j]} photos too ({unlike_j:.1f} spreads further "
                                 f"than theirs), though a model that never saw it would call it {labels[j]} "
                                 f"({probabilities[i, j] * 100:.0f}%): another kind than any label"))
        elif j >= 0 and distances[i, j] < distances[i, truth[i]]:
            found.append(Suspect(paths[i], label, MISLABELED, round(float(probabilities[i, j] - own[i]), 4),
                                 f"looks like {labels[j]} ({probabilities[i, j] * 100:.0f}%) to a model that never saw it, "
                                 f"and lies nearer the {labels[j]} photos; {label} only {own[i] * 100:.0f}%", looks_like=labels[j]))
        elif unusual[i] >= settings.label_outlier_z or unlike_all[i] >= settings.offtopic_z:
            found.append(Suspect(paths[i], label, OFF_TOPIC, round(min(1.0, float(max(unusual[i], unlike_all[i])) / 10), 4),
                                 _unlike(label, labels, distances[i], truth[i], unusual[i], unlike_all[i] >= settings.offtopic_z)))
        elif like_rejected[i] >= LIKE_REJECTED and like_rejected[i] > own[i]:
            found.append(Suspect(paths[i], label, OFF_TOPIC, round(float(like_rejected[i]) / 2, 4),
                                 f"like the photos rejected in earlier reviews ({like_rejected[i] * 100:.0f}%) to a model that never "
                                 f"saw it; {label} only {own[i] * 100:.0f}%"))
        elif own[i] < OWN_LABEL_BELOW:
            closest = labels[best_other[i]]
            rest = (f"{closest} {probabilities[i, best_other[i]] * 100:.0f}%, yet it lies no nearer the {closest} photos"
                    if likely_other else f"no other above {probabilities[i, best_other[i]] * 100:.0f}%")
            found.append(Suspect(paths[i], label, OFF_TOPIC, round(float(1 - own[i]) / 2, 4),
                                 f"fits no label well: {label} only {own[i] * 100:.0f}% to a model that never saw it, {rest}"))
    return found


def _out_of_fold_distances(features: np.ndarray, truth: np.ndarray, folds: np.ndarray, classes: int,
                           block: int = 1024) -> np.ndarray:
    """(photos x labels) novelty.label_distances of each photo to each label's photos in the other folds
    (inf for a label with none there). Folds keep near-duplicates together, so no copy vouches for a photo."""
    vectors = unit(features)
    distances = np.full((len(truth), classes), np.inf)
    for fold in np.unique(folds):
        reference = np.flatnonzero(folds != fold)
        reference = reference[np.argsort(truth[reference], kind="stable")]
        ranges = label_ranges(truth[reference], classes, leave_one_out=False)
        queries = np.flatnonzero(folds == fold)
        for start in range(0, len(queries), block):
            rows = queries[start:start + block]
            distances[rows] = label_distances(vectors[rows], vectors[reference], ranges).numpy()
    return distances


def _robust_z(values: np.ndarray) -> tuple[float, float]:
    """(median, spread) of the finite values: the spread is the MAD's normal equivalent, at least SPREAD_FLOOR of
    the median (a label with no photo in the other folds is infinitely far, and says nothing about the spread)."""
    values = values[np.isfinite(values)]
    if not len(values):
        return 0.0, 1.0
    median = float(np.median(values))
    return median, max(1.4826 * float(np.median(np.abs(values - median))), SPREAD_FLOOR * median, 1e-6)


def _label_spreads(distances: np.ndarray, truth: np.ndarray, judged: np.ndarray) -> list[tuple[float, float]]:
    """Per label, (median, spread) of its own judged photos' distance to it: how far a photo of it usually lies."""
    own = distances[np.arange(len(truth)), truth]
    return [_robust_z(own[(truth == j) & judged]) for j in range(distances.shape[1])]


def _unusual(distances: np.ndarray, truth: np.ndarray, judged: np.ndarray) -> np.ndarray:
    """Per photo, how far it is from its own label's other photos, in robust spreads above the label's median.

    Only photos at least FAR_SHARE of the way from their own label to where the other labels usually
    are get a score (the rest get 0): in a label of near-identical pictures the one at the edge is
    far in spreads, yet still close to its label.
    """
    own = distances[np.arange(len(truth)), truth]
    other = _to_other_labels(distances, truth)
    z = np.zeros(len(truth))
    for j in np.unique(truth[judged]):
        members = np.flatnonzero((truth == j) & judged)
        if len(members) < MIN_IMAGES:
            continue
        median, spread = _robust_z(own[members])
        between, _ = _robust_z(other[members])
        scored = members[(own[members] >= FAR_SHARE * between) & np.isfinite(own[members])]
        z[scored] = (own[scored] - median) / spread
    return z


def _to_other_labels(distances: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each photo's distance to the nearest label that is not its own."""
    others = distances.copy()
    others[np.arange(len(truth)), truth] = np.inf
    return others.min(axis=1)


def _unlike_every_label(distances: np.ndarray, truth: np.ndarray, judged: np.ndarray) -> np.ndarray:
    """Per photo, how far it is from the nearest label of all, in robust spreads above the tree's median.

    Why beside the per-label score: a broad label (roses of every colour) has a wide spread of its own,
    and a grey photo of gravel among its roses is unusual for it by only a few spreads, yet farther from
    every label than nearly all of the tree's photos (bench/suspects.py: the non-flower pictures the
    per-label score missed). As there, only photos at least FAR_SHARE of the usual distance between
    labels from every label get a score: in a tree of tight labels a tiny distance is many spreads.
    """
    nearest = distances.min(axis=1)
    between = _to_other_labels(distances, truth)
    usable = judged & np.isfinite(nearest) & np.isfinite(between)
    if not usable.any():
        return np.zeros(len(nearest))
    median, spread = _robust_z(nearest[usable])
    far_enough = nearest >= FAR_SHARE * float(np.median(between[usable]))
    return np.where(usable & far_enough, (nearest - median) / spread, 0.0)


def _unlike(label: str, labels: list[str], distances: np.ndarray, own: int, z: float, far_from_all: bool) -> str:
    """The off-topic reason in words."""
    if far_from_all or len(labels) < 2:
        return (f"unlike the other {label} photos, and every photo of the other labels (novelty {distances.min():.2f} "
                "to a model that never saw it)")
    others = np.where(np.arange(len(labels)) == own, np.inf, distances)
    return (f"unlike the other {label} photos ({z:.1f} spreads further than usual); "
            f"of the other labels, nearest to {labels[int(np.argmin(others))]}")


def _add_hints(suspects: list[Suspect], paths: list[str], features: np.ndarray, imagenet) -> None:
    kernel, bias, names = imagenet
    row = {p: i for i, p in enumerate(paths)}
    for suspect in suspects:
        logits = features[row[suspect.path]] @ kernel + bias
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        top = np.argsort(-probabilities)[:3]
        suspect.imagenet = [names[t] for t in top if probabilities[t] >= HINT_AT_LEAST] or [names[top[0]]]


def write_suspects(root: Path, report: SuspectReport) -> Path:
    """Atomically: the review page never reads half a file, and a killed run leaves the old list whole."""
    folder = root / CURATE_DIR
    folder.mkdir(exist_ok=True)
    return write_atomically(folder / SUSPECTS, json.dumps([asdict(s) for s in report.suspects], indent=1))
