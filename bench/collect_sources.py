"""Benchmark: the key-less sources, alone and mixed, over a network with 50 ms latency; the
perceptual check's share of a download; API requests per photo kept.

    python bench/collect_sources.py [--photos 120] [--latency 0.05] [--workers 8]

Fakes of Openverse, Wikimedia Commons and iNaturalist (tests/fake_sources.py, each its own
server) run in a child process, so this process's CPU time is the collector's alone. They serve
real photos from ../shared/data/flowers-dev when present (each source its own third of them,
so no photo is a copy of another), else generated pictures. Printed, per run: photos/s, the
ratio to the one-source run of Openverse (the baseline, run in the same process), API requests
per photo kept; then the check's cost per photo (hash + comparison against the kept photos)
against the verification decode every download already had, and its share of a download's time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collector import collect  # noqa: E402
from collector.copies import KeptPictures  # noqa: E402
from collector.imagecheck import inspect  # noqa: E402
from tests.fake_sources import FakeCommons, FakeINaturalist, FakeOpenverse  # noqa: E402

FLOWERS = ROOT.parent / "shared" / "data" / "flowers-dev"


def library() -> list[bytes]:
    return [path.read_bytes() for path in sorted(FLOWERS.glob("*/*.jpg"))]


def serve(photos: int, latency: float, send) -> None:
    photo_files = library()
    third = len(photo_files) // 3
    openverse, commons, inat = FakeOpenverse(), FakeCommons(), FakeINaturalist()
    for number, fake in enumerate((openverse, commons, inat)):
        fake.latency = latency
        fake.scale = 1.0
        if photo_files:
            chosen = photo_files[number * third:(number + 1) * third]
            fake.library = chosen  # the fake serves library[seed % len]: consecutive seeds, distinct photos
    openverse.add("flower", photos)
    commons.add("flower", photos)
    inat.add(inat.add_taxon(47148, "Helianthus annuus", "common sunflower"), photos)
    for fake in (openverse, commons, inat):
        fake.start()
    send.send({"openverse": openverse.endpoint, "commons": commons.endpoint, "inaturalist": inat.endpoint})
    while True:
        time.sleep(3600)


def run(endpoints: dict, source: str, label: str, count: int, workers: int, out: Path) -> tuple[float, float, int, int]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    summary = collect([label], count=count, out=out, source=source, endpoints=endpoints, workers=workers, progress=False)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return wall, cpu, summary.labels[0].accepted, summary.api_calls


def check_cost(out: Path, repeats: int = 3) -> tuple[float, float, float]:
    """ms per photo: the verification decode alone (draft decode, what collect did before the check),
    the decode with the hash, and one comparison against every photo kept."""
    from PIL import Image

    blobs = [p.read_bytes() for p in sorted(out.rglob("*.jpg"))]

    def draft_decode(data: bytes) -> None:
        import io
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "JPEG":
                image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()

    def per_photo(step) -> float:
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            for data in blobs:
                step(data)
            best = min(best, (time.perf_counter() - started) / len(blobs))
        return best * 1000

    decode_ms = per_photo(draft_decode)
    hashed_ms = per_photo(inspect)
    kept = KeptPictures.of_dataset(out.parent / "kept", 10, progress=False)
    hashes = [inspect(data).phash for data in blobs]
    for number, phash in enumerate(hashes):
        kept.claim(phash, f"x/{number}.jpg")
    started = time.perf_counter()
    for phash in hashes:
        kept.claim(phash ^ 0xFFFF_FFFF_0000_0000, "y/new.jpg")  # nothing near: the full scan every time
    claim_ms = (time.perf_counter() - started) / len(hashes) * 1000
    kept.close()
    return decode_ms, hashed_ms, claim_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=120)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.Process(target=serve, args=(args.photos, args.latency, send), daemon=True)
    server.start()
    endpoints = receive.recv()
    photos = "flowers-dev photos" if FLOWERS.is_dir() else "generated pictures"
    print(f"{args.photos} photos per source ({photos}), {args.latency * 1000:.0f} ms latency per request, {args.workers} workers")
    runs = [("openverse", "flower", args.photos), ("commons", "flower", args.photos),
            ("inaturalist", "common sunflower", args.photos), ("openverse,commons", "flower", 2 * args.photos)]
    with tempfile.TemporaryDirectory() as tmp:
        baseline = None
        for number, (source, label, count) in enumerate(runs):
            out = Path(tmp) / f"run{number}"
            wall, cpu, kept, calls = run(endpoints, source, label, count, args.workers, out)
            rate = kept / wall
            baseline = baseline or rate
            print(f"{source:18s}: {kept:4d} photos {rate:6.1f} photos/s ({wall:5.1f} s)  ratio to openverse alone {rate / baseline:4.2f}x  "
                  f"{calls / kept:.3f} API requests per photo  CPU {cpu / kept * 1000:.1f} ms/photo")
        decode_ms, hashed_ms, claim_ms = check_cost(Path(tmp) / "run3" / "flower")
        per_download_ms = wall * 1000 * args.workers / kept  # a worker's time per photo in the mixed run
        extra = hashed_ms - decode_ms + claim_ms
        print(f"verification decode {decode_ms:.2f} ms/photo; with the pHash {hashed_ms:.2f} ms; comparison against "
              f"{kept} kept photos {claim_ms:.3f} ms")
        print(f"the perceptual check adds {extra:.2f} ms to a download of {per_download_ms:.0f} ms (worker time, mixed run): "
              f"{extra / per_download_ms:.1%}")
    print(f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    server.terminate()


if __name__ == "__main__":
    main()
