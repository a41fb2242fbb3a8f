"""serve: the JSON API, the page in Chromium, and the `serve` command, on a model trained by the tests."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from retrainkit.model.classifier import classify
from serve import create_app
from serve.cli import make_server
from tests.conftest import SCREENSHOTS
from tests.images import COLOURS, coloured, encode, png_bomb, write
from train.pipeline import train


@pytest.fixture(scope="module")
def model(tiny_backbone, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("serve") / "colours"
    for label, colour in COLOURS.items():
        for i in range(10):
            write(root / label / f"{label}-{i:02d}.jpg", encode(coloured(100 + i, colour)))
    out = root.parent / "model"
    train(root, out=out, backbone=tiny_backbone, progress=False, epochs=60, learning_rate=0.01, suspects=False)
    return out


@pytest.fixture(scope="module")
def server(model):
    app = create_app(model, max_upload_mb=1)
    running = make_server(app, "127.0.0.1", 0, 8)  # as `serve` makes it
    threading.Thread(target=running.serve, daemon=True).start()
    yield f"http://127.0.0.1:{running.bind_addr[1]}", app
    running.stop()


def post(url: str, body: bytes, content_type: str = "application/octet-stream") -> tuple[int, object]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("POST", "/api/classify", body=body, headers={"Content-Type": content_type})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "retrainkit-test-boundary"
    chunks = []
    for name, data in files:
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
                      f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(chunks) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def get(url: str, path: str) -> tuple[int, dict]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def test_answers_equal_classify_for_the_same_file(server, model):
    url, _ = server
    photo = next((model.parent / "colours" / "green").iterdir())
    status, answer = post(url, *multipart([(photo.name, photo.read_bytes())]))
    assert status == 200 and answer["image"] == photo.name and answer["model"] == "model" and answer["ms"] >= 0
    expected = classify(model, [photo], top_k=3)[0]
    assert [row["label"] for row in answer["top"]] == [label for label, _ in expected.top]
    np.testing.assert_allclose([row["probability"] for row in answer["top"]], [p for _, p in expected.top], atol=1e-5)
    status, raw = post(url, photo.read_bytes(), "image/jpeg")  # a raw body works too
    assert status == 200 and raw["top"] == answer["top"]


def test_several_files_model_info_and_health(server):
    url, _ = server
    photos = [(f"{label}.png", encode(coloured(7, colour), "PNG")) for label, colour in COLOURS.items()]
    status, answers = post(url, *multipart(photos))
    assert status == 200 and [a["image"] for a in answers] == [name for name, _ in photos]
    assert [a["top"][0]["label"] for a in answers] == list(COLOURS)
    assert get(url, "/api/model")[1]["labels"] == sorted(COLOURS)
    assert get(url, "/healthz") == (200, {"ok": True, "model": "model"})


@pytest.mark.parametrize("body, words", [
    (b"", "empty"),
    (b"just some text, not a photo", "not an image"),
    (encode(coloured(1, (200, 40, 40)))[:1500], "damaged"),
    (png_bomb(), "safety limit"),
])
def test_bad_uploads_get_a_4xx_json_error_and_the_server_stays_up(server, body, words):
    url, _ = server
    status, answer = post(url, body)
    assert 400 <= status < 500 and words in answer["error"] and "\n" not in answer["error"]
    assert get(url, "/healthz")[0] == 200


def test_a_body_over_the_limit_is_refused_before_it_is_read(server):
    url, _ = server
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.putrequest("POST", "/api/classify")
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Content-Length", str(50 * 1024 * 1024))  # 50 MB announced, 1 KB sent
    connection.endheaders()
    connection.send(b"x" * 1024)
    response = connection.getresponse()
    assert response.status == 413 and "1 MB limit" in json.loads(response.read())["error"]


def test_concurrent_requests_share_model_calls(server, model):
    url, app = server
    batcher = app.extensions["batcher"]
    photo = next((model.parent / "colours" / "blue").iterdir()).read_bytes()
    before = batcher.calls
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: post(url, photo, "image/jpeg"), range(32)))
    assert all(status == 200 for status, _ in answers)
    assert batcher.calls - before < 32  # batched: fewer model calls than requests


def test_uploads_are_kept_only_when_asked(model, tmp_path):
    kept = tmp_path / "kept"
    app = create_app(model, save_uploads=kept)
    photo = encode(coloured(3, (40, 60, 200)))
    assert app.test_client().post("/api/classify", data=photo, content_type="image/jpeg").status_code == 200
    assert [p.read_bytes() for p in kept.iterdir()] == [photo]


@pytest.mark.slow
def test_the_command_listens_on_loopback_and_stops_on_ctrl_c(model):
    # Ctrl-C as at a terminal: a suite started as a background job (`pytest &`) hands its children SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler, so the default is restored first.
    process = subprocess.Popen([sys.executable, "-m", "serve.cli", str(model), "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = process.stdout.readline()
        assert line.startswith(f"Serving {model} on http://127.0.0.1:"), line
        url = line.split(" on ", 1)[1].split()[0].rstrip("/")
        assert get(url, "/healthz")[0] == 200
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0 and "Traceback" not in err


def test_the_command_refuses_a_folder_that_is_not_a_model(tmp_path, capsys):
    from serve.cli import main

    assert main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.slow
def test_page_upload_drop_and_a_text_file(server, page, tmp_path):
    url, _ = server
    photo = write(tmp_path / "red.jpg", encode(coloured(11, COLOURS["red"])))
    note = write(tmp_path / "notes.txt", b"not a photo at all")
    page.goto(url + "/")
    page.wait_for_function("document.getElementById('about').textContent.includes('knows')")
    page.set_input_files("#chooser", str(photo))
    page.wait_for_selector(".result .row")
    first = page.locator(".result").first
    assert first.locator(".row .label").first.inner_text() == "red"
    assert first.locator(".row .pct").first.inner_text().endswith("%")

    page.set_input_files("#chooser", str(note))
    page.wait_for_selector(".result.error")
    assert "not an image" in page.locator("#message").inner_text()

    page.evaluate("""async data => {
        const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], "dropped.png", {type: "image/png"}));
        document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
    }""", __import__("base64").b64encode(encode(coloured(12, COLOURS["blue"]), "PNG")).decode())
    page.wait_for_function("document.querySelectorAll('.result').length === 3 && document.querySelector('.result .row')")
    assert page.locator(".result").first.locator(".name").inner_text() == "dropped.png"
    page.wait_for_function("document.querySelector('.result .row .label')")
    assert page.locator(".result").first.locator(".row .label").first.inner_text() == "blue"
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "serve-page.png"), full_page=True)


@pytest.mark.parametrize("progressive", [False, True])
def test_the_upload_check_refuses_exactly_what_a_full_decode_refuses(progressive):
    """The check decodes a JPEG at 1/8 scale (it runs beside the model's own decode for every upload):
    cut anywhere, a file is refused exactly when Pillow's full decode fails on it."""
    import io

    from PIL import Image

    from retrainkit.model.errors import ModelError
    from retrainkit.model.image_bytes import checked
    from tests.images import picture

    whole = encode(picture(5, 480, 360), progressive=progressive, quality=90)
    for cut in list(range(200, len(whole), max(1, len(whole) // 40))) + [len(whole) - 2, len(whole) - 1, len(whole)]:
        data = whole[:cut]
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
            full_decode_ok = True
        except Exception:  # noqa: BLE001
            full_decode_ok = False
        try:
            checked(data, "upload")
            refused = False
        except ModelError:
            refused = True
        assert refused != full_decode_ok, (cut, len(whole))


@pytest.mark.slow
def test_a_short_soak_with_bad_uploads_loses_nothing(server, model):
    """160 requests from 8 clients, every tenth a bad upload: every answer right, the server still serving
    (bench/serve.py runs the full 1,600 and watches memory)."""
    url, _ = server
    photos = sorted((model.parent / "colours").glob("*/*.jpg"))
    expected = {p.name: answer.top[0][0] for p, answer in zip(photos, classify(model, photos))}
    bad = [(b"", "empty"), (b"not a photo at all", "not an image"), (encode(coloured(9, (9, 9, 9)))[:1200], "damaged"),
           (png_bomb(), "safety limit")]

    def one(i: int) -> bool:
        if i % 10 == 9:
            body, words = bad[(i // 10) % len(bad)]
            status, answer = post(url, body)
            return 400 <= status < 500 and words in answer["error"]
        photo = photos[i % len(photos)]
        status, answer = post(url, photo.read_bytes(), "image/jpeg")
        return status == 200 and answer["top"][0]["label"] == expected[photo.name]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(160)))
    assert all(results), [i for i, ok in enumerate(results) if not ok]
    assert get(url, "/healthz")[0] == 200


def test_a_lone_request_does_not_wait_for_company():
    """The batcher waits for more photos only while other requests are on their way."""
    import time

    from serve.batching import Batcher

    batcher = Batcher(lambda images: images, max_batch=32, max_wait=0.5)
    started = time.perf_counter()
    assert batcher.predict([b"one"]) == [b"one"]
    assert time.perf_counter() - started < 0.25  # not the 0.5 s max_wait
    results = []
    with batcher.arriving():  # another request is being read: the worker waits for it
        thread = threading.Thread(target=lambda: results.append(batcher.predict([b"first"])))
        thread.start()
        time.sleep(0.1)
        assert results == [] and batcher.calls == 1  # "first" is held back for company
    second = batcher.predict([b"second"])
    thread.join()
    assert batcher.calls == 2 and results == [[b"first"]] and second == [b"second"]  # one call for both


def test_one_bad_photo_in_a_shared_model_call_fails_only_its_own_request():
    """The model's decoder is the proof of a whole image: a call it refuses is answered request by request."""
    import threading
    import time

    from serve.batching import Batcher

    release = threading.Event()

    def predict(images: list[bytes]) -> list[bytes]:
        release.wait(5)  # hold the first call, so the others queue up and share the next one
        if b"bad" in images:
            raise ValueError("does not decode")
        return [image.upper() for image in images]

    batcher = Batcher(predict, max_batch=32, max_wait=0.2)
    answers: dict[bytes, object] = {}

    def ask(image: bytes) -> None:
        try:
            answers[image] = batcher.predict([image])
        except ValueError as error:
            answers[image] = error

    threads = [threading.Thread(target=ask, args=(image,)) for image in (b"first", b"good", b"bad", b"fine")]
    for thread in threads:
        thread.start()
        time.sleep(0.05)  # in order: "first" holds the model, the other three queue behind it and share one call
    release.set()
    for thread in threads:
        thread.join(10)
    assert answers[b"first"] == [b"FIRST"] and answers[b"good"] == [b"GOOD"] and answers[b"fine"] == [b"FINE"]
    assert isinstance(answers[b"bad"], ValueError)
    assert batcher.calls == 3  # answered calls: "first", then "good" and "fine" each alone after their shared call failed


def test_top_k_below_one_is_refused_alike_by_classify_and_serve(capsys):
    from retrainkit.model.cli import main as classify_main
    from serve.cli import main as serve_main

    for main, argv in ((classify_main, ["model", "photo.jpg", "--top-k", "0"]), (serve_main, ["model", "--top-k", "0"]),
                       (serve_main, ["model", "--workers", "none"])):
        with pytest.raises(SystemExit) as stopped:
            main(argv)
        assert stopped.value.code == 2
        error = capsys.readouterr().err.strip()
        assert "\n" not in error and ("must be at least 1, got 0" in error or "must be a whole number, got 'none'" in error), error


def test_serving_a_model_loads_no_training_code(model, tmp_path):
    """serve and classify run on the model package alone: loading a model and answering photos imports no module of train/."""
    photo = tmp_path / "red.jpg"
    write(photo, encode(coloured(7, COLOURS["red"])))
    script = f"""
import sys
from serve.app import create_app
from serve.cli import build_parser
from retrainkit.model.cli import main as classify_main
app = create_app({str(model)!r})
answer = app.test_client().post("/api/classify", data=open({str(photo)!r}, "rb").read())
assert answer.status_code == 200, answer.get_json()
assert classify_main([{str(model)!r}, {str(photo)!r}, "--json"]) == 0
print("train modules:", sorted(name for name in sys.modules if name == "train" or name.startswith("train.")))
"""
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "train modules: []" in ran.stdout, ran.stdout
