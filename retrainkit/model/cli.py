"""`classify MODEL_DIR IMAGE...`: a trained model's labels for photos, in the shell.

TensorFlow is imported only after the arguments and the photos are checked, so `--help` and a wrong
path answer at once; errors become one line and exit code 2 at `retrainkit.cli.run_command`.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..cli import OneLineParser, at_least_one, run_command
from ..quiet_tf import import_tensorflow
from .folder import check_model_dir
from .image_bytes import checked_bytes


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="classify", description="Classify images with a model made by train.")
    parser.add_argument("model", metavar="MODEL_DIR")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--top-k", type=at_least_one, default=3, help="labels to show per image (at least 1; default 3)")
    parser.add_argument("--json", action="store_true", help="one JSON object per image")
    parser.add_argument("--closed-set", action="store_true",
                        help="always name the likeliest labels, even for a photo that is none of them")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command("classify", lambda: _classify(args), "interrupted")


def _classify(args: argparse.Namespace) -> int:
    check_model_dir(args.model)
    encoded = [checked_bytes(path) for path in args.images]  # refuse a non-image before TensorFlow loads
    import_tensorflow()

    from .classifier import NO_OPEN_SET, Classifier

    classifier = Classifier(args.model)
    if not classifier.has_open_set and not args.closed_set:
        print(f"classify: notice: {args.model} {NO_OPEN_SET}", file=sys.stderr)
    for prediction in classifier.classify_encoded(args.images, encoded, top_k=args.top_k):
        print(_shown(prediction, args.json, args.closed_set))
    return 0


def _shown(prediction, as_json: bool, closed_set: bool) -> str:
    """One line per photo: its labels, or "none of the labels" with the closest one."""
    if as_json:
        answer = {"image": prediction.path, "top": [{"label": label, "probability": round(p, 6)} for label, p in prediction.top]}
        if not closed_set:
            answer.update(known=prediction.known, novelty=prediction.novelty)
        return json.dumps(answer)
    if prediction.known is False and not closed_set:
        label, probability = prediction.top[0]
        return f"{prediction.path}: none of the labels (closest: {label} {probability * 100:.1f}%)"
    return f"{prediction.path}: " + ", ".join(f"{label} {p * 100:.1f}%" for label, p in prediction.top)


if __name__ == "__main__":
    sys.exit(main())
