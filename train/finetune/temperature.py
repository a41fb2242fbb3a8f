"""Temperature scaling: how well logits rank the right label, apart from how confident they are.

Fine-tuning's early stopping watches this (`loop.fine_tune`), and the kept temperature is folded
into the exported logits layer.
"""

from __future__ import annotations

import numpy as np

#: Temperatures tried by `calibrated`: wide enough for a head trained to near-zero training loss.
TEMPERATURES = np.geomspace(0.2, 5.0, 81)


def calibrated(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(lowest mean cross entropy of softmax(logits / T) over TEMPERATURES, that T).

    Why early stopping watches this and not the raw loss: fine-tuning soon makes the network
    overconfident (training loss near 0), and an overconfident model pays heavily in raw
    cross entropy for each mistake even while it makes fewer of them. On bench/finetune_time.py's
    tree the raw validation loss rose in the first epoch while validation accuracy rose too, so every
    epoch lost to the warm start (figures in bench/README.md). Dividing the logits by one fitted
    number removes the confidence scale and leaves how well the model ranks the right label: the
    comparison early stopping needs. The kept epoch's temperature is folded into the logits layer,
    so the exported probabilities are calibrated too, and the top label is unchanged.
    """
    return min((cross_entropy(logits / temperature, labels), float(temperature)) for temperature in TEMPERATURES)


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(labels)), labels]))
