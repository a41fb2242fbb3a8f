"""`create_app(model_dir)`: the WSGI app behind `serve`, importable by any WSGI server (cheroot, gunicorn...).

Why Flask on a WSGI server: one model call per batch of photos is CPU-bound work that TensorFlow
runs outside the GIL, so threads of a plain WSGI server serve it well; Flask parses multipart
uploads (through Werkzeug), refuses a body over the size limit from its Content-Length before
reading it, and is what the seed tutorials used. Uploads stay in memory (never on disk unless
`save_uploads` names a folder).
"""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

from flask import Flask, Request, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException

from retrainkit.errors import UserError
from retrainkit.model.card import Calibration, Metrics, ModelCard
from retrainkit.model.errors import ModelError, UndecodableImage
from retrainkit.model.folder import MAX_BATCH, check_model_dir
from retrainkit.model.image_bytes import converted

from .batching import Batcher

STATIC = Path(__file__).with_name("static")
MB = 1024 * 1024


class InMemoryRequest(Request):
    """Werkzeug spools large uploaded files to temporary files; ours stay in memory (the size limit bounds them)."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


def create_app(model_dir: str | Path, *, top_k: int = 3, max_upload_mb: float = 10, save_uploads: str | Path | None = None,
               max_batch: int = MAX_BATCH, max_wait: float = 0.005) -> Flask:
    """The app for a model folder made by `train`; the model is loaded once, here."""
    from retrainkit.model.classifier import Classifier, predictions  # TensorFlow loads here, not when the module is imported

    folder = check_model_dir(model_dir)
    classifier = Classifier(folder)
    # decoded in the request threads where the model has a pixels-in signature (overlapping the network), else in the call
    decode = classifier.pixels if classifier.takes_pixels else None
    batcher = Batcher(classifier.outputs_from_pixels if decode else classifier.outputs, max_batch=max_batch, max_wait=max_wait)
    about = _about(folder, classifier)
    uploads = Path(save_uploads) if save_uploads else None
    if uploads:
        uploads.mkdir(parents=True, exist_ok=True)

    app = Flask(__name__, static_folder=None)
    app.request_class = InMemoryRequest
    app.config["MAX_CONTENT_LENGTH"] = int(max_upload_mb * MB)
    app.extensions["batcher"] = batcher
    app.extensions["open_set"] = classifier.has_open_set

    @app.get("/")
    def page():
        return send_from_directory(STATIC, "index.html")

    @app.get("/static/<path:name>")
    def static_file(name: str):
        return send_from_directory(STATIC, name)

    @app.get("/healthz")
    def healthz():
        return jsonify({"ok": True, "model": about["name"]})

    @app.get("/api/model")
    def model_info():
        return jsonify(about)

    @app.post("/api/classify")
    def classify_photos():
        started = time.perf_counter()
        with batcher.arriving():
            photos = _uploads()
            prepared = [converted(data, name) for name, data in photos]
            if decode is not None:
                prepared = [_decoded(decode, item, name) for item, (name, _) in zip(prepared, photos)]
        try:
            outputs = batcher.predict(prepared)
        except UndecodableImage as error:
            raise ModelError(f"{photos[0][0] if len(photos) == 1 else 'one of the photos'}: {error}") from None
        found = predictions([name for name, _ in photos], outputs, classifier.labels, top_k)
        if uploads:
            for name, data in photos:
                (uploads / f"{hashlib.sha256(data).hexdigest()[:16]}{Path(name).suffix.lower()[:8]}").write_bytes(data)
        ms = round((time.perf_counter() - started) * 1000, 1)
        answers = [_answer(prediction, about["name"], ms) for prediction in found]
        return jsonify(answers[0] if len(answers) == 1 else answers)

    @app.errorhandler(UserError)
    def bad_image(error: UserError):
        return jsonify({"error": str(error)}), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        message = (f"larger than the {max_upload_mb:g} MB limit (--max-upload-mb)" if error.code == 413
                   else error.description or error.name)
        return jsonify({"error": message}), error.code

    return app


def _decoded(decode, data: bytes, name: str):
    try:
        return decode(data)
    except UndecodableImage as error:
        raise ModelError(f"{name}: {error}") from None


def _uploads() -> list[tuple[str, bytes]]:
    """The photos of this request: multipart `image` fields (one or more), else the raw body."""
    if request.files:
        files = request.files.getlist("image")
        if not files:
            raise UserError("no file in the form field 'image'")
        return [(f.filename or f"image-{i + 1}", f.read()) for i, f in enumerate(files)]
    return [("body", request.get_data(cache=False))]


def _answer(prediction, model: str, ms: float) -> dict:
    """`known` False: none of the labels, `top` then says what it is closest to; null for a model without the open set."""
    return {"image": prediction.path, "top": [{"label": label, "probability": round(p, 6)} for label, p in prediction.top],
            "known": prediction.known, "novelty": prediction.novelty, "model": model, "ms": ms}


def _about(folder: Path, classifier) -> dict:
    """/api/model: the model card and its test figures; a figure the folder lacks is null."""
    card: ModelCard | None = classifier.card
    metrics = Metrics.read_if_any(folder)
    open_set: Calibration | None = classifier.open_set
    return {"name": folder.resolve().name, "labels": classifier.labels, "backbone": card.backbone if card else "",
            "test_accuracy": metrics.test.accuracy if metrics else None, "test_images": metrics.test.count if metrics else None,
            "validation_accuracy": metrics.validation_accuracy if metrics else None,
            # the calibration of "none of the labels"; null for a model exported before it
            "open_set": None if not classifier.has_open_set else {
                **(open_set.as_dict() if open_set else {}),
                "test_kept_pct": metrics.open_set.test_kept_pct if metrics and metrics.open_set else None}}
