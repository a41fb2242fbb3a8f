"""collector: Flickr keyword search -> one folder of verified photos per label, with provenance.

    >>> from collector import collect
    >>> summary = collect(["rose", "sunflower"], count=20, out="dataset")   # doctest: +SKIP
"""

from .collect import collect
from .errors import CollectError, ConfigError, UserError
from .summary import CollectSummary, LabelSummary

__all__ = ["collect", "CollectError", "ConfigError", "UserError", "CollectSummary", "LabelSummary"]
