"""Benchmark: the review page on one label of 10,000 images, in Debian's Chromium.

    python bench/review.py [--images 10000]

Builds (once, cached in the temp folder) a tree whose one label holds N small JPEGs, scans it,
then times: server start on the scanned tree, the /api/state document, the page until the first
cards show, a key press that moves the selection, a reject (until the card shows it), and
scrolling to the end of the label.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import curate  # noqa: E402
from curate.review_server import ReviewServer  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def tree_of(count: int) -> Path:
    root = Path(tempfile.gettempdir()) / f"retrainkit-review-{count}"
    if (root / "big" / f"{count - 1:05d}.jpg").exists():
        return root
    rng = np.random.default_rng(0)
    for i in range(count):
        label = root / ("big" if i >= 20 else "small")
        label.mkdir(parents=True, exist_ok=True)
        grid = rng.integers(0, 256, size=(3, 4, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(grid).resize((160, 120), Image.BILINEAR).save(buffer, "JPEG", quality=80)
        (label / f"{i:05d}.jpg").write_bytes(buffer.getvalue())
    return root


def time_moves(page, moves: int) -> float:
    """Milliseconds per `l` key press, until the selection has really moved that far."""
    target = int(page.locator(".card.selected").get_attribute("data-index")) + moves
    started = time.perf_counter()
    for _ in range(moves):
        page.keyboard.press("l")
    page.wait_for_selector(f'.card.selected[data-index="{target}"]')
    return (time.perf_counter() - started) / moves * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    args = parser.parse_args()
    root = tree_of(args.images)
    started = time.perf_counter()
    curate.scan(root, progress=False)
    print(f"{args.images} images; scan (cold or cached): {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    server = ReviewServer(curate.analyse(root, progress=False), show_all=True).start_in_thread()
    print(f"server start on the scanned tree: {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    body = urllib.request.urlopen(server.url + "api/state?all=1").read()
    print(f"/api/state: {len(body) / 1e6:.1f} MB in {time.perf_counter() - started:.2f} s "
          f"({len(json.loads(body)['labels'][0]['images'])} images in the big label)")

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        started = time.perf_counter()
        page.goto(server.url + "?all=1")
        page.wait_for_selector(".card.selected")
        print(f"page until the first cards of a {args.images - 20}-image label: {time.perf_counter() - started:.2f} s "
              f"({page.locator('.card').count()} cards in the page)")
        print(f"20 moves: {time_moves(page, 20):.0f} ms each")
        started = time.perf_counter()
        page.keyboard.press("x")
        page.wait_for_selector(".card.selected.rejected")
        print(f"reject until shown (saved to rejects.txt): {(time.perf_counter() - started) * 1000:.0f} ms")
        started = time.perf_counter()
        page.keyboard.press("u")
        page.wait_for_function("!document.querySelector('.card.selected').classList.contains('rejected')")
        for _ in range(50):
            page.evaluate("document.querySelector('main').scrollTo(0, document.querySelector('main').scrollHeight)")
            page.wait_for_timeout(50)
        print(f"undo, then scrolling 50 times to the end: {time.perf_counter() - started:.1f} s, "
              f"{page.locator('.card').count()} cards now in the page")
        print(f"20 moves with every card in the page: {time_moves(page, 20):.0f} ms each")
        browser.close()
    server.stop()


if __name__ == "__main__":
    main()
