"""serve: a web page and a JSON API over a model made by `train`.

    >>> from serve import create_app                       # doctest: +SKIP
    >>> app = create_app("models/flowers")                 # a WSGI app: waitress, gunicorn, ...

It depends on the exported model's contract (saved_model with serving_default(image_bytes),
labels.txt, model.json, metrics.json) through `retrainkit.model.Classifier`, the very class
`classify` uses, so the web answer is `classify`'s answer.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
