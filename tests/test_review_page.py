"""The review page, end to end in Debian's Chromium driven by Playwright, and its HTTP safety.

A screenshot of the page is kept at test-output/review-page.png for people to look at.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import time
from pathlib import Path

import pytest

import curate
from curate.review_server import TOKEN_HEADER, ReviewServer
from retrainkit.dataset_layout import CURATE_DIR, REVIEWED
from tests.conftest import SCREENSHOTS
from tests.images import encode, picture, write


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "dataset"
    original = picture(1)
    write(root / "rose" / "a.jpg", encode(original))
    write(root / "rose" / "a-copy.jpg", encode(original.resize((320, 240))))
    write(root / "rose" / "b.jpg", encode(picture(2)))
    write(root / "rose" / "c.jpg", encode(picture(3)))
    write(root / "rose" / "broken.jpg", encode(picture(4))[:2000])
    write(root / "tulip" / "t1.jpg", encode(picture(5)))
    write(root / "tulip" / "t2.jpg", encode(picture(6)))
    write(root / "tulip" / "in-rose.jpg", encode(picture(7)))
    write(root / "rose" / "in-tulip.jpg", encode(picture(7)))
    return root


def start(tree: Path, **options) -> ReviewServer:
    return ReviewServer(curate.analyse(tree, progress=False), **options).start_in_thread()


@pytest.fixture
def server(tree):
    running = start(tree)
    yield running
    running.stop()


def rejects(tree: Path) -> str:
    file = tree / ".curate" / "rejects.txt"
    return file.read_text() if file.exists() else ""


def reviewed(tree: Path) -> set[str]:
    """The photo contents `.curate/reviewed.json` says were on screen."""
    file = tree / CURATE_DIR / REVIEWED
    return set(json.loads(file.read_text())["reviewed"]) if file.exists() else set()


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_page_shows_labels_and_flagged_groups_first(server, page, tree):
    page.goto(server.url)
    page.wait_for_selector("#labels button")
    assert page.locator("#labels button").all_inner_texts()[0].startswith("rose")
    assert "6 images, 3 flagged" in page.locator("#labels button").first.inner_text()
    sections = page.locator(".section").all_inner_texts()
    assert sections[0].lower() == "label conflicts" and sections[-1].lower() == "everything else"
    assert page.locator(".card").count() == 6
    assert page.locator(".badge.keep").count() >= 1
    page.wait_for_function("[...document.querySelectorAll('.card img')].every(i => i.complete && i.naturalWidth > 0)")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "review-page.png"), full_page=True)


def test_keyboard_triage_rejects_undoes_and_survives_a_reload(server, page, tree):
    page.goto(server.url)
    page.wait_for_selector(".card.selected")
    first = page.locator(".card.selected").get_attribute("data-path")
    page.keyboard.press("x")
    wait_for(lambda: first in rejects(tree))
    page.wait_for_selector(".card.selected.rejected")  # still visible, marked

    page.keyboard.press("l")
    second = page.locator(".card.selected").get_attribute("data-path")
    assert second != first
    page.keyboard.press("r")
    page.keyboard.type("blurry")
    page.keyboard.press("Enter")
    wait_for(lambda: f"{second}  # blurry" in rejects(tree))

    page.keyboard.press("u")
    wait_for(lambda: second not in rejects(tree))
    assert first in rejects(tree)

    page.reload()
    page.wait_for_selector(".card")
    assert page.locator(f'.card.rejected[data-path="{first}"]').count() == 1
    assert page.locator(".card.rejected").count() == 1

    page.keyboard.press("v")  # hide rejected
    assert page.locator(f'.card[data-path="{first}"]').count() == 0
    page.keyboard.press("n")
    assert page.locator("#title").inner_text() == "tulip"
    page.keyboard.press("Enter")
    assert page.locator("#viewer").is_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()


def test_hand_edits_show_up_on_reload(server, page, tree):
    page.goto(server.url)
    page.wait_for_selector(".card")
    write(tree / ".curate" / "rejects.txt", b"# my own notes\nrose/c.jpg  # wrong flower\n")
    page.reload()
    page.wait_for_selector(".card")
    assert page.locator('.card.rejected[data-path="rose/c.jpg"]').count() == 1
    assert "rejected: wrong flower" in page.locator('.card[data-path="rose/c.jpg"]').inner_text()
    page.click('.card[data-path="rose/b.jpg"]')
    page.keyboard.press("x")
    wait_for(lambda: "rose/b.jpg" in rejects(tree))
    assert rejects(tree).startswith("# my own notes\nrose/c.jpg  # wrong flower\n")


def test_next_review_opens_on_what_is_new(tree, page):
    first = start(tree)
    try:
        page.goto(first.url)
        page.wait_for_selector(".card")
        for _ in range(2):  # look at both labels
            page.keyboard.press("n")
            page.wait_for_selector(".card")
        # the page reports what was on screen once a second: wait until the tulips are recorded, not a fixed time
        tulips = {hashlib.sha256(photo.read_bytes()).hexdigest() for photo in (tree / "tulip").iterdir()}
        wait_for(lambda: tulips <= reviewed(tree))
    finally:
        first.stop()
    write(tree / "tulip" / "fresh.jpg", encode(picture(42)))
    second = start(tree)
    try:
        page.goto(second.url)
        page.wait_for_selector("#labels button")
        assert "new since the last review" in page.locator("#mode").inner_text()
        page.click('#labels button[data-label="tulip"]')
        assert [c.get_attribute("data-path") for c in page.locator(".card").all()] == ["tulip/fresh.jpg"]
        page.keyboard.press("a")
        page.wait_for_function("document.querySelectorAll('.card').length > 1")
    finally:
        second.stop()


# -- HTTP-level safety -------------------------------------------------------------------------

def request(server: ReviewServer, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.httpd.server_address[1], timeout=5)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.read()


@pytest.mark.parametrize(
    "path",
    [
        "/image/../../etc/passwd",
        "/image/%2e%2e/%2e%2e/etc/passwd",
        "/image/rose/..%2f..%2fetc%2fpasswd",
        "/image//etc/passwd",
        "/image/%2Fetc%2Fpasswd",
        "/thumb/rose/../../../etc/hostname",
        "/image/rose/not-scanned.jpg",
        "/image/rose/escape.jpg",
        "/static/../review_server.py",
    ],
)
def test_files_outside_the_dataset_are_never_served(server, tree, path):
    status, body = request(server, "GET", path)
    assert 400 <= status < 500
    assert b"root:" not in body and b"Traceback" not in body


def test_a_symlink_pointing_outside_is_refused(tree, tmp_path):
    secret = write(tmp_path / "secret.jpg", encode(picture(9)))
    os.symlink(secret, tree / "rose" / "link.jpg")
    running = start(tree)
    try:
        status, _ = request(running, "GET", "/image/rose/link.jpg")
        assert status == 404
        assert request(running, "GET", "/image/rose/b.jpg")[0] == 200
    finally:
        running.stop()


def test_writes_need_the_token(server, tree):
    body = json.dumps({"paths": ["rose/b.jpg"]}).encode()
    json_type = {"Content-Type": "application/json"}
    assert request(server, "POST", "/api/reject", body, json_type)[0] == 403
    assert request(server, "POST", "/api/reject", body, {**json_type, TOKEN_HEADER: "guess"})[0] == 403
    assert rejects(tree) == ""
    good = {**json_type, TOKEN_HEADER: server.token}
    assert request(server, "POST", "/api/reject", b"{not json", good)[0] == 400
    assert request(server, "POST", "/api/reject", json.dumps({"paths": ["../x.jpg"]}).encode(), good)[0] == 400
    assert request(server, "POST", "/api/reject", body, {TOKEN_HEADER: server.token, "Content-Type": "text/plain"})[0] == 400
    status, reply = request(server, "POST", "/api/reject", body, good)
    assert status == 200 and json.loads(reply) == {"rejected": {"rose/b.jpg": True}}
    assert "rose/b.jpg" in rejects(tree)
    status, page_html = request(server, "GET", "/")
    assert status == 200 and server.token.encode() in page_html


def test_the_server_binds_loopback_only(tree):
    """(Its start-up time on a scanned tree is measured by bench/review.py, not asserted here.)"""
    running = start(tree)
    try:
        assert running.httpd.server_address[0] == "127.0.0.1"
        assert request(running, "GET", "/api/state")[0] == 200
    finally:
        running.stop()


def test_suspects_come_first_with_their_reason_and_can_be_rejected(tree, page):
    """suspects.json as `train` writes it: the page leads each label with its suspects, most suspicious first."""
    write(tree / ".curate" / "suspects.json", json.dumps([
        {"path": "rose/c.jpg", "label": "rose", "kind": "off-topic", "score": 0.9, "looks_like": None,
         "reason": "unlike the other rose photos", "imagenet": ["wine bottle", "person"]},
        {"path": "rose/b.jpg", "label": "rose", "kind": "mislabeled", "score": 0.5, "looks_like": "tulip",
         "reason": "looks like tulip (80%) to a model that never saw it", "imagenet": ["daisy"]},
    ]).encode())
    running = start(tree)
    try:
        page.goto(running.url)
        page.wait_for_selector(".card")
        assert page.locator(".section").all_inner_texts()[0].lower().startswith("suspects")
        cards = page.locator(".card")
        assert [cards.nth(0).get_attribute("data-path"), cards.nth(1).get_attribute("data-path")] == ["rose/c.jpg", "rose/b.jpg"]
        first = cards.nth(0).inner_text()
        assert "off-topic?" in first and "looks like: wine bottle, person" in first and "unlike the other rose photos" in first
        assert "mislabeled? looks like tulip" in cards.nth(1).inner_text()
        page.keyboard.press("x")  # the first card is selected: rejecting a suspect works as for any image
        wait_for(lambda: "rose/c.jpg" in rejects(tree))
    finally:
        running.stop()


def test_m_moves_a_suspect_to_its_looks_like_label_and_u_brings_it_back(tree, page):
    """The page's moves are `curate move`s: the file changes folder, the page shows it in its new label."""
    write(tree / ".curate" / "suspects.json", json.dumps([
        {"path": "rose/b.jpg", "label": "rose", "kind": "mislabeled", "score": 0.5, "looks_like": "tulip",
         "reason": "looks like tulip (80%) to a model that never saw it", "imagenet": []},
    ]).encode())
    content = (tree / "rose" / "b.jpg").read_bytes()
    running = start(tree)
    try:
        page.goto(running.url)
        page.wait_for_selector('.card.selected[data-path="rose/b.jpg"]')  # the suspect leads its label
        page.keyboard.press("m")
        page.wait_for_selector('.card.moved[data-path="rose/b.jpg"]')
        assert "moved to tulip" in page.locator('.card[data-path="rose/b.jpg"]').inner_text()
        assert (tree / "tulip" / "b.jpg").read_bytes() == content and not (tree / "rose" / "b.jpg").exists()
        assert page.locator("#labels button").nth(1).inner_text().startswith("tulip\n4 images")
        page.keyboard.press("n")
        page.wait_for_selector('.card[data-path="tulip/b.jpg"]')
        page.wait_for_function("document.querySelector('.card[data-path=\"tulip/b.jpg\"] img').naturalWidth > 0")
        page.keyboard.press("p")
        page.keyboard.press("u")
        page.wait_for_selector('.card[data-path="rose/b.jpg"]:not(.moved)')
        wait_for(lambda: (tree / "rose" / "b.jpg").exists() and not (tree / "tulip" / "b.jpg").exists())

        page.keyboard.press("M")  # any photo, to a label that does not exist yet
        page.keyboard.type("lily")
        page.keyboard.press("Enter")
        page.wait_for_selector('.card.moved[data-path="rose/b.jpg"]')
        wait_for(lambda: (tree / "lily" / "b.jpg").is_file())
        assert "lily" in page.locator("#labels").inner_text()
        log = [json.loads(line) for line in (tree / ".curate" / "moves.jsonl").read_text().splitlines()]
        assert [(e["action"], e["from"], e["to"]) for e in log] == [
            ("relabel", "rose/b.jpg", "tulip/b.jpg"), ("relabel", "tulip/b.jpg", "rose/b.jpg"), ("relabel", "rose/b.jpg", "lily/b.jpg")]
    finally:
        running.stop()
    assert json.loads((tree / ".curate" / "suspects.json").read_text()) == []  # judged against rose: no longer applies


def test_page_moves_need_the_token_and_a_valid_label(server, tree):
    json_type = {"Content-Type": "application/json"}
    body = json.dumps({"paths": ["rose/b.jpg"], "to": "tulip"}).encode()
    assert request(server, "POST", "/api/move", body, json_type)[0] == 403
    good = {**json_type, TOKEN_HEADER: server.token}
    for bad in ({"paths": ["rose/b.jpg"], "to": ".hidden"}, {"paths": ["rose/b.jpg"], "to": "a/b"}, {"paths": ["rose/b.jpg"]},
                {"paths": ["rose/nothing.jpg"], "to": "tulip"}):
        status, reply = request(server, "POST", "/api/move", json.dumps(bad).encode(), good)
        assert status == 400 and reply.count(b"\n") == 1, (bad, reply)
    assert (tree / "rose" / "b.jpg").is_file() and not (tree / ".curate" / "moves.jsonl").exists()
    status, reply = request(server, "POST", "/api/move", body, good)
    assert status == 200 and json.loads(reply)["moved"] == {"rose/b.jpg": "tulip/b.jpg"}
