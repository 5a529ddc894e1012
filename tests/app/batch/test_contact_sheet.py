"""The contact sheet index.html: links, rows per image, thumbnails that are the maps, and the page in a headless
Chromium (every thumbnail of a stage the same size and in line; the pixels on screen are the maps)."""

# The sheet is parsed and also opened in a real headless Chromium (Playwright); without Chromium or
# Playwright that test is skipped, unless ``CNNVIZ_REQUIRE_BROWSER=1`` makes it fail.

from __future__ import annotations

import os
from html.parser import HTMLParser
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

from cnnviz.app.batch.contact_sheet import GRID_MAX_IMAGES, THUMB_BOX, Cell, Picture, index_html, resample, thumbnail
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


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium (Playwright)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if _require("CNNVIZ_REQUIRE_BROWSER"):
            raise
        pytest.skip("playwright is not installed")
    if not os.path.exists(CHROMIUM):
        if _require("CNNVIZ_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_index_html_in_headless_chromium(sheet, chromium):
    requests: list[str] = []
    page = chromium.new_page()
    try:
        page.on("request", lambda req: requests.append(req.url))
        page.goto((sheet / "index.html").as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
        errors = page.locator("td.failed .error").all_inner_texts()
    finally:
        page.close()
    assert len(images) == 16
    assert all(done and width > 0 for _, done, width in images), images
    assert all(u.startswith("file://") for u in requests), requests
    assert len(errors) == 2 and all("not an image file cnnviz can read" in e for e in errors)


# ---------------------------------------------------------------------------
# Thumbnails are the maps themselves, one size for every stage of every image.


def _maps(h: int, w: int, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([np.sin(xx / (3 + k) + k) * np.cos(yy / (4 + k)) + 0.1 * rng.standard_normal((h, w))
                     for k in range(n)], axis=2)


@pytest.mark.parametrize("h, w, n", [(64, 90, 3), (7, 5, 2), (300, 451, 8), (1, 40, 1)])
def test_a_thumbnail_is_the_maps_without_any_text(h, w, n):
    from cnnviz.rendering.canvas import FRAME_COLOUR, WHITE_COLOUR, Text
    from cnnviz.rendering.grid import render_grid

    maps = _maps(h, w, n)
    labelled = render_grid(maps, title="01 edges (conv) · a long title", subtitle="what it shows", cmap="viridis",
                           tile_names=[f"sobel {k}" for k in range(n)]).drawing
    bare = render_grid(maps, cmap="viridis", labels=False, colorbar=False).drawing
    assert any(isinstance(i, Text) for i in labelled.items) and not any(isinstance(i, Text) for i in bare.items)
    thumb = thumbnail(labelled)
    assert thumb.shape == (THUMB_BOX[1], THUMB_BOX[0], 3) and thumb.dtype == np.uint8
    # the title, tile labels and colorbar change nothing: the thumbnail is made of the maps alone
    assert np.array_equal(thumb, thumbnail(bare))
    colours = {tuple(c) for c in thumb.reshape(-1, 3)}
    assert WHITE_COLOUR in colours and FRAME_COLOUR in colours
    if h * 3 <= THUMB_BOX[1] and w * 3 <= THUMB_BOX[0]:
        # small maps are enlarged nearest-neighbour: every colour is a colour of the maps' own pixels
        # (their palette entries), the white background or the frame between the tiles: no text's grays
        own = {tuple(c) for r in labelled.rasters if r.name.startswith("map ")
               for c in r.palette[np.unique(r.data)]}
        assert colours <= own | {WHITE_COLOUR, FRAME_COLOUR}
        assert colours - {WHITE_COLOUR, FRAME_COLOUR}
    # ... and a miniature of the whole picture would be something else
    from cnnviz.rendering.canvas import rasterize

    px, pal = rasterize(labelled)
    assert not np.array_equal(thumb, resample(pal[px] if pal is not None else px, *thumb.shape[:2]))


def test_a_bar_chart_thumbnail_is_its_bars_without_text():
    from cnnviz.rendering.bars import bar_chart
    from cnnviz.rendering.overview import BAR_LARGEST, BAR_POSITIVE

    v = np.array([0.2, 1.5, 0.7])
    with_title = bar_chart(v, title="03 global_pool1 (global_pool) · 1×1×3", subtitle="max", labels=["a", "b", "c"])
    plain = bar_chart(v, labels=["a", "b", "c"])
    thumb = thumbnail(with_title)
    assert thumb.shape == (THUMB_BOX[1], THUMB_BOX[0], 3)
    assert np.array_equal(thumb, thumbnail(plain))  # the title made no difference: no text in it
    colours = {tuple(c) for c in thumb.reshape(-1, 3)}
    assert BAR_LARGEST in colours and BAR_POSITIVE in colours


def test_resample_area_averages_when_shrinking_and_repeats_when_enlarging():
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    assert np.array_equal(resample(rgb, 74, 106), np.repeat(np.repeat(rgb, 2, 0), 2, 1))
    small = resample(rgb, 10, 12).astype(float)
    np.testing.assert_allclose(small, _area_average(rgb, 10, 12), atol=0.5 + 1e-9)
    # one bright row among dark ones is averaged in, never dropped
    line = np.zeros((90, 90, 3), np.uint8)
    line[44] = 255
    out = resample(line, 9, 9)
    assert out.max() > 0 and (out[4] == round(255 / 10)).all()


def _area_average(rgb: np.ndarray, h: int, w: int) -> np.ndarray:
    """Independent reference: the exact mean over each output cell's area, from cumulative sums."""
    x = rgb.astype(np.float64)
    for axis, n in ((0, h), (1, w)):
        size = x.shape[axis]
        c = np.concatenate([np.zeros_like(np.take(x, [0], axis=axis)), np.cumsum(x, axis=axis)], axis=axis)
        edges = np.linspace(0, size, n + 1)
        lo, frac = np.floor(edges).astype(int), edges - np.floor(edges)
        hi = np.minimum(lo + 1, size)
        at = (np.take(c, lo, axis=axis) * _shape_to(1 - frac, axis, c.ndim)
              + np.take(c, hi, axis=axis) * _shape_to(frac, axis, c.ndim))  # the integral up to each edge
        x = np.diff(at, axis=axis) / (size / n)
    return x


def _shape_to(v: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = len(v)
    return v.reshape(shape)


GRAY = """\
name: gray
input: {color: gray}
seed: 2
stages:
  - type: conv
    filters: [{preset: sobel_x}, {preset: sobel_y}]
  - relu
  - {type: pool, size: 2}
  - type: conv
    filters: [{random: {count: 3, size: 3}}]
render: {cmap: gray, normalize: map}
"""

DIVERGING = """\
name: diverging
input: {color: gray}
seed: 1
stages:
  - type: conv
    filters: [{preset: laplacian}, {random: {count: 3, size: 5}}]
  - tanh
  - {type: global_pool, mode: max}
render: {cmap: RdBu_r}
"""

SAMPLES = ("camera", "chelsea", "coins")  # 512×512, 300×451, 303×384


@pytest.fixture(scope="module")
def samples_batch(tmp_path_factory):
    """2 configs × 3 sample images of different sizes, with their arrays; returns OUT."""
    root = tmp_path_factory.mktemp("samples")
    (root / "gray.yaml").write_text(GRAY)
    (root / "diverging.yaml").write_text(DIVERGING)
    report = run_batch(BatchRequest([str(root / "gray.yaml"), str(root / "diverging.yaml")], list(SAMPLES),
                                    str(root / "out"), jobs=2, save_arrays=True))
    assert report.rendered == 6 and not report.failed
    return root / "out"


THUMBS_JS = """() => [...document.querySelectorAll('img')].map(i => {
  const r = i.getBoundingClientRect();
  return [i.getAttribute('src'), r.x + window.scrollX, r.y + window.scrollY, r.width, r.height,
          i.naturalWidth, i.naturalHeight, i.complete,
          [...document.querySelectorAll('table')].indexOf(i.closest('table'))];
})"""


def _thumbs(page) -> dict[tuple[str, str, str], tuple[float, float, float, float]]:
    """(config, image, thumbnail) -> (x, y, width, height) in the page of every thumbnail shown."""
    out = {}
    for src, x, y, w, h, nw, nh, done, _table in page.evaluate(THUMBS_JS):
        assert done and (nw, nh) == THUMB_BOX, src  # loaded, and shown at its own size
        config, image, folder, name = unquote(src).split("/")
        assert folder == "thumbs"
        out[(config, image, name)] = (x, y, w, h)
    return out


def _open(chromium, path):
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page


def test_thumbnails_of_a_stage_share_one_size_and_line_up(samples_batch, chromium):
    from cnnviz.app.batch.contact_sheet import collect_cells

    out = samples_batch
    page = _open(chromium, out / "index.html")
    try:
        grid = _thumbs(page)
        captions = page.eval_on_selector_all("figcaption", "els => els.map(e => e.innerText)")
    finally:
        page.close()
    assert len(grid) == 3 * 5 + 3 * 4  # gray: input + 4 stages; diverging: input + 3 stages (a bar chart)
    assert {(w, h) for _, _, w, h in grid.values()} == {(float(THUMB_BOX[0]), float(THUMB_BOX[1]))}
    assert {c.split("\n")[0] for c in captions} >= {"input", "01 conv1", "04 conv2", "03 global_pool1"}
    assert "conv · 510×510×2 · filters" in "\n".join(captions)  # the stage's type and shape stay in the caption
    # one table, an image a column: a stage's thumbnails are on one line across the images
    for config in ("gray", "diverging"):
        names = {n for c, _, n in grid if c == config}
        for name in names:
            boxes = [grid[(config, i, name)] for i in SAMPLES]
            assert len({round(y) for _, y, _, _ in boxes}) == 1, (config, name, boxes)
            xs = [x for x, _, _, _ in boxes]
            assert xs == sorted(xs) and len(set(xs)) == 3  # in the images' order
    # with more images than GRID_MAX_IMAGES: a table per config, a row per image and a column per
    # stage, where a stage's thumbnails are in one column
    cells = collect_cells(out)
    labels = [f"{i}-{k}" for k in range(3) for i in SAMPLES]
    assert len(labels) > GRID_MAX_IMAGES
    many = {(c, lbl): cells[(c, lbl.rsplit("-", 1)[0])] for c in ("gray", "diverging") for lbl in labels}
    (out / "rows.html").write_text(index_html(many, ["gray", "diverging"], labels), encoding="utf-8")
    page = _open(chromium, out / "rows.html")
    try:
        boxes = page.evaluate(THUMBS_JS)
        headers = page.eval_on_selector_all("table.rows", "ts => ts.map(t => t.rows.length)")
    finally:
        page.close()
    assert headers == [1 + len(labels)] * 2
    by_column: dict[tuple[int, str], list[tuple[float, float, float]]] = {}
    for src, x, _y, w, h, _nw, _nh, _done, table in boxes:
        by_column.setdefault((table, src.rsplit("/", 1)[1]), []).append((x, w, h))
    assert len(by_column) == 5 + 4
    for key, col in by_column.items():
        assert len(col) == len(labels), key
        assert len({(round(x), w, h) for x, w, h in col}) == 1, (key, col)


def test_thumbnail_pixels_on_screen_are_the_maps(samples_batch, chromium):
    """A screenshot of the contact sheet: each gray thumbnail is its stage's maps, from the saved arrays,
    coloured, tiled and area averaged here (within rounding), framed on white."""
    from PIL import Image

    from cnnviz.rendering.canvas import FRAME_COLOUR, WHITE_COLOUR
    from tests.helpers import expected_rgb

    out = samples_batch
    page = _open(chromium, out / "index.html")
    try:
        boxes = _thumbs(page)
        shot = out / "sheet.png"
        page.screenshot(path=str(shot), full_page=True)
    finally:
        page.close()
    with Image.open(shot) as im:
        screen = np.asarray(im.convert("RGB")).astype(int)
    checked = 0
    for image in SAMPLES:
        with np.load(out / "gray" / image / "activations.npz") as z:
            arrays = {k: z[k] for k in z.files}
        for stem, y in arrays.items():
            x0, y0, w, h = boxes[("gray", image, f"{stem}.png")]
            x0, y0 = round(x0), round(y0)  # Chromium draws an image on whole pixels (snapped, not resampled)
            px = screen[y0:y0 + int(h), x0:x0 + int(w)]
            maps = [expected_rgb(y[:, :, c], float(y[:, :, c].min()), float(y[:, :, c].max()), "gray")
                    for c in range(y.shape[2])]
            _assert_tiles(px, maps, FRAME_COLOUR, WHITE_COLOUR, (stem, image))
            checked += 1
    assert checked == 3 * 4


def _assert_tiles(px, maps, frame, white, where):
    """``px`` (a thumbnail on screen) shows ``maps`` tiled row by row, one pixel of frame between and
    around them, centred on white, as large as the box allows for some column count."""
    n, (mh, mw) = len(maps), maps[0].shape[:2]
    bh, bw = px.shape[:2]
    ink = np.any(px != white, axis=2)
    ys, xs = np.nonzero(ink)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1  # the mosaic and its frame
    assert abs((top + bottom) - bh) <= 1 and abs((left + right) - bw) <= 1, where  # centred
    best = None
    for cols in range(1, n + 1):
        rows = -(-n // cols)
        tw, rw = divmod(right - left - (cols + 1), cols)
        th, rh = divmod(bottom - top - (rows + 1), rows)
        if rw or rh or tw < 1 or th < 1 or abs(tw / th - mw / mh) > 2 / min(tw, th):
            continue
        expected = np.empty_like(px)
        expected[:] = white
        expected[top:bottom, left:right] = frame
        for j, m in enumerate(maps):
            r, c = divmod(j, cols)
            ty, tx = top + 1 + r * (th + 1), left + 1 + c * (tw + 1)
            assert th < mh and tw < mw  # these maps are shrunk (by area averaging)
            expected[ty:ty + th, tx:tx + tw] = np.floor(_area_average(m, th, tw) + 0.5)
            if j == n - 1 and (j + 1) % cols:  # an empty slot after the last tile stays white
                expected[ty:bottom, tx + tw + 1:right] = white
        err = np.abs(px - expected)
        if best is None or err.max() < best[0]:
            best = (err.max(), err.mean(), cols, tw, th)
    assert best is not None, where
    worst, mean, cols, tw, th = best
    # the tiles fill the box along one side (as large as fits), and are the maps within rounding
    assert bw - (right - left) < cols or bh - (bottom - top) < -(-n // cols), (where, best)
    assert worst <= 1 and mean < 0.01, (where, best)
