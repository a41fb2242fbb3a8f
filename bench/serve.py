"""Benchmark: `serve` against the model it serves, in one run, and a soak with bad uploads mixed in.

    python bench/serve.py [--photos ../shared/data/flowers-dev] [--requests 320] [--soak 1600] [--profile]

A model is trained on the shipped sample (examples/flowers) into a temporary folder, `serve` runs
it in its own process (as a user starts it), and clients post photos (flowers-dev's, else the
sample's) as raw bodies over keep-alive connections. Printed, all from this run:
- the model called directly (its SavedModel signature, in this process, on the same bytes): photos/s
  of batches of 32 called as serve calls them (in slices of the size retrainkit/model/slicing.py measured on this
  machine), of
  one call on 32, and the median time of a batch-1 call;
- served: requests/s at 1 and 16 clients, p50/p95 latency; the ratios the goals are stated in
  (16 clients against direct batch 32; one client's p50 against a direct batch-1 call);
- the soak: `--soak` requests from 8 clients, every tenth a bad upload (empty, not an image,
  truncated, a decompression bomb, over the size limit): every answer checked (a good photo gets
  the label `classify` gives it, a bad one a 4xx with a JSON error), and the server's resident memory
  after each eighth of the soak (it must settle after warm-up).
`--profile` runs the server with timers around each step of a request (this script's wrappers, not
the product's code) under the 16-client load, and prints where a request's time goes.
Machines are noisy: read the ratios before the rates.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
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
MAX_UPLOAD_MB = 2

#: Run in the server process by --profile: the app with timers around its steps, served by cheroot.
PROFILED_SERVER = r"""
import sys, threading, time, signal, json
from collections import defaultdict
model = sys.argv[1]
from retrainkit.quiet_tf import import_tensorflow
import_tensorflow()
import serve.app as app_module, retrainkit.model.classifier as classify_module, retrainkit.model.image_bytes as image_bytes
totals, counts, lock = defaultdict(float), defaultdict(int), threading.Lock()
def timed(name, function):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            with lock:
                totals[name] += time.perf_counter() - started
                counts[name] += 1
    return wrapper
app_module._uploads = timed("read the body", app_module._uploads)
app_module.converted = timed("header check (Pillow)", image_bytes.converted)
classify_module.Classifier.pixels = timed("decode to pixels (request thread)", classify_module.Classifier.pixels)
classify_module.Classifier.outputs_from_pixels = timed("model call on pixels (per batch)", classify_module.Classifier.outputs_from_pixels)
app_module.jsonify = timed("answer to JSON", app_module.jsonify)
classify_module.Classifier.outputs = timed("model call (per batch)", classify_module.Classifier.outputs)
from serve.batching import Batcher
Batcher.predict = timed("queued + model, as the request sees it", Batcher.predict)
app = app_module.create_app(model, max_upload_mb=float(sys.argv[2]))
wsgi = app.wsgi_app
app.wsgi_app = timed("whole request in the app", wsgi)
from serve.cli import make_server
server = make_server(app, "127.0.0.1", 0, 16)
print(f"Serving on http://127.0.0.1:{server.bind_addr[1]}/", flush=True)
def report(*_):
    import os
    cpu = os.times()
    print(json.dumps({"totals": totals, "counts": counts, "cpu": cpu.user + cpu.system, "calls": app.extensions["batcher"].calls}), flush=True)
