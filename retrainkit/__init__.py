"""What every stage shares: the user-error type, the settings file, the one-line CLI edge, the dataset
folder's layout (`dataset_layout`), whole-or-nothing writes (`atomic`), and `retrainkit.model`, what
using a trained model folder takes (classify, serve, the exports, a user's script).

It imports nothing of ours, so `collector`, `curate`, `train` and `serve` can each depend on it and on
nothing else of the others' that their names do not say.
"""

from .errors import ConfigError, UserError

__all__ = ["ConfigError", "UserError"]
