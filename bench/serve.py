"""Benchmark: the `serve` command under 1, 4 and 16 concurrent clients, against one client at a time.

    python bench/serve.py [--photos ../shared/data/flowers-dev] [--requests 160]

A model is trained on the shipped sample (examples/flowers) into a temporary folder, `serve` runs
it in its own process (as a user starts it), and clients post photos (flowers-dev's, else the
sample's) as raw bodies over keep-alive connections. Printed per setting: requests/s, p50 and p95
latency, the ratio to one client, failures; and the server's peak memory (VmHWM).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FLOWERS = ROOT.parent / "shared" / "data" / "flowers-dev"
SAMPLE = ROOT / "examples" / "flowers"


def client(url: str, photos: list[bytes], count: int, latencies: list[float], failures: list[int], start: int) -> None:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    for i in range(count):
        began = time.perf_counter()
        connection.request("POST", "/api/classify", body=photos[(start + i) % len(photos)], headers={"Content-Type": "image/jpeg"})
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - began)
        if response.status != 200:
            failures.append(response.status)
    connection.close()


def run(url: str, photos: list[bytes], clients: int, requests: int) -> tuple[float, float, float, int]:
    latencies: list[float] = []
    failures: list[int] = []
    each = max(1, requests // clients)
    threads = [threading.Thread(target=client, args=(url, photos, each, latencies, failures, n * each)) for n in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    ordered = sorted(latencies)
    return len(latencies) / seconds, statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))], len(failures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default=str(FLOWERS if FLOWERS.is_dir() else SAMPLE))
    parser.add_argument("--requests", type=int, default=160)
    args = parser.parse_args()
    photos = [p.read_bytes() for p in sorted(Path(args.photos).glob("*/*.jpg"))]
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(["cp", "-r", str(SAMPLE), f"{scratch}/flowers"], check=True)
        subprocess.run([sys.executable, "-m", "train.cli", f"{scratch}/flowers", "--out", f"{scratch}/model", "--quiet", "--no-suspects"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = subprocess.Popen([sys.executable, "-m", "serve.cli", f"{scratch}/model", "--port", "0", "--workers", "16"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            url = server.stdout.readline().split(" on ", 1)[1].split()[0].rstrip("/")
            run(url, photos, 4, 32)  # warm up: tracing, first batches
            baseline = run(url, photos, 1, args.requests // 2)
            print(f"{len(photos)} photos from {args.photos}; {args.requests} requests per setting")
            for clients in (1, 4, 16):
                rate, p50, p95, failed = baseline if clients == 1 else run(url, photos, clients, args.requests)
                print(f"{clients:2d} clients: {rate:6.1f} requests/s (x{rate / baseline[0]:.2f} of one client), "
                      f"p50 {p50 * 1000:6.0f} ms, p95 {p95 * 1000:6.0f} ms, {failed} failed")
            peak = next(line for line in Path(f"/proc/{server.pid}/status").read_text().splitlines() if line.startswith("VmHWM"))
            print(f"server peak memory: {peak.split(':')[1].strip()}")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
