"""`train DATASET`: the shell face of the train package.

TensorFlow is imported only after the arguments are read, so `--help` and argument mistakes
answer at once. Our errors become one line and exit code 2 at `retrainkit.cli.run_command`, here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from curate.tree import check_dataset
from retrainkit.cli import OneLineParser, run_command
from retrainkit.quiet_tf import import_tensorflow

from .errors import TrainError


def build_train_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="train", description="Train an image classifier on DATASET/<label>/ folders (transfer learning).",
                           epilog="Options left out come from [train] in the config file, then the defaults.")
    parser.add_argument("dataset", metavar="DATASET")
    parser.add_argument("--out", "-o", help="model folder (default models/<dataset name>)")
    parser.add_argument("--backbone", help="efficientnet_lite0 (default), efficientnet_lite1 or efficientnet_lite2 (built in, "
                        "offline), a TF Hub handle, or a SavedModel folder")
    parser.add_argument("--image-size", type=int, help="input size for a hub/local backbone of unknown size")
    parser.add_argument("--epochs", type=int, help="passes over the training bottlenecks (default 100, early stopping)")
    parser.add_argument("--steps", type=int, help="train for this many batches instead (retrain.py's --how_many_training_steps)")
    parser.add_argument("--batch-size", type=int, help="training batch size (default 32)")
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate (default 0.001)")
    parser.add_argument("--val-pct", type=float, help="validation share in percent (default 10)")
    parser.add_argument("--test-pct", type=float, help="test share in percent (default 10)")
    parser.add_argument("--augment", type=int, help="random variants per training image, cached (default 0)")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument("--cache-dir", help="bottleneck cache folder (default DATASET/.cache)")
    parser.add_argument("--tflite", action="store_true",
                        help="also write float16 and int8 TensorFlow Lite models for MediaPipe, and model_open_set.tflite for LiteRT")
    parser.add_argument("--onnx", action="store_true", help="also write model.onnx (pixels in; probabilities, novelty and known out)")
    parser.add_argument("--force", action="store_true",
                        help="train even when nothing changed since the last train into the model folder (else that model is kept)")
    parser.add_argument("--suspects-only", action="store_true",
                        help="find mislabeled and off-topic photos (DATASET/.curate/suspects.json), train no model")
    parser.add_argument("--no-suspects", dest="suspects", action="store_false", help="skip the suspects step")
    parser.add_argument("--drop-suspects", action="store_true",
                        help="leave suspects out of the training split (never off the disk) and report the accuracy either way")
    parser.add_argument("--folds", type=int, help="cross-validation folds that judge suspects (default 5)")
    parser.add_argument("--known-pct", type=float,
                        help="share of real photos (percent) the 'none of the labels' threshold keeps as known (default 98)")
    parser.add_argument("--fine-tune", nargs="?", const="1", metavar="N|all|0",
                        help="after the head, train the backbone's last N blocks (1 if N is left out, at most 8) with it, "
                             "'all' of it from the images (slow without a GPU), or 0: not at all; built-in backbone only. "
                             "Default (auto): the last block with the built-in backbone")
    parser.add_argument("--features", metavar="SHARDS",
                        help="Parquet shards of retrainkit-beam (a glob, folder or URI): their vectors and scan records "
                             "are taken into the local caches first, so only what they lack is computed here")
    parser.add_argument("--config", help="settings file (default ./config.toml when present)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    return parser


def train_main(argv: list[str] | None = None) -> int:
    args = build_train_parser().parse_args(argv)
    return run_command("train", lambda: _train(args), "interrupted; extracted bottlenecks are cached, run it again to go on")


def _train(args: argparse.Namespace) -> int:
    check_dataset(args.dataset)  # answer a wrong path before TensorFlow takes seconds to load
    if args.suspects_only and (args.drop_suspects or not args.suspects or args.tflite or args.onnx or args.out):
        raise TrainError("--suspects-only trains no model: leave out --drop-suspects, --no-suspects, --tflite, --onnx and --out")
    if args.onnx:
        from .outputs.exports import ONNX, check_extras

        check_extras((ONNX,))  # a missing extra is said now, not after the training
    import_tensorflow()
    if args.features:
        _import_features(args)
    from .pipeline import find_suspects_in, train

    options = {name: getattr(args, name) for name in (
        "backbone", "image_size", "epochs", "steps", "batch_size", "learning_rate", "val_pct", "test_pct", "augment", "seed",
        "cache_dir", "folds", "fine_tune", "known_pct")}
    if args.features and _fine_tunes_by_default(args):
        # the shards carry bottlenecks, not the activations fine-tuning starts from: every photo would go
        # through the network here again, which is what the scale-out run was for
        options["fine_tune"] = "0"
        if not args.quiet:
            print("Not fine-tuned: the vectors come from retrainkit-beam shards, which hold no activations at the cut "
                  "(--fine-tune 1 computes them here).", file=sys.stderr, flush=True)
    if args.suspects_only:
        print(find_suspects_in(args.dataset, config=args.config, progress=not args.quiet, **options).summary(Path(args.dataset)))
        return 0
    result = train(args.dataset, out=args.out, config=args.config, progress=not args.quiet, tflite=args.tflite,
                   suspects=args.suspects, drop_suspects=args.drop_suspects, force=args.force, **options)
    print(result.summary())
    if args.onnx:
        # converted from the folder's SavedModel, as retrainkit-export does: also after a train that kept the last model
        from .outputs.exports import ONNX, export_model

        print(export_model(result.out, (ONNX,)).summary())
    return 0


def _fine_tunes_by_default(args: argparse.Namespace) -> bool:
    from .settings import FINE_TUNE_AUTO, TrainSettings

    return TrainSettings.load(args.config, fine_tune=args.fine_tune).fine_tune == FINE_TUNE_AUTO


def _import_features(args: argparse.Namespace) -> None:
    """The shards into DATASET's scan cache and the bottleneck cache train is about to read."""
    from curate.records_import import import_records

    from .features.shards_import import import_vectors
    from .settings import TrainSettings

    settings = TrainSettings.load(args.config, cache_dir=args.cache_dir)
    records = import_records(args.dataset, args.features, progress=not args.quiet)
    vectors = import_vectors(args.features, settings.cache_folder(Path(args.dataset)), progress=not args.quiet)
    if not args.quiet:
        print(f"{records.summary()}\n{vectors.summary()}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(train_main())
