"""Fine-tuning as a step of `train`: the backbone's last blocks (or all of it) trained with the head.

From the head's warm start, on the activations `gather_inputs` cached at the cut (`--fine-tune N`) or on
the image files (`--fine-tune all`); then the trained weights are written back into the backbone so
that export saves the fine-tuned network, and the validation and test photos are scored through it
(their features too: the open set's reference lives in the exported network's feature space).
The training itself is `loop.py`'s.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..examples import Examples
from ..features.decoding import job_for
from ..head import accuracy
from ..inputs import TrainingInputs
from ..settings import FineTune
from ..split import TEST, TRAIN, VALIDATION
from .images import ImageBatches
from .loop import ArrayBatches, FineTuneHistory, copy_into_backbone, dense_head, fine_tune, relative_cost
from .loop import build_model as build_fine_tune_model
from .loop import features as fine_tune_features
from .loop import probabilities as fine_tune_probabilities
from .warm_start import WARM_EPOCHS, WARM_PATIENCE, Previous, save, sound


@dataclass
class FineTuned:
    head: object
    history: FineTuneHistory
    #: what was fine-tuned: the last blocks, or the whole network
    tuning: FineTune
    #: validation accuracy of the head alone (before) and of the fine-tuned network (after)
    validation_before: float
    validation_accuracy: float
    #: the test photos the fine-tuned network read, and its probabilities for them, row by row
    test: Examples
    test_probabilities: np.ndarray
    extracted: int
    #: per split, the fine-tuned network's features (the novelty reference's space)
    features: dict[str, Examples] = field(default_factory=dict)
    #: started from the last run's fine-tuned weights (train/finetune/warm_start.py) rather than the head's
    warm_started: bool = False


def fine_tune_step(run: TrainingInputs, head, dropped: set[str], target: Path, progress: bool, previous: Previous | None = None) -> FineTuned:
    """The backbone (its last blocks, or all of it) and the head trained together from the head's
    weights (or, where sound, from the last run's: `previous`), then written back into the backbone
    so that export() saves the fine-tuned network."""
    settings = run.settings
    validation_before = accuracy(head, run.data[VALIDATION])
    if settings.fine_tune_all:
        model, history, sources, extracted = _from_images(run, head, dropped, target, progress)
        warm = False
    else:
        model, history, sources, extracted, warm = _from_activations(run, head, dropped, target, progress, previous)
    validation, rows = fine_tune_probabilities(model, sources[VALIDATION])
    validation_accuracy = float((validation.argmax(axis=1) == sources[VALIDATION].labels[rows]).mean()) if len(rows) else 0.0
    test_probabilities, _ = fine_tune_probabilities(model, sources[TEST])
    features = {}
    for name, source in sources.items():  # a photo a source could not read is left out of its rows
        vectors, rows = fine_tune_features(model, source)
        features[name] = Examples(vectors, source.labels[rows], [source.paths[i] for i in rows])
    copy_into_backbone(model, run.backbone.network)
    if not settings.fine_tune_all:
        save(target, model.get_weights(), run.backbone.id, run.at_cut.cut, run.labels,
             [path for path, part in run.placement.items() if part == TRAIN])
    return FineTuned(head=dense_head(model, settings), history=history, tuning=settings.fine_tuning,
                     validation_before=validation_before, validation_accuracy=validation_accuracy, test=features[TEST],
                     test_probabilities=test_probabilities, extracted=extracted, features=features, warm_started=warm)


def _from_activations(run: TrainingInputs, head, dropped: set[str], target: Path, progress: bool, previous: Previous | None):
    """The last blocks, from the activations at the cut (extracted with the bottlenecks, cached per image and variant);
    from the last run's weights for one epoch where that is sound."""
    settings, at_cut = run.settings, run.at_cut
    shape = run.backbone.lite.activation_shape(at_cut.cut)
    arrays = {name: rows.shaped(shape) for name, rows in at_cut.data.items()}
    arrays[TRAIN] = arrays[TRAIN].without(dropped)
    sources = {name: ArrayBatches(rows.features, rows.labels, settings.batch_size, settings.seed, rows.paths)
               for name, rows in arrays.items()}
    model = build_fine_tune_model(run.backbone.lite, at_cut.cut, head, settings)
    tests = [path for path, part in run.placement.items() if part == TEST]
    warm = sound(previous, run.backbone.id, at_cut.cut, run.labels, tests)
    if warm:
        try:
            model.set_weights(previous.weights)
        except ValueError:  # another shape after all (a setting the check does not see): start cold
            model = build_fine_tune_model(run.backbone.lite, at_cut.cut, head, settings)
            warm = False
    tuning = settings.but(fine_tune_epochs=min(settings.fine_tune_epochs, WARM_EPOCHS), fine_tune_patience=WARM_PATIENCE) if warm else settings
    history = fine_tune(model, sources[TRAIN], sources[VALIDATION], len(run.labels), tuning, target / "logs", progress,
                        cost=relative_cost(run.backbone.lite, at_cut.cut))
    return model, history, sources, at_cut.computed, warm


def _from_images(run: TrainingInputs, head, dropped: set[str], target: Path, progress: bool):
    """The whole network, from the image files: a fresh augmentation of every training photo per epoch."""
    settings = run.settings
    index = {label: i for i, label in enumerate(run.labels)}
    sources = {}
    for name in (TRAIN, VALIDATION, TEST):
        records = [r for r in run.usable if run.placement[r.path] == name and not (name == TRAIN and r.path in dropped)]
        jobs = [job_for(run.root, r) for r in records]
        labels = np.array([index[r.label] for r in records], dtype=np.int64)
        sources[name] = ImageBatches(jobs, labels, [r.path for r in records], run.backbone, settings.batch_size,
                                     settings.seed, augment=name == TRAIN)
    if progress:
        where = "on the GPU" if tf.config.list_physical_devices("GPU") else "on the CPU (a GPU is much faster: TensorFlow uses one it sees)"
        print(f"Fine-tuning the whole network from {len(sources[TRAIN])} training photos, {where}.", file=sys.stderr, flush=True)
    model = build_fine_tune_model(run.backbone.lite, None, head, settings)
    history = fine_tune(model, sources[TRAIN], sources[VALIDATION], len(run.labels), settings, target / "logs", progress)
    return model, history, sources, 0