signal.signal(signal.SIGUSR1, report)
server.serve()
"""


def client(url: str, bodies: list[bytes], count: int, latencies: list[float], answers: list, start: int) -> None:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    for i in range(count):
        index = (start + i) % len(bodies)
        began = time.perf_counter()
        try:
            connection.request("POST", "/api/classify", body=bodies[index], headers={"Content-Type": "image/jpeg"})
            response = connection.getresponse()
            payload = response.read()
        except (ConnectionError, http.client.HTTPException):  # a 413 may close the connection before the body is sent
            connection.close()
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
            answers.append((index, 413, b""))
            continue
        latencies.append(time.perf_counter() - began)
        answers.append((index, response.status, payload))
        if response.getheader("Connection", "").lower() == "close":
            connection.close()
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    connection.close()


def load(url: str, bodies: list[bytes], clients: int, requests: int) -> tuple[float, float, float, list]:
    latencies: list[float] = []
    answers: list = []
    each = max(1, requests // clients)
    threads = [threading.Thread(target=client, args=(url, bodies, each, latencies, answers, n * each)) for n in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    ordered = sorted(latencies)
    return len(answers) / seconds, statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))], answers


def direct_rates(model: Path, photos: list[bytes]) -> tuple[float, float, float]:
    """(photos/s of 32 photos handed over as serve hands them, i.e. called in slices (retrainkit/model/slicing.py);
    photos/s of one signature call on 32; median seconds of a batch-1 call), in this process."""
    import tensorflow as tf

    from retrainkit.model.classifier import Classifier

    classifier = Classifier(model)
    signature = classifier._signature
    batches = [photos[i:i + 32] for i in range(0, len(photos) - 31, 32)][:8]
    signature(image_bytes=tf.constant(batches[0]))
    best = whole = 0.0
    for _ in range(3):
        began = time.perf_counter()
        for batch in batches:
            classifier.outputs(batch)
        best = max(best, 32 * len(batches) / (time.perf_counter() - began))
        began = time.perf_counter()
        for batch in batches:
            signature(image_bytes=tf.constant(batch))["probabilities"].numpy()
        whole = max(whole, 32 * len(batches) / (time.perf_counter() - began))
    singles = []
    for photo in photos[:60]:
        began = time.perf_counter()
        signature(image_bytes=tf.constant([photo]))["probabilities"].numpy()
        singles.append(time.perf_counter() - began)
    return best, whole, statistics.median(singles[10:])


def bad_uploads() -> list[tuple[str, bytes]]:
    from PIL import Image

    jpeg = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 30, 30)).save(jpeg, "JPEG")
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, "PNG")  # 400 Mpx in a few KB
    return [("empty", b""), ("not an image", b"hello, not a photo" * 20), ("truncated", jpeg.getvalue()[:1500]),
            ("decompression bomb", bomb.getvalue()), ("too large", b"\xff\xd8" + bytes(MAX_UPLOAD_MB * 1024 * 1024 + 10))]


def memory_kb(pid: int) -> int:
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS"))
    return int(line.split()[1])


def soak(url: str, pid: int, photos: list[bytes], expected: list[str], total: int) -> None:
    bad = bad_uploads()
    bodies, kinds = [], []
    for i in range(total):
        if i % 10 == 9:
            name, body = bad[(i // 10) % len(bad)]
            bodies.append(body)
            kinds.append(name)
        else:
            bodies.append(photos[i % len(photos)])
            kinds.append(i % len(photos))
    wrong, memory = [], []
    eighth = total // 8
    for part in range(8):
        chunk = list(range(part * eighth, (part + 1) * eighth))
        _, _, _, answers = load(url, [bodies[i] for i in chunk], 8, len(chunk))
        for index, status, payload in answers:
            kind = kinds[chunk[index]]
            if isinstance(kind, int):
                ok = status == 200 and json.loads(payload)["top"][0]["label"] == expected[kind]
            else:
                ok = 400 <= status < 500 and (status == 413 and not payload or "error" in json.loads(payload))
            if not ok:
                wrong.append((kind, status, payload[:120]))
        memory.append(memory_kb(pid) / 1024)
    print(f"soak: {total} requests from 8 clients, every tenth bad ({', '.join(n for n, _ in bad)}): "
          f"{total - len(wrong)} answered right, {len(wrong)} wrong" + (f" (first: {wrong[0]})" if wrong else ""))
    print("server memory after each eighth (MB): " + ", ".join(f"{m:.0f}" for m in memory)
          + f"; after warm-up (2nd eighth -> last) {memory[-1] - memory[1]:+.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default=str(FLOWERS if FLOWERS.is_dir() else SAMPLE))
    parser.add_argument("--requests", type=int, default=320)
    parser.add_argument("--soak", type=int, default=1600)
    parser.add_argument("--profile", action="store_true", help="where a request's time goes, under 16 clients")
    args = parser.parse_args()
    from retrainkit.quiet_tf import import_tensorflow

    import_tensorflow()
    photos = [p.read_bytes() for p in sorted(Path(args.photos).glob("*/*.jpg"))]
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(["cp", "-r", str(SAMPLE), f"{scratch}/flowers"], check=True)
        subprocess.run([sys.executable, "-m", "train.cli", f"{scratch}/flowers", "--out", f"{scratch}/model", "--quiet", "--no-suspects"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        model = Path(scratch) / "model"
        batch32, whole32, batch1 = direct_rates(model, photos)
        from retrainkit.model.classifier import Classifier

        expected = [p.top[0][0] for p in Classifier(model).classify_encoded([str(i) for i in range(len(photos))], photos)]
        command = ([sys.executable, "-c", PROFILED_SERVER, str(model), str(MAX_UPLOAD_MB)] if args.profile else
                   [sys.executable, "-m", "serve.cli", str(model), "--port", "0", "--max-upload-mb", str(MAX_UPLOAD_MB)])
        server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                  env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)})
        try:
            url = server.stdout.readline().split(" on ", 1)[1].split()[0].rstrip("/")
            load(url, photos, 4, 64)  # warm up: tracing, first batches
            print(f"{len(photos)} photos from {args.photos}; {os.cpu_count()} cores")
            print(f"direct (SavedModel signature, same bytes): {batch32:.1f} photos/s at batch 32 in slices of "
                  f"{Classifier(model).photos_per_call()} (this machine's measured size; {whole32:.1f} in one call of 32); "
                  f"batch-1 call {batch1 * 1000:.1f} ms (median)")
            if args.profile:
                profile(url, server, photos, args.requests)
                return
            one = load(url, photos, 1, args.requests // 2)
            many = load(url, photos, 16, args.requests)
            for clients, (rate, p50, p95, answers) in ((1, one), (16, many)):
                failed = sum(1 for _, status, _ in answers if status != 200)
                print(f"served, {clients:2d} clients: {rate:6.1f} requests/s, p50 {p50 * 1000:5.1f} ms, p95 {p95 * 1000:5.1f} ms, "
                      f"{failed} failed")
            print(f"ratios: 16 clients / direct batch 32 = {many[0] / batch32:.2f} (goal >= 0.8); "
                  f"one client's p50 / direct batch-1 call = {one[1] / batch1:.2f} (goal <= 1.3)")
            soak(url, server.pid, photos, expected, args.soak)
        finally:
            server.terminate()
            server.wait()


def profile(url: str, server: subprocess.Popen, photos: list[bytes], requests: int) -> None:
    import signal

    def snapshot() -> dict:
        server.send_signal(signal.SIGUSR1)
        return json.loads(server.stdout.readline())

    before = snapshot()
    began = time.perf_counter()
    rate, p50, _, answers = load(url, photos, 16, requests)
    wall = time.perf_counter() - began
    after = snapshot()
    count = len(answers)
    print(f"profile under 16 clients: {rate:.1f} requests/s, p50 {p50 * 1000:.1f} ms; {after['calls'] - before['calls']} "
          f"model calls ({count / max(1, after['calls'] - before['calls']):.1f} photos each); server CPU "
          f"{(after['cpu'] - before['cpu']) / wall:.2f} cores busy")
    print("| step | ms per request (summed over threads) | calls |")
    print("|---|---|---|")
    for name in after["totals"]:
        seconds = after["totals"][name] - before["totals"].get(name, 0.0)
        calls = after["counts"][name] - before["counts"].get(name, 0)
        print(f"| {name} | {seconds / count * 1000:.2f} | {calls} |")


if __name__ == "__main__":
    main()
