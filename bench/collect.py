"""Benchmark: our collector vs a sequential one-at-a-time downloader, over a network with 50 ms latency.

    python bench/collect.py [--photos 300] [--latency 0.05] [--workers 8 16 32]

The fake Flickr runs in a child process, so this process's CPU time is the collector's alone.
It serves real photos from ../shared/data/flowers-dev when present (else generated 800x600
JPEGs). Printed: images/s of both, their ratio, CPU ms per image, peak memory.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collector import collect  # noqa: E402
from tests.fake_flickr import API_KEY, API_SECRET, FakeFlickr  # noqa: E402

FLOWERS = ROOT.parent / "shared" / "data" / "flowers-dev"


def photo_library(n: int) -> list[bytes]:
    files = sorted(FLOWERS.glob("*/*.jpg"))[:n]
    if files:
        return [f.read_bytes() for f in files]
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    library = []
    for _ in range(min(n, 50)):
        base = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
        image = Image.fromarray(base).resize((800, 600), Image.BICUBIC)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=88)
        library.append(buffer.getvalue())
    return library


def serve(photos: int, latency: float, port_out) -> None:
    fake = FakeFlickr(latency=latency, library=photo_library(photos))
    fake.add("rose", photos)
    fake.start()
    port_out.send(fake.base)
    while True:
        time.sleep(3600)


def sequential_baseline(base: str, photos: int, out: Path) -> float:
    """What a first script does: one search, then each URL fetched and written in turn."""
    started = time.perf_counter()
    reply = requests.post(f"{base}/services/rest/", data={
        "method": "flickr.photos.search", "text": "rose", "per_page": photos, "extras": "url_c",
        "format": "json", "nojsoncallback": 1,
    }, headers={"Authorization": f'OAuth oauth_consumer_key="{API_KEY}"'}, timeout=30)
    out.mkdir(parents=True)
    for photo in reply.json()["photos"]["photo"]:
        body = requests.get(photo["url_c"], timeout=30).content
        (out / f"{photo['id']}.jpg").write_bytes(body)
    return time.perf_counter() - started


def ours(base: str, photos: int, out: Path, workers: int) -> tuple[float, float]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    summary = collect(["rose"], count=photos, out=out, api_key=API_KEY, api_secret=API_SECRET,
                      endpoint=f"{base}/services/rest/", workers=workers, progress=False)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    assert summary.labels[0].accepted == photos, summary.report()
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--workers", type=int, nargs="+", default=[8, 16, 32])
    args = parser.parse_args()

    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.Process(target=serve, args=(args.photos, args.latency, send), daemon=True)
    server.start()
    base = receive.recv()
    source = "flowers-dev photos" if FLOWERS.is_dir() else "generated 800x600 JPEGs"
    print(f"{args.photos} photos ({source}), {args.latency * 1000:.0f} ms latency per request")
    with tempfile.TemporaryDirectory() as tmp:
        baseline_s = sequential_baseline(base, args.photos, Path(tmp) / "baseline")
        baseline_rate = args.photos / baseline_s
        print(f"sequential baseline : {baseline_rate:7.1f} images/s ({baseline_s:.1f} s)")
        for workers in args.workers:
            wall, cpu = ours(base, args.photos, Path(tmp) / f"ours-{workers}", workers)
            rate = args.photos / wall
            print(f"collect, {workers:2d} workers : {rate:7.1f} images/s ({wall:.1f} s)  ratio {rate / baseline_rate:5.1f}x  "
                  f"CPU {cpu / args.photos * 1000:.2f} ms/image")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak_mb:.0f} MB")
    server.terminate()


if __name__ == "__main__":
    main()
