"""The contact sheet index.html: links, rows per image, and the page in a headless Chromium."""

# The sheet is parsed and also opened in a real headless Chromium (Playwright); without Chromium or
# Playwright that test is skipped, unless ``CNNVIZ_REQUIRE_BROWSER=1`` makes it fail.

from __future__ import annotations

import os
from html.parser import HTMLParser
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

from cnnviz.app.batch.contact_sheet import GRID_MAX_IMAGES, Cell, Picture, index_html
from cnnviz.app.batch.runner import BatchRequest, run_batch
from tests.helpers import ALPHA, BETA, _png, _require


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        for key in ("src", "href"):
            if a.get(key) is not None:
                self.refs.append((tag, a[key]))


@pytest.fixture(scope="module")
def sheet(tmp_path_factory):
    """A batch folder with rendered cells and a failed one; returns OUT."""
    root = tmp_path_factory.mktemp("sheet")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        (root / "alpha.yaml").write_text(ALPHA)
        (root / "beta.yaml").write_text(BETA)
        np.save(root / "k.npy", np.eye(3))
        _png(root / "my pics" / "a #1.png", 50, 70)  # a space and a '#' in the links
        (root / "my pics" / "x.png").write_text("nope")
        report = run_batch(BatchRequest(["alpha.yaml", "beta.yaml"], ["camera", "my pics"], "out", jobs=2))
    finally:
        os.chdir(cwd)
    assert report.rendered == 4 and report.count("failed") == 2
    return root / "out"


def test_index_html_links_resolve(sheet):
    page = (sheet / "index.html").read_text(encoding="utf-8")
    parser = _Links()
    parser.feed(page)
    assert "script" not in parser.tags  # no JavaScript needed
    imgs = [v for t, v in parser.refs if t == "img"]
    assert len(imgs) == 2 * (1 + 3) + 2 * (1 + 3)  # input + 3 stages in each of 4 rendered cells
    assert any("thumbs/" in v for v in imgs)
    for _tag, ref in parser.refs:
        if ref.startswith("#"):
            continue
        url = urlparse(ref)
        assert url.scheme == "" and url.netloc == "" and not ref.startswith("/"), ref  # relative, no network
        assert (sheet / unquote(url.path)).is_file(), ref
    assert "not an image file cnnviz can read" in page
    assert "01 conv1" in page and "conv · 62×62×2" in page  # stage names and shapes from the manifests
    # a later run with other configs still covers everything batch wrote in OUT
    cwd = os.getcwd()
    os.chdir(sheet.parent)
    try:
        report = run_batch(BatchRequest(["beta.yaml"], ["camera"], "out", jobs=1))
    finally:
        os.chdir(cwd)
    assert report.skipped == 1
    again = (sheet / "index.html").read_text(encoding="utf-8")
    assert again.count("<img ") == page.count("<img ")


def test_many_images_get_a_row_per_image():
    pic = Picture("c/i/01_x.png", "c/i/thumbs/01_x.png", (10, 10), "01 x", "conv · 8×8×1")
    labels = [f"im{k}" for k in range(GRID_MAX_IMAGES + 1)]
    cells = {("c", i): Cell("c", i, [pic]) for i in labels}
    cells[("c", "im3")] = Cell("c", "im3", error="boom <b>")
    page = index_html(cells, ["c"], labels)
    assert 'class="sheet rows"' in page and page.count("<tr>") == len(labels) + 1
    assert "boom &lt;b&gt;" in page
    few = index_html({k: v for k, v in cells.items() if k[1] in labels[:2]}, ["c"], labels[:2])
    assert 'class="sheet grid"' in few


def test_index_html_in_headless_chromium(sheet):
    chromium = "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if _require("CNNVIZ_REQUIRE_BROWSER"):
            raise
        pytest.skip("playwright is not installed")
    if not os.path.exists(chromium):
        if _require("CNNVIZ_REQUIRE_BROWSER"):
            pytest.fail(f"{chromium} is missing")
        pytest.skip(f"{chromium} is missing")
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page()
            page.on("request", lambda req: requests.append(req.url))
            page.goto((sheet / "index.html").as_uri())
            page.wait_for_load_state("load")
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
            errors = page.locator("td.failed .error").all_inner_texts()
        finally:
            browser.close()
    assert len(images) == 16
    assert all(done and width > 0 for _, done, width in images), images
    assert all(u.startswith("file://") for u in requests), requests
    assert len(errors) == 2 and all("not an image file cnnviz can read" in e for e in errors)
