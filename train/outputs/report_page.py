"""MODEL_DIR/report.html: how good the model is and where it goes wrong, as one page to look at.

Self-contained on purpose: the plots and thumbnails are embedded as data URIs and the style is
inline, so the page opens from the file system, can be mailed, and fetches nothing from anywhere.
The plots are also saved as PNG files beside it (for slides). Everything comes from what train
already wrote (metrics.json) plus the photos themselves for thumbnails, so the page can be made
again from a model folder: `write_report_page(model_dir, dataset_root)`.
"""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from pathlib import Path

from retrainkit.atomic import write_atomically
from retrainkit.model.card import Metrics, OpenSetMetrics, ScoresOnTest
from retrainkit.pixels import thumbnail_jpeg

from .report_plots import confusion_figure, learning_curves_figure, save

PAGE_NAME = "report.html"
PICTURES = {"counts": "confusion_matrix.png", "shares": "confusion_matrix_normalised.png", "curves": "learning_curves.png"}
THUMB_PX = 150
#: thumbnails per section at most; past it the page lists names only, so it stays light to open
MAX_THUMBS = 200
SIDE_BY_SIDE_LABELS = 12

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }
h1 { margin-bottom: .2rem; } .sub { color: #666; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: .6rem 1rem; min-width: 9rem; }
.card b { display: block; font-size: 1.5rem; } .card span { color: #666; font-size: .85rem; }
table { border-collapse: collapse; margin: .5rem 0; } th, td { padding: .25rem .8rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } tr:nth-child(even) { background: #f6f6f6; }
img.plot { max-width: 100%; height: auto; display: block; margin: .5rem 0 1.5rem; }
.pair { display: flex; gap: 1.5rem; align-items: flex-start; } .pair img.plot { width: calc(50% - .75rem); }
.grid { display: flex; flex-wrap: wrap; gap: .8rem; }
figure { margin: 0; width: 170px; font-size: .8rem; word-break: break-all; }
figure img { max-width: 160px; max-height: 160px; display: block; }
.badge { background: #eef; border-radius: 4px; padding: 0 .3rem; } .wrong { color: #b00; }
"""


def write_report_page(model_dir: Path, dataset_root: Path, seconds: float | None = None,
                      suspects: list[dict] | None = None) -> Path:
    """Write the plots (PNG) and report.html into `model_dir`; `suspects` as in suspects.json."""
    metrics = Metrics.read(model_dir)
    for kind, normalised in (("counts", False), ("shares", True)):
        save(confusion_figure(metrics.labels, metrics.test.confusion, normalised), model_dir / PICTURES[kind])
    curves = metrics.curves
    if curves.get("head"):
        save(learning_curves_figure(curves["head"], curves.get("fine_tune")), model_dir / PICTURES["curves"])
    else:
        (model_dir / PICTURES["curves"]).unlink(missing_ok=True)
    page = _page(model_dir, dataset_root, metrics, seconds if seconds is not None else metrics.seconds, suspects)
    return write_atomically(model_dir / PAGE_NAME, page)


def _page(model_dir: Path, root: Path, metrics: Metrics, seconds: float | None, suspects: list[dict] | None) -> str:
    test, labels = metrics.test, metrics.labels
    dataset = metrics.dataset or str(root)
    title = f"Model report: {html.escape(Path(dataset).name)}"
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>",
             f"<meta name=viewport content='width=device-width, initial-scale=1'><style>{_STYLE}</style></head><body>",
             f"<h1>{title}</h1>",
             f"<p class=sub>{html.escape(str(model_dir))} &middot; trained on {html.escape(dataset)} "
             f"&middot; written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p>",
             _headline(metrics, seconds, suspects),
             "<h2>Per label</h2>", _label_table(test, labels),
             "<h2>Confusion matrix</h2>",
             "<p>Rows are the true labels, columns what the model predicted; the diagonal is what it got right.</p>",
             # side by side while each stays readable at half the width; with many labels, one under the other
             "<div class=pair>" if len(labels) <= SIDE_BY_SIDE_LABELS else "<div>",
             _picture(model_dir / PICTURES["counts"], "confusion matrix, counts"),
             _picture(model_dir / PICTURES["shares"], "confusion matrix, share of each true label"), "</div>"]
    if (model_dir / PICTURES["curves"]).is_file():
        parts += ["<h2>Learning curves</h2>",
                  "<p>Cross entropy and accuracy per epoch on the training and validation images; the dotted line is the "
                  "epoch whose weights were kept (lowest validation loss).</p>",
                  _picture(model_dir / PICTURES["curves"], "learning curves")]
    parts += _open_set(root, metrics.open_set)
    parts += _mistakes(root, metrics)
    if suspects is not None:
        parts += _suspects(root, suspects)
    parts.append("<p class=sub>Also here: metrics.json (every number), report.md (for terminals), "
                 + ", ".join(PICTURES.values()) + ".</p></body></html>")
    return "\n".join(parts)


def _headline(metrics: Metrics, seconds: float | None, suspects: list[dict] | None) -> str:
    test, images = metrics.test, metrics.images
    right = round(test.accuracy * test.count)
    fine_tune = str(metrics.settings.get("fine_tune", "0"))
    tuned = {"0": "no (frozen backbone)", "all": "yes, the whole network"}.get(fine_tune, f"yes, the last {fine_tune} block(s)")
    cards = [(f"{test.accuracy * 100:.1f}%", f"test accuracy ({right} of {test.count} right)"),
             (f"{metrics.validation_accuracy * 100:.1f}%", "validation accuracy"),
             (html.escape(metrics.backbone or "?"), f"backbone; fine-tuned: {tuned}"),
             (f"{images.get('train', 0)} / {images.get('validation', 0)} / {images.get('test', 0)}",
              "training / validation / test images"),
             (str(len(metrics.labels)), "labels")]
    if seconds is not None:
        cards.append((f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min", "training time"))
    if suspects is not None:
        cards.append((str(len(suspects)), "suspect photos (below)"))
    return "<div class=cards>" + "".join(f"<div class=card><b>{value}</b><span>{what}</span></div>" for value, what in cards) + "</div>"


def _label_table(test: ScoresOnTest, labels: list[str]) -> str:
    rows = ["<table><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>test images</th></tr>"]
    for label in labels:
        precision, recall = test.precision[label], test.recall[label]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append(f"<tr><td>{html.escape(label)}</td><td>{precision * 100:.1f}%</td><td>{recall * 100:.1f}%</td>"
                    f"<td>{f1 * 100:.1f}%</td><td>{test.support[label]}</td></tr>")
    return "".join(rows) + "</table>"


def _mistakes(root: Path, metrics: Metrics) -> list[str]:
    mistakes = metrics.test.mistakes
    parts = ["<h2>Misclassified test images</h2>"]
    if not mistakes:
        return parts + ["<p>None: every test image was classified right.</p>"]
    own = {p["path"]: dict(zip(metrics.labels, p["probabilities"])) for p in metrics.test_predictions}
    parts.append(f"<p>{len(mistakes)} of {metrics.test.count}, the most confident mistakes first.</p><div class=grid>")
    for number, mistake in enumerate(mistakes):
        true_probability = own.get(mistake["path"], {}).get(mistake["true"])
        note = f" ({true_probability * 100:.0f}% {html.escape(mistake['true'])})" if true_probability is not None else ""
        caption = (f"<b>{html.escape(mistake['path'])}</b><br>true: {html.escape(mistake['true'])}<br>"
                   f"<span class=wrong>predicted: {html.escape(mistake['predicted'])} {mistake['probability'] * 100:.0f}%</span>{note}")
        parts.append(_card(root, mistake["path"], caption, number < MAX_THUMBS))
    return parts + ["</div>"]


def _open_set(root: Path, known: OpenSetMetrics | None) -> list[str]:
    """What "none of the labels" means for this model, and the held-out photos of its own labels it would say it of."""
    if not known:
        return []
    kept = "" if known.validation_kept_pct is None else f" It keeps {known.validation_kept_pct:.1f}% of the validation photos"
    test = "" if known.test_kept_pct is None else f" and {known.test_kept_pct:.1f}% of the test photos"
    parts = ["<h2>None of the labels</h2>",
             f"<p>A photo whose novelty (cosine distance to its {known.neighbours}th nearest of {known.reference} training "
             f"photos, in the network's features) is above <b>{known.threshold:.4f}</b> is answered &ldquo;none of the "
             f"labels&rdquo;. The threshold keeps {known.known_pct:g}% of the {known.calibration_photos} photos it was "
             f"set on (<code>known_pct</code>).{kept}{test}.</p>"]
    if known.measured_photos:
        parts.append(f"<p class=promise>Promised: <b>{known.promised_unknown_pct:g}%</b> of real photos of the labels called "
                     f"none of the labels. Measured: <b>{known.measured_unknown_pct:.1f}%</b> ({known.measured_unknown_photos} "
                     f"of the {known.measured_photos} validation and test photos, which no weight learned from; on a few "
                     f"dozen photos this is a rough check).</p>")
    unknown = known.validation_unknown
    if not unknown:
        return parts + ["<p>No validation photo is past it.</p>"]
    parts.append(f"<p>Validation photos it would call none of the labels ({len(unknown)}), the most novel first: unusual "
                 "shots of a label, or photos that are not of it.</p><div class=grid>")
    for number, photo in enumerate(unknown):
        caption = (f"<b>{html.escape(photo['path'])}</b><br>filed as {html.escape(photo['label'])}<br>"
                   f"novelty {photo['novelty']:.3f}")
        parts.append(_card(root, photo["path"], caption, number < MAX_THUMBS))
    return parts + ["</div>"]


def _suspects(root: Path, suspects: list[dict]) -> list[str]:
    parts = ["<h2>Suspect photos</h2>"]
    if not suspects:
        return parts + ["<p>Cross-validation found no photo that looks mislabeled or off-topic.</p>"]
    parts.append(f"<p>{len(suspects)} photos look mislabeled or off-topic to a cross-validated model. Nothing was moved: "
                 f"look at them and decide with <code>curate review {html.escape(str(root))}</code>, then train again.</p>"
                 "<div class=grid>")
    for number, suspect in enumerate(suspects):
        hint = f"<br>ImageNet sees: {html.escape(', '.join(suspect['imagenet'][:2]))}" if suspect.get("imagenet") else ""
        caption = (f"<span class=badge>{html.escape(suspect['kind'])}</span> <b>{html.escape(suspect['path'])}</b><br>"
                   f"{html.escape(suspect['reason'])}{hint}")
        parts.append(_card(root, suspect["path"], caption, number < MAX_THUMBS))
    return parts + ["</div>"]


def _card(root: Path, path: str, caption: str, with_thumbnail: bool) -> str:
    picture = "<div>(no preview)</div>"
    if with_thumbnail:
        try:
            data = base64.b64encode(thumbnail_jpeg(root / path, THUMB_PX, quality=80)).decode()
            picture = f'<img src="data:image/jpeg;base64,{data}" alt="{html.escape(path)}">'
        except Exception:  # noqa: BLE001 - moved or changed since training: the page still says what it was
            picture = "<div>(file gone or unreadable)</div>"
    return f"<figure>{picture}<figcaption>{caption}</figcaption></figure>"


def _picture(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img class=plot src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
