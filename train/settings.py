"""The [train] section of the shared settings file, with its defaults."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from retrainkit.config import load_section
from retrainkit.dataset_layout import CACHE_DIR

from .errors import TrainError

#: `--fine-tune all`: every layer of the backbone trains, from the images.
FINE_TUNE_ALL = "all"
#: The default: the last block with the built-in backbone, off with a TF Hub or SavedModel one; see FineTune.of().
#: At every size measured it does not lose to the frozen head (bench/finetune.py --per-label N, 5 folds x 3
#: partitions; figures in bench/README.md), so no size keeps it off.
FINE_TUNE_AUTO = "auto"
#: What "auto" fine-tunes: the last block (ten variants of its recipe measured, none clearly better; two or
#: more blocks no better: bench/finetune.py, figures in bench/README.md).
FINE_TUNE_DEFAULT_BLOCKS = 1
#: Deeper cuts cache activations too large per image (block 8 in: 14x14x80 floats, 63 KB).
MAX_FINE_TUNE_BLOCKS = 8
#: The backbones built into the toolkit (train/network/efficientnet_lite.py's VARIANTS, named here so that
#: reading the settings needs no TensorFlow); only they can be fine-tuned.
BUILT_IN_BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
SEALED_NOTE = ("Not fine-tuned: a TF Hub or SavedModel backbone is a sealed graph; the default fine-tunes the built-in "
               "backbone only.")


@dataclass(frozen=True)
class FineTune:
    """What fine-tuning does in a run, decided when the settings are read: off, the backbone's last
    `blocks` blocks (from activations cached at the cut), or the `whole` network (from the images)."""

    blocks: int = 0
    whole: bool = False
    #: why the default left it off, in one line ("" when it was asked for or is on)
    note: str = ""

    @property
    def on(self) -> bool:
        return self.whole or self.blocks > 0

    def __bool__(self) -> bool:
        return self.on

    def __str__(self) -> str:
        """As the setting spells it: "0" (off), "1".."8", or "all"."""
        return FINE_TUNE_ALL if self.whole else str(self.blocks)

    @classmethod
    def of(cls, spelled: str, backbone: str) -> FineTune:
        """The setting as written ("auto", "0".."8", "all", already checked) for this backbone."""
        if spelled == FINE_TUNE_AUTO:
            if backbone not in BUILT_IN_BACKBONES:
                return cls(note=SEALED_NOTE)
            return cls(blocks=FINE_TUNE_DEFAULT_BLOCKS)
        return cls(whole=True) if spelled == FINE_TUNE_ALL else cls(blocks=int(spelled))


@dataclass(frozen=True)
class TrainSettings:
    #: "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2" (built in, offline), a TF Hub handle,
    #: or a local SavedModel folder
    backbone: str = "efficientnet_lite0"
    #: input size for hub/local backbones whose size is not known; 0 means "look it up"
    image_size: int = 0
    val_pct: float = 10.0
    test_pct: float = 10.0
    epochs: int = 100
    #: if above 0, train for this many batches instead of `epochs` (retrain.py's --how_many_training_steps)
    steps: int = 0
    batch_size: int = 32
    learning_rate: float = 0.001
    dropout: float = 0.2
    l2: float = 0.0001
    #: epochs without a better validation loss before stopping
    patience: int = 20
    seed: int = 0
    #: random variants per training image (flip, crop, scale, brightness), extracted once and cached
    augment: int = 0
    #: bottleneck cache folder; "" means DATASET/.cache
    cache_dir: str = ""
    #: images decoded per batch when extracting bottlenecks (and the network's batch on a GPU; a CPU runs
    #: it in calls of the size measured fastest there: retrainkit/model/slicing.py)
    extract_batch: int = 32
    #: fine-tuning as written: how many of the backbone's last blocks to train with the head (0 = off; 1-8),
    #: "all" for the whole network, trained from the images, or "auto": the last block with the built-in
    #: backbone, else off (a string, so TOML takes all of them). What a run does is `fine_tuning`, a FineTune.
    fine_tune: str = FINE_TUNE_AUTO
    fine_tune_epochs: int = 15
    #: the starting learning rate, which decays to 0 over fine_tune_epochs (cosine)
    fine_tune_learning_rate: float = 0.0001
    #: the same for --fine-tune all: every layer moves, so ten times smaller (bench/finetune.py: 1e-4 lost
    #: against the frozen head, 1e-5 did not; figures in bench/README.md)
    fine_tune_all_learning_rate: float = 0.00001
    #: epochs without a better validation loss before fine-tuning stops (the best epoch is kept)
    fine_tune_patience: int = 4
    #: training examples fine-tuning goes through in all at most (0 = no limit): on a big set fewer epochs
    #: than fine_tune_epochs (an epoch of 3,000 photos holds ten times the steps of one of 300, and on
    #: bench/finetune_time.py's 3,030 photos a run without the limit kept an epoch that 20,000 examples
    #: reach; figures in bench/README.md). Counted in examples of Lite0's last block: a costlier top gets
    #: proportionally fewer (Lite2's last block costs 1.9x the multiply-adds, so 10,500), which keeps the
    #: time, not the count, the same
    fine_tune_max_examples: int = 20000
    #: augmented variants of each training photo that fine-tuning learns from, besides the photo (each
    #: costs a pass of the network, extracted once with the activations). One at every size: on photos
    #: from another photographer pool the model learnt with it generalises better, which a set's own
    #: test split does not show (bench/README.md, bench/finetune_time.py); 0 saves that pass
    fine_tune_variants: int = 1
    #: photos per call of the whole network on a CPU; 0 (the default) measures this machine's best at
    #: first use and keeps it in the user's cache (retrainkit/model/slicing.py; RETRAINKIT_PHOTOS_PER_CALL too)
    photos_per_call: int = 0
    #: "none of the labels": the share of real photos (percent) the novelty threshold keeps, set on photos
    #: the model's reference does not contain (train/judging/novelty.py); 98 aims at 2% of real photos called
    #: unknown, the bench's goal (bench/open_set.py)
    known_pct: float = 98.0
    #: folds of the cross-validation that judges suspects (each image by a head that never saw it)
    folds: int = 5
    #: a photo is a mislabel suspect when another label's out-of-fold probability reaches that label's
    #: own confidence threshold and beats the photo's own label by at least this much (0-1);
    #: chosen with bench/suspects.py
    suspect_margin: float = 0.7
    #: a photo is off-topic when its distance to the nearest label of all is this many robust spreads
    #: (MAD) above the tree's median (unlike every label); chosen with bench/suspects.py
    offtopic_z: float = 2.5
    #: ... or when its distance to its own label's photos is this many spreads above that label's median
    #: (unlike its label): stricter, because a label of one fine-grained kind has a long tail of honest
    #: outliers, while the intruders keyword search brings are caught by the rest (bench/suspects.py)
    label_outlier_z: float = 4.0
    #: L2 on the heads that judge suspects (the model's own head keeps `l2`): stronger, so a look-alike
    #: kind's honest photos are not judged confidently another label (bench/suspects.py: fewer of a clean
    #: fine-grained tree flagged, as many intruders caught)
    suspect_l2: float = 0.01

    @classmethod
    def load(cls, config: str | Path | None = None, **overrides: object) -> TrainSettings:
        return load_section(cls, "train", config, overrides, TrainError).checked()

    def checked(self) -> TrainSettings:
        if not (0 <= self.val_pct < 100 and 0 <= self.test_pct < 100 and self.val_pct + self.test_pct < 100):
            raise TrainError("--val-pct and --test-pct must be between 0 and 100 and leave images to train on")
        for name in ("epochs", "batch_size", "extract_batch"):
            if getattr(self, name) < 1:
                raise TrainError(f"--{name.replace('_', '-')} must be at least 1")
        if self.steps < 0 or self.augment < 0 or self.patience < 0 or self.image_size < 0:
            raise TrainError("--steps, --augment, --patience and --image-size cannot be negative")
        if self.learning_rate <= 0:
            raise TrainError("--learning-rate must be above 0")
        if not 0 <= self.dropout < 1:
            raise TrainError("--dropout must be in [0, 1)")
        if not 50 <= self.known_pct <= 100:
            raise TrainError("--known-pct is the share of real photos kept as known, in percent: 50 to 100")
        if self.folds < 2:
            raise TrainError("--folds must be at least 2")
        if min(self.l2, self.suspect_l2) < 0:
            raise TrainError("l2 and suspect_l2 (weight penalties) cannot be negative")
        spelled = str(self.fine_tune).strip().lower()
        if spelled != self.fine_tune:
            return replace(self, fine_tune=spelled).checked()
        if spelled not in (FINE_TUNE_ALL, FINE_TUNE_AUTO) and not (spelled.isdigit() and int(spelled) <= MAX_FINE_TUNE_BLOCKS):
            raise TrainError(f"--fine-tune takes 1 to {MAX_FINE_TUNE_BLOCKS} (the last blocks) or 'all' (the whole network), "
                             f"0 (off) or 'auto' (the default), not {self.fine_tune!r}")
        if self.fine_tune_epochs < 1 or self.fine_tune_patience < 1 or min(self.fine_tune_learning_rate, self.fine_tune_all_learning_rate) <= 0:
            raise TrainError("fine-tuning's epochs, patience and learning rate must be positive")
        if self.fine_tune_variants < 0:
            raise TrainError("fine_tune_variants is a count of augmented variants per training photo: 0 or more (the default is 1)")
        if self.photos_per_call < 0:
            raise TrainError("photos_per_call is a number of photos (0: measured on this machine at first use)")
        if self.fine_tune_max_examples < 0:
            raise TrainError("fine_tune_max_examples cannot be negative (0 means no limit)")
        return self

    def fine_tune_epochs_for(self, examples: int, cost: float = 1.0) -> int:
        """fine_tune_epochs, or fewer when that many epochs of `examples` would pass fine_tune_max_examples,
        which counts examples of Lite0's last block: `cost` is an example's cost relative to one of those
        (finetune.loop.relative_cost), so a costlier top gets fewer examples in the same time."""
        if not self.fine_tune_max_examples or examples <= 0:
            return self.fine_tune_epochs
        return max(1, min(self.fine_tune_epochs, int(self.fine_tune_max_examples / max(cost, 1e-9)) // examples))

    @property
    def fine_tuning(self) -> FineTune:
        """What this run's fine-tuning does ("auto" already decided for the backbone); false when it is off."""
        return FineTune.of(self.fine_tune, self.backbone)

    @property
    def fine_tune_all(self) -> bool:
        return self.fine_tuning.whole

    @property
    def fine_tune_blocks(self) -> int:
        """The last blocks unfrozen; 0 with "all", which trains from the images instead of a cut."""
        return self.fine_tuning.blocks

    def as_run(self) -> dict:
        """The settings as metrics.json records them: fine-tuning as the run did it ("1", not "auto")."""
        return {**self.__dict__, "fine_tune": str(self.fine_tuning)}

    def cache_folder(self, dataset_root: Path) -> Path:
        """Where the bottleneck and activation caches live: --cache-dir, else DATASET/.cache."""
        return Path(self.cache_dir) if self.cache_dir else dataset_root / CACHE_DIR

    def but(self, **changes: object) -> TrainSettings:
        return replace(self, **changes).checked()
