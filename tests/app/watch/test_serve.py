"""watch --serve: the HTTP side (state, files, no path traversal) and the page in a headless Chromium."""

# The browser test needs Playwright and /usr/bin/chromium (skipped without them, unless
# CNNVIZ_REQUIRE_BROWSER=1).

from __future__ import annotations

import http.client
import json
import os
import re
import time

import pytest

from tests.helpers import BAD, config_text, save_atomic, start

CHROMIUM = "/usr/bin/chromium"


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def get(port: int, path: str, host: str | None = None) -> tuple[int, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.putrequest("GET", path, skip_host=host is not None)
        if host is not None:
            c.putheader("Host", host)
        c.endheaders()
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


# ---------------------------------------------------------------------------
# --serve: the HTTP side.


def test_serve_state_files_and_no_path_traversal(project, tmp_path):
    cfg, out = project
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    w, o, _e = start(cfg, out, serve=True)
    try:
        port = int(re.fullmatch(r"serving http://127\.0\.0\.1:(\d+)/", o.lines[0]).group(1))
        assert w.url == f"http://127.0.0.1:{port}/"
        status, body = get(port, "/state")
        state = json.loads(body)
        assert status == 200 and state["generation"] == 1 and state["error"] == []
        files = [img["file"] for s in state["sections"] for img in s["images"]]
        assert files[0] == "00_input.png" and files[-1] == "overview.png" and "01_edges.png" in files and "filters_01_edges.png" in files
        assert [s["title"] for s in state["sections"]][1] == "01 edges · conv · 64×64×3"
        assert not any(s["show_title"] for s in state["sections"])  # every picture draws its own title
        status, body = get(port, "/files/01_edges.png?g=1")
        assert status == 200 and body == (out / "01_edges.png").read_bytes()
        assert get(port, "/")[0] == 200
        for bad in ("/files/../secret.txt", "/files/..%2fsecret.txt", "/files/%2e%2e%2fsecret.txt",
                    "/files/%2Fetc%2Fpasswd", "/files/..", "/files/.%2e/.%2e/etc/passwd"):
            status, body = get(port, bad)
            assert status == 403 and b"secret" not in body, bad
        for missing in ("/../secret.txt", "/files/secret.txt", "/files/nothing.png", "/etc/passwd"):
            status, body = get(port, missing)
            assert status == 404 and b"secret" not in body, missing
        # a listed name that is a symlink out of the folder
        (out / "02_relu1.png").unlink()
        (out / "02_relu1.png").symlink_to(secret)
        status, body = get(port, "/files/02_relu1.png")
        assert status == 403 and b"secret" not in body
        assert get(port, "/state", host="evil.example:80")[0] == 403
        assert get(port, "/state", host=f"localhost:{port}")[0] == 200
    finally:
        w.stop()


# ---------------------------------------------------------------------------
# --serve: the page in a real headless Chromium.


@pytest.fixture(scope="module")
def browser():
    required = os.environ.get("CNNVIZ_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            pytest.fail("playwright is not installed and CNNVIZ_REQUIRE_BROWSER=1")
        pytest.skip("playwright is not installed")
    if not os.path.exists(CHROMIUM):
        if required:
            pytest.fail(f"{CHROMIUM} is missing and CNNVIZ_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is missing")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


ALL_LOADED = """() => {
  const imgs = [...document.querySelectorAll('#figures img')];
  return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
}"""


def test_served_page_in_chromium(project, browser):
    cfg, out = project
    w, _o, _e = start(cfg, out, serve=True)
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(w.url)
        page.wait_for_function(ALL_LOADED, timeout=5000)
        imgs = page.eval_on_selector_all("#figures img", "els => els.map(e => [e.dataset.file, e.naturalWidth])")
        assert [f for f, _ in imgs] == [img["file"] for s in w.state.snapshot()["sections"] for img in s["images"]]
        assert all(width > 0 for _, width in imgs)
        assert page.get_attribute("#stage-1", "data-title") == "01 edges · conv · 64×64×3"
        assert page.is_hidden("#error")

        # an edit: the page shows it within ~2 s
        t0 = time.monotonic()
        save_atomic(cfg, config_text(name="sobel", count=3))
        page.wait_for_function("() => document.querySelector('#stage-1').dataset.title.includes('sobel')",
                               timeout=3000)
        assert time.monotonic() - t0 < 2.5
        page.wait_for_function(ALL_LOADED, timeout=3000)
        assert page.get_attribute("#stage-4", "data-title") == "04 conv2 · conv · 30×30×3"
        gen = page.eval_on_selector("body", "b => b.dataset.generation")
        assert gen == "2"
        assert all(f"?g={gen}" in s for s in page.eval_on_selector_all("#figures img", "els => els.map(e => e.src)"))

        # an invalid edit: the error lines appear, the figures stay
        save_atomic(cfg, BAD)
        page.wait_for_selector("#error", state="visible", timeout=3000)
        text = page.inner_text("#error")
        assert text.splitlines() == [
            f"Error: {cfg}:9:5: stages[1]: unknown stage type 'reluu' (did you mean 'relu'?)",
            f"Error: {cfg}:10:24: stages[2].size: must be at least 1, not 0",
        ]
        assert page.get_attribute("#stage-1", "data-title").startswith("01 sobel")
        page.wait_for_function(ALL_LOADED, timeout=3000)

        # the fix: the error goes, the new figures come
        save_atomic(cfg, config_text(name="fixed"))
        page.wait_for_selector("#error", state="hidden", timeout=3000)
        page.wait_for_function("() => document.querySelector('#stage-1').dataset.title.includes('fixed')",
                               timeout=3000)
        page.wait_for_function(ALL_LOADED, timeout=3000)
        assert page.eval_on_selector("body", "b => b.dataset.generation") == "3"
        # nothing but the page's own server was asked for anything
        assert requests and all(u.startswith(w.url) for u in requests)
    finally:
        page.close()
        w.stop()


TITLES = """() => [...document.querySelectorAll('#figures section')].map(s => [
  s.dataset.title, s.querySelectorAll('h2').length,
  [...s.querySelectorAll('img')].map(i => i.dataset.file)])"""


def _picture_title(path) -> str:
    """The title a picture draws (its PNG ``Title`` chunk: the drawing's title)."""
    from PIL import Image

    with Image.open(path) as im:
        return str(im.info.get("Title", ""))


@pytest.mark.parametrize("labels", [True, False])
def test_served_page_shows_each_title_once(project, browser, labels):
    """Each title once: in the picture that draws it, or (labels: false) as the section's heading."""
    cfg, out = project
    overrides = [] if labels else ["render.labels=false"]
    w, _o, _e = start(cfg, out, serve=True, overrides=overrides)
    page = browser.new_page()
    try:
        page.goto(w.url)
        page.wait_for_function(ALL_LOADED, timeout=5000)
        sections = page.evaluate(TITLES)
        text = page.inner_text("body")
        assert len(sections) == len(w.state.snapshot()["sections"]) >= 5
        for title, headings, files in sections:
            assert files, title
            drawn = [f for f in files if labels and _picture_title(out / f)]  # pictures drawing a title
            shown = text.count(title) + len(drawn)
            if labels:
                # every picture draws its title (the grid's "01 edges (conv) · …", "filters of 01 edges …"),
                # and the page does not repeat the section's: no heading, no caption
                assert headings == 0 and text.count(title) == 0, (title, text)
                assert len(drawn) == len(files)
                assert len({_picture_title(out / f) for f in files}) == len(files)
            else:
                assert headings == 1 and text.count(title) == 1 and shown == 1, (title, text)
        if labels:  # the page's text names no stage at all: the names are in the pictures
            assert "01 edges" not in text and "feature maps" not in text
    finally:
        page.close()
        w.stop()


def test_serve_refuses_an_absolute_form_request_for_another_host(tmp_path):
    import socket

    from cnnviz.app.watch.serve import PageServer, PageState

    (tmp_path / "manifest.json").write_text("{}")
    server = PageServer(PageState(tmp_path)).start()
    try:
        def raw(target: str, host: str) -> int:
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
                s.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                return int(s.makefile("rb").readline().split()[1])

        local = f"127.0.0.1:{server.port}"
        assert raw(f"http://evil.example:{server.port}/files/manifest.json", local) == 403
        assert raw(f"http://evil.example:{server.port}/state", local) == 403
        assert raw("http:///state", local) == 403
        assert raw(f"http://localhost:{server.port}/state", local) == 200
        assert raw("/state", local) == 200
        assert raw("/state", "evil.example") == 403
    finally:
        server.stop()
