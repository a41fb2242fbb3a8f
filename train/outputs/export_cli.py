"""`retrainkit-export MODEL_DIR`: ONNX and TensorFlow Lite files from a trained model folder, without training again.

Why its own command, and why not `export`: exporting takes a model folder where `train` takes a
dataset, and `export` is a shell builtin that would shadow it (`retrainkit-beam` is named the same
way). TensorFlow loads only after the arguments and the folder are checked.
"""

from __future__ import annotations

import argparse
import sys

from curate.tree import check_dataset
from retrainkit.cli import OneLineParser, run_command
from retrainkit.model.folder import check_model_dir
from retrainkit.quiet_tf import import_tensorflow

from .exports import FORMATS, check_extras, parse_formats


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="retrainkit-export",
                           description="Write ONNX and TensorFlow Lite files beside a model folder's SavedModel, without training again.")
    parser.add_argument("model", metavar="MODEL_DIR", help="a model folder made by train")
    parser.add_argument("--format", default=",".join(FORMATS), metavar="onnx,tflite",
                        help="what to write: onnx (model.onnx), tflite (MediaPipe's float16 and int8 files and model_open_set.tflite); "
                             "default both")
    parser.add_argument("--dataset", metavar="DIR",
                        help="the folder the model was trained on: its training photos calibrate model_int8.tflite "
                             "(without it the int8 file is left out)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command("retrainkit-export", lambda: _export(args), "interrupted; files already written are whole")


def _export(args: argparse.Namespace) -> int:
    formats = parse_formats(args.format)
    check_model_dir(args.model)
    if args.dataset:
        check_dataset(args.dataset)
    import_tensorflow()
    check_extras(formats)
    from .exports import export_model

    result = export_model(args.model, formats, dataset=args.dataset)
    if not args.quiet:
        print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
