"""Benchmark: do the exported files answer as the SavedModel does, what does converting cost, how big are they?

    python bench/export.py [--data ../shared/data/flowers-dev] [--backbones efficientnet_lite0,efficientnet_lite2] [--test-pct 20]

Per backbone, `train` runs (the default, fine-tuned) on a copy of `--data` made of symlinks in a
temporary folder (nothing is written beside the data), then `retrainkit-export`'s function writes
each format, timed apart. On the model's own test split, the same pixel arrays
(`retrainkit.model.preprocessing.decoded_pixels`, what `serving_default` computes) go to:
- the SavedModel's pixels-in signature (the reference), model.onnx in onnxruntime and
  model_open_set.tflite in LiteRT: max probability difference, and the shares of photos with the
  same top label and the same `known`;
- and the pixels-in signature against the bytes-in one: with the TensorFlow preprocessing (should be
  identical), and with the Pillow reproduction docs/export.md gives a caller (how close one gets
  without TensorFlow).
Then the files' sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FLOWERS = ROOT.parent / "shared" / "data" / "flowers-dev"
FILES = ("model.onnx", "model_open_set.tflite", "model_float16.tflite", "model_int8.tflite")


def linked_copy(data: Path, target: Path) -> Path:
    """`data`'s label folders as symlinks to each photo: train writes its caches into `target`, never into `data`."""
    for label in sorted(p for p in data.iterdir() if p.is_dir() and not p.name.startswith(".")):
        (target / label.name).mkdir(parents=True)
        for photo in sorted(label.iterdir()):
            if photo.is_file():
                os.symlink(photo.resolve(), target / label.name / photo.name)
    return target


def pillow_pixels(path: Path, size: int) -> np.ndarray:
    """docs/export.md's reproduction of the preprocessing with Pillow alone."""
    from PIL import Image, ImageOps

    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    side = max(1, int(min(image.size) * 0.875))
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(square, np.float32)


def agreement(reference: dict, probabilities: np.ndarray, known: np.ndarray) -> str:
    same_label = (probabilities.argmax(axis=1) == reference["probabilities"].argmax(axis=1)).mean()
    same_known = (known == reference["known"]).mean()
    difference = np.abs(probabilities - reference["probabilities"]).max()
    return f"max |p diff| {difference:.2e}, same label {same_label * 100:.1f}%, same known {same_known * 100:.1f}%"


def measure(backbone: str, data: Path, test_pct: float, work: Path) -> None:
    import onnxruntime
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from retrainkit.model.folder import PIXELS_SIGNATURE, SIGNATURE
    from retrainkit.model.image_bytes import model_bytes
    from retrainkit.model.preprocessing import decoded_pixels
    from train.outputs.exports import ONNX, TFLITE, export_model
    from train.pipeline import train

    dataset = linked_copy(data, work / backbone / "data")
    model = work / backbone / "model"
    started = time.perf_counter()
    result = train(dataset, out=model, backbone=backbone, progress=False, suspects=False, test_pct=test_pct)
    print(f"\n## {backbone}: trained in {time.perf_counter() - started:.0f} s, test accuracy {result.evaluation.accuracy * 100:.1f}% "
          f"on {result.evaluation.count} photos", flush=True)
    for name in (ONNX, TFLITE):
        exported = export_model(model, (name,), dataset=dataset)
        print(f"conversion {name}: {exported.seconds[name]:.1f} s ({', '.join(p.name for p in exported.written)})", flush=True)

    files = [dataset / row["path"] for row in json.loads((model / "metrics.json").read_text())["test_predictions"]]
    size = json.loads((model / "model.json").read_text())["image_size"]
    encoded = [model_bytes(f) for f in files]
    pixels = tf.stack([decoded_pixels(tf.constant(data), size) for data in encoded]).numpy()
    loaded = tf.saved_model.load(str(model / "saved_model"))
    reference = {k: v.numpy() for k, v in loaded.signatures[PIXELS_SIGNATURE](pixels=tf.constant(pixels)).items()}
    print(f"test photos: {len(files)}; unknown by the SavedModel: {int((~reference['known']).sum())}")

    session = onnxruntime.InferenceSession(str(model / "model.onnx"))
    onnx = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"pixels": pixels})))
    print(f"ONNX (onnxruntime {onnxruntime.__version__}) vs pixels-in: {agreement(reference, onnx['probabilities'], onnx['known'])}")
    runner = Interpreter(model_path=str(model / "model_open_set.tflite")).get_signature_runner()
    rows = [runner(pixels=pixels[i:i + 1]) for i in range(len(pixels))]
    lite = {k: np.concatenate([row[k] for row in rows]) for k in ("probabilities", "known")}
    print(f"LiteRT open-set file vs pixels-in: {agreement(reference, lite['probabilities'], lite['known'])}")

    by_bytes = {k: v.numpy() for k, v in loaded.signatures[SIGNATURE](image_bytes=tf.constant(encoded)).items()}
    print(f"bytes-in vs pixels-in (TensorFlow's preprocessing): {agreement(reference, by_bytes['probabilities'], by_bytes['known'])}")
    pillow = np.stack([pillow_pixels(f, size) for f in files])
    print(f"  the Pillow reproduction's pixels: max |pixel diff| {np.abs(pillow - pixels).max():.1f}, "
          f"mean {np.abs(pillow - pixels).mean():.2f} (of 255)")
    via_pillow = {k: v.numpy() for k, v in loaded.signatures[PIXELS_SIGNATURE](pixels=tf.constant(pillow)).items()}
    print(f"pixels-in on the Pillow reproduction vs bytes-in: {agreement(by_bytes, via_pillow['probabilities'], via_pillow['known'])}")

    saved = sum(p.stat().st_size for p in (model / "saved_model").rglob("*") if p.is_file())
    sizes = ", ".join(f"{name} {(model / name).stat().st_size / 1e6:.1f} MB" for name in FILES)
    print(f"sizes: saved_model/ {saved / 1e6:.1f} MB, {sizes}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=FLOWERS)
    parser.add_argument("--backbones", default="efficientnet_lite0,efficientnet_lite2")
    parser.add_argument("--test-pct", type=float, default=20.0)
    args = parser.parse_args()
    from retrainkit.quiet_tf import import_tensorflow

    import_tensorflow()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as work:
        for backbone in args.backbones.split(","):
            measure(backbone, args.data, args.test_pct, Path(work))


if __name__ == "__main__":
    main()
