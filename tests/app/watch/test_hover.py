"""watch --serve: pointing at a feature-map cell (its receptive field on the input, its value) and a tile opened large.

Everything the page shows is checked against what is computed here without
cnnviz: the maps with ``scipy.signal.correlate2d`` and a NumPy max-pool on
the image's own pixels, the fields and blocks from the stack's definition
(a 3×3 conv with stride 2 and padding 1, then a 2×2 pool), and where a cell
is drawn from the picture's rasters as :func:`cnnviz.rendering.canvas.nearest`
resamples them.  The page is a real Chromium (skipped without it unless
``CNNVIZ_REQUIRE_BROWSER=1``); doctored copies of its mapping must fail the
same checks.
"""

from __future__ import annotations

import http.client
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from cnnviz.app.watch import Watcher, WatchRequest
from cnnviz.app.watch.cells import HEADER, decode_map, encode_map, infer_shrink
from cnnviz.app.watch.page import PAGE_HTML
from cnnviz.rendering.canvas import nearest
from tests.app.watch.test_serve import browser  # noqa: F401  (the module's Chromium)
from tests.helpers import save_atomic

KERNELS = [
    [[1, 2, 0], [0, -1, 3], [-2, 0, 1]],
    [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    [[1, 0, 0], [0, 0, 0], [0, 0, -1]],
    [[0, 0, 1], [0, 2, 0], [1, 0, 0]],
]


def stack(kernels: list[Any] = KERNELS, render: str = "") -> str:
    return f"""\
input: {{color: gray}}
stages:
  - {{type: conv, name: edges, padding: 1, stride: 2, filters: {json.dumps(kernels)}}}
  - {{type: pool, name: pool, size: 2}}
render: {{filters: false{', ' + render if render else ''}}}
"""


def image(path: Path, h: int, w: int, seed: int = 0) -> np.ndarray:
    """A gray PNG of h × w and its pixels as the stack sees them (0 … 1)."""
    a = np.random.default_rng(seed).integers(0, 256, (h, w)).astype(np.uint8)
    Image.fromarray(a).save(path)
    return a / 255.0


def conv(x: np.ndarray, k: Any) -> np.ndarray:
    """3×3 cross-correlation, padding 1, stride 2 (scipy, independent of cnnviz)."""
    from scipy.signal import correlate2d

    return correlate2d(np.pad(x, 1), np.asarray(k, np.float64), mode="valid")[::2, ::2]


def pool(y: np.ndarray) -> np.ndarray:
    h, w = y.shape[0] // 2, y.shape[1] // 2
    return y[:2 * h, :2 * w].reshape(h, 2, w, 2).max(axis=(1, 3))


def truth(x: np.ndarray, kernels: list[Any] = KERNELS) -> dict[str, np.ndarray]:
    maps = [conv(x, k) for k in kernels]
    return {"01_edges": np.stack(maps, -1), "02_pool": np.stack([pool(m) for m in maps], -1)}


def field(stem: str, i: int) -> tuple[float, float, float, float]:
    """Along one axis, cell i's receptive field and block as input edge coordinates [from, to).

    From the stack itself: conv cell m reads input pixels 2m − 1 … 2m + 1 (padding 1, stride 2)
    and is centred on pixel 2m; pool cell i takes conv cells 2i and 2i + 1, so it reads pixels
    4i − 1 … 4i + 3 and is centred half-way, on 4i + 1.  A cell stands for the jump × jump block
    around its centre (jump 2, then 4); pixel y spans y … y + 1.
    """
    if stem == "01_edges":
        lo, hi, centre, jump = 2 * i - 1, 2 * i + 1, 2 * i, 2
    else:
        lo, hi, centre, jump = 4 * i - 1, 4 * i + 3, 4 * i + 1, 4
    return lo, hi + 1, centre - jump / 2 + 0.5, centre + jump / 2 + 0.5


def serve(tmp_path: Path, text: str, img: Path, **kw: Any) -> Watcher:
    cfg = tmp_path / "stack.yaml"
    cfg.write_text(text, encoding="utf-8")
    w = Watcher(WatchRequest(str(cfg), str(img), str(tmp_path / "out"), serve=True, **kw), io.StringIO(),
                io.StringIO(), backend="polling")
    return w.start()


def port_of(w: Watcher) -> int:
    return int(str(w.url).rstrip("/").rsplit(":", 1)[1])


def get(port: int, path: str) -> tuple[int, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


# ---------------------------------------------------------------------------
# the payload, without a browser


def test_encode_map_is_8_bit_within_half_a_step():
    a = np.random.default_rng(3).normal(0, 2, (37, 41)).astype(np.float32)
    a[0, 0], a[5, 7] = np.nan, np.inf
    data = encode_map(a)
    assert len(data) == HEADER.size + a.size  # one byte a cell: a quarter of float32
    v, lo, hi = decode_map(data)
    fin = np.isfinite(a)
    assert (lo, hi) == (float(a[fin].min()), float(a[fin].max()))
    assert np.isnan(v[~fin]).all()
    assert np.abs(v[fin] - a[fin]).max() <= (hi - lo) / 508 * (1 + 1e-9)
    flat, lo, hi = decode_map(encode_map(np.full((3, 4), 0.25, np.float32)))
    assert (flat == 0.25).all() and lo == hi == 0.25  # a constant map is exact


def test_infer_shrink():
    assert infer_shrink(300, 400, 300, 400) == 1
    assert infer_shrink(300, 400, 150, 200) == 2
    assert infer_shrink(301, 401, 101, 134) == 3
    assert infer_shrink(20, 20, 3, 3) == 7  # 7 and 8 both give 3 × 3: the smallest, as the pictures choose
    assert infer_shrink(20, 20, 3, 3, ["gray · shown at 1:8"]) == 8  # ... unless the picture says
    assert infer_shrink(20, 20, 7, 3) is None


def test_cells_and_values_over_http(tmp_path):
    """/cells lists every tile as drawn; /values sends a shown map, 8-bit; nothing else is sent."""
    x = image(tmp_path / "img.png", 36, 44)
    w = serve(tmp_path, stack(render="max_maps: 3"), tmp_path / "img.png")
    try:
        port = port_of(w)
        status, body = get(port, "/cells")
        meta = json.loads(body)
        assert status == 200 and meta["generation"] == 1 and meta["precision"] == "8-bit"
        pic = meta["pictures"]["02_pool"]
        assert pic["shape"] == [9, 11, 4] and pic["shrink"] == 1
        assert (pic["receptive_field"], pic["jump"], pic["start"]) == ([5, 5], [4, 4], [1.0, 1.0])
        drawn = w.renderer.drawings["02_pool"]
        maps = [r for r in drawn.rasters if r.name.startswith("map ")]
        assert [(t["channel"], t["x"], t["y"], t["w"], t["h"]) for t in pic["tiles"]] == \
            [(int(r.name[4:]), r.x, r.y, r.w, r.h) for r in maps]
        assert len(pic["tiles"]) == 3  # max_maps 3 of 4
        inp = meta["input"]
        assert inp["shape"] == [36, 44] and len(inp["rasters"]) == 1 and inp["rasters"][0]["shrink"] == 1
        ref = truth(x)["02_pool"]
        shown = [t["channel"] for t in pic["tiles"]]
        for ch in shown:
            status, data = get(port, f"/values/2/{ch}?g=1")
            assert status == 200 and len(data) == HEADER.size + 9 * 11
            v, lo, hi = decode_map(data)
            assert np.abs(v - ref[:, :, ch]).max() <= (hi - lo) / 508 + 1e-5
        hidden = ({0, 1, 2, 3} - set(shown)).pop()
        assert get(port, f"/values/2/{hidden}")[0] == 404  # a map no grid shows is not sent
        assert get(port, "/values/2/0?g=2")[0] == 404  # nor one of a render the page does not show
        assert get(port, "/values/9/0")[0] == 404
        assert get(port, "/values/2/0?g=x")[0] == 400
        assert get(port, "/values/2/../0")[0] == 404
        assert get(port, "/files/activations.npz")[0] == 404
    finally:
        w.stop()


def test_a_map_is_a_quarter_of_its_float32_and_a_sixteenth_of_its_stage(tmp_path):
    image(tmp_path / "big.png", 300, 400)
    w = serve(tmp_path, stack(), tmp_path / "big.png")
    try:
        status, data = get(port_of(w), "/values/1/0")
        float32 = 150 * 200 * 4 * 4  # the stage's activations: 4 maps of 150 x 200, 4 bytes a value
        assert status == 200 and len(data) == HEADER.size + 150 * 200 == HEADER.size + float32 // 16
    finally:
        w.stop()


def test_keeping_the_drawings_renders_and_reuses_as_without(tmp_path):
    """keep_drawings (for the page) changes nothing of what IncrementalRenderer renders or reuses."""
    from cnnviz.app.watch.incremental import IncrementalRenderer

    image(tmp_path / "img.png", 36, 44)
    cfg = tmp_path / "stack.yaml"
    edits = [stack(), stack(render="cmap: viridis"), stack([KERNELS[0], KERNELS[2]])]
    runs = []
    for keep in (False, True):
        r = IncrementalRenderer(str(cfg), str(tmp_path / "img.png"), tmp_path / str(keep), keep_drawings=keep)
        seen = []
        for text in edits:
            cfg.write_text(text, encoding="utf-8")
            rep = r.update()
            seen.append((rep.stages, rep.recomputed_from, rep.computed, rep.first,
                         sorted(p.name for p in rep.files), [la.output.tobytes() for la in r.layers]))
        runs.append(seen)
        assert sorted(r.drawings) == (["00_input", "01_edges", "02_pool", "overview"] if keep else [])
    assert runs[0] == runs[1]
    assert [s[2] for s in runs[1]] == [[1, 2], [], [1, 2]]


# ---------------------------------------------------------------------------
# the page in Chromium


FIELD = "#figures .pic.input svg.ov rect.field"


def picture_pixels(w: Watcher, stem: str, channel: int, r: int, c: int) -> np.ndarray:
    """The picture pixels (x, y) that show data cell (r, c) of tile `channel`, from the drawing and `nearest`."""
    raster = next(x for x in w.renderer.drawings[stem].rasters if x.name == f"map {channel}")
    rows, cols = raster.data.shape
    idx = nearest(np.arange(rows * cols).reshape(rows, cols), raster.h, raster.w)
    ys, xs = np.nonzero(idx == r * cols + c)
    return np.stack([xs + raster.x, ys + raster.y], 1)


def move_to(page: Any, w: Watcher, stem: str, x: float, y: float) -> None:
    """Put the mouse on picture pixel (x, y) of `stem` (its centre), however large the page shows it."""
    d = w.renderer.drawings[stem]
    img = page.locator(f'#figures img[data-stem="{stem}"]')
    img.scroll_into_view_if_needed()
    bb = img.bounding_box()
    page.eval_on_selector("#probe", "e => { e.dataset.value = ''; e.dataset.stem = ''; }")  # no stale answer
    page.mouse.move(bb["x"] + (x + 0.5) * bb["width"] / d.width, bb["y"] + (y + 0.5) * bb["height"] / d.height)


def probe(page: Any, stem: str, channel: int, i0: int, j0: int) -> dict[str, str]:
    """What the probe shows once its value came (after a :func:`move_to`), checked to be cell (i0, j0)."""
    page.wait_for_function("() => document.getElementById('probe').dataset.value", timeout=3000)
    d = page.eval_on_selector("#probe", "e => ({...e.dataset, text: e.innerText})")
    assert (d["stem"], d["channel"], d["i0"], d["j0"]) == (stem, str(channel), str(i0), str(j0)), d
    return d


def input_box(w: Watcher) -> Any:
    return next(r for r in w.renderer.drawings["00_input"].rasters if r.name == "input")


def yellow_box(png: bytes) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the field's yellow stroke in a screenshot."""
    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    m = (a[:, :, 0] > 220) & (a[:, :, 1] > 180) & (a[:, :, 1] < 235) & (a[:, :, 2] < 90)
    ys, xs = np.nonzero(m)
    assert len(xs), "no field drawn"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def check_cell(page: Any, w: Watcher, ref: dict[str, np.ndarray], stem: str, channel: int, i: int, j: int,
               corner: str = "centre", pixels: bool = True) -> dict[str, str]:
    """Hover cell (i, j) of tile `channel` of `stem` (at its centre, or its first or last picture pixel) and check
    the cell named, the field and block drawn on the input (SVG geometry and, with `pixels`, the screenshot) and
    the value shown."""
    px = picture_pixels(w, stem, channel, i, j)
    x, y = {"centre": px[len(px) // 2], "first": px[0], "last": px[-1]}[corner]
    move_to(page, w, stem, float(x), float(y))
    d = probe(page, stem, channel, i, j)
    assert (d["i1"], d["j1"]) == (str(i), str(j))
    fy0, fy1, by0, by1 = field(stem, i)
    fx0, fx1, bx0, bx1 = field(stem, j)
    # on the input picture: the input raster is drawn at a whole zoom here, so u -> x + u · zoom
    r = input_box(w)
    H, W = r.data.shape[:2]
    zoom = r.w / W
    assert zoom == r.h / H and zoom.is_integer()

    def pic(u: float, n: int, origin: int) -> float:
        return origin + min(max(u, 0), n) * zoom

    expect = [pic(fx0, W, r.x), pic(fy0, H, r.y), pic(fx1, W, r.x) - pic(fx0, W, r.x),
              pic(fy1, H, r.y) - pic(fy0, H, r.y)]
    if pixels:  # first where the yellow really is on the screen
        img = page.locator('#figures img[data-stem="00_input"]')
        bb = img.bounding_box()
        s = bb["width"] / w.renderer.drawings["00_input"].width
        left, top, right, bottom = yellow_box(page.screenshot(clip=bb))
        want = (expect[0] * s, expect[1] * s, (expect[0] + expect[2]) * s, (expect[1] + expect[3]) * s)
        assert (left, top, right, bottom) == pytest.approx(want, abs=2.5), ((left, top, right, bottom), want)
    # then the SVG's geometry, exactly
    got = page.eval_on_selector(FIELD, "e => ['x', 'y', 'width', 'height'].map(k => +e.getAttribute(k))")
    assert got == pytest.approx(expect, abs=1e-6), (got, expect)
    block = page.eval_on_selector(FIELD.replace("field", "block"),
                                  "e => ['x', 'y', 'width', 'height'].map(k => +e.getAttribute(k))")
    bexp = [pic(bx0, W, r.x), pic(by0, H, r.y), pic(bx1, W, r.x) - pic(bx0, W, r.x),
            pic(by1, H, r.y) - pic(by0, H, r.y)]
    assert block == pytest.approx(bexp, abs=1e-6), (block, bexp)
    cut = page.eval_on_selector_all(FIELD.replace("rect.field", "line.cut"), "els => els.length")
    assert cut == (fy0 < 0) + (fx0 < 0) + (fy1 > H) + (fx1 > W)
    # and the numbers the probe states
    assert [float(v) for v in d["field"].split()] == [fy0, fx0, fy1, fx1]
    # the value: the cell's own, to 8 bits
    true = float(ref[stem][i, j, channel])
    value, err = float(d["value"]), float(d["err"])
    assert abs(value - true) <= err + 1e-6, (value, true, err)
    shown = re.search(r"≈ (−?[\d.]+) \(8-bit, ± ([\d.]+)\)", d["text"])
    assert shown, d["text"]
    decimals = len(shown.group(1).split(".")[1]) if "." in shown.group(1) else 0
    assert abs(float(shown.group(1).replace("−", "-")) - true) <= err + 0.5 * 10 ** -decimals + 1e-9
    return d


@pytest.fixture
def zoomed(tmp_path):
    """The stack on a 36 × 44 image: its grids drawn at whole zooms (18 and 9 pixels a cell)."""
    x = image(tmp_path / "img.png", 36, 44)
    w = serve(tmp_path, stack(), tmp_path / "img.png")
    try:
        yield w, x, tmp_path
    finally:
        w.stop()


def open_page(chromium: Any, w: Watcher, width: int = 1200, height: int = 2000, html: str | None = None) -> Any:
    page = chromium.new_page(viewport={"width": width, "height": height})
    if html is not None:  # a doctored page, served in place of the real one
        page.route(w.url, lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8",
                                                     body=html))
    page.goto(w.url)
    page.wait_for_function("() => document.body.dataset.cells === document.body.dataset.generation "
                           "&& document.body.dataset.cells !== '0'", timeout=5000)
    return page


CASES = [("02_pool", 0, 0, 0, "centre"), ("02_pool", 1, 3, 5, "first"), ("02_pool", 3, 8, 10, "last"),
         ("01_edges", 2, 17, 21, "last"), ("01_edges", 0, 0, 9, "first")]


def test_hover_draws_the_field_and_shows_the_value(browser, zoomed):  # noqa: F811
    w, x, tmp = zoomed
    ref = truth(x)
    page = open_page(browser, w)
    responses: list[Any] = []
    page.on("response", lambda r: responses.append(r) if "/values/" in r.url else None)
    try:
        assert page.is_visible("#hint") and page.is_hidden("#probe")
        for stem, ch, i, j, corner in CASES:
            check_cell(page, w, ref, stem, ch, i, j, corner)
        # the cell next to a cell's first pixel is the neighbour: no off-by-one at the tile's cell edges
        px = picture_pixels(w, "02_pool", 1, 3, 5)
        move_to(page, w, "02_pool", float(px[0][0]) - 1, float(px[0][1]) - 1)
        probe(page, "02_pool", 1, 2, 4)
        # the field at the image's corner is cut there, and the probe says so
        d = check_cell(page, w, ref, "02_pool", 0, 0, 0)
        assert "1 row above and 1 column left of it are padding" in d["text"]
        page.mouse.move(2, 2)
        page.wait_for_selector("#probe", state="hidden", timeout=2000)
        # only the hovered maps came, 8-bit: a map each, far less than the float32 activations
        sizes = [len(r.body()) for r in responses]
        float32 = sum(truth(x)[s].size * 4 for s in ("01_edges", "02_pool"))
        assert sorted(sizes) == sorted([HEADER.size + 9 * 11] * 3 + [HEADER.size + 18 * 22] * 2)
        assert sum(sizes) * 4 < float32
    finally:
        page.close()


def test_hover_on_a_page_shown_smaller_than_drawn(browser, zoomed):  # noqa: F811
    """A narrow window shows the pictures shrunk by CSS: the mouse still finds the cell it is on."""
    w, x, _ = zoomed
    ref = truth(x)
    page = open_page(browser, w, width=330, height=1400)
    try:
        bb = page.locator('#figures img[data-stem="02_pool"]').bounding_box()
        assert bb["width"] < 0.65 * w.renderer.drawings["02_pool"].width
        check_cell(page, w, ref, "02_pool", 3, 6, 2, pixels=False)
        check_cell(page, w, ref, "01_edges", 1, 11, 4, pixels=False)
    finally:
        page.close()


def doctored(old: str, new: str) -> str:
    assert old in PAGE_HTML
    return PAGE_HTML.replace(old, new)


DOCTORED = {
    # the field one input pixel off
    "start off by one": doctored("s = g.start[axis];\n  return [s + i0", "s = g.start[axis] + 1;\n  return [s + i0"),
    # a stretched mapping: the map spread over the input as if cell i were centred on (i + ½) · H / h
    "stretched": doctored("function fieldOf(g, axis, i0, i1) {\n",
                          "function fieldOf(g, axis, i0, i1) {\n  const st = cells.input.shape[axis] / g.shape[axis];"
                          "\n  g = {...g, jump: [st, st], start: [st / 2 - 0.5, st / 2 - 0.5]};\n"),
    # the mouse rounded to the nearest cell instead of the one it is on
    "rounded cell": doctored("return Math.floor((p - origin) * n / len);", "return Math.round((p - origin) * n / len);"),
}


@pytest.mark.parametrize("name", sorted(DOCTORED))
def test_a_doctored_mapping_fails_the_checks(browser, zoomed, name):  # noqa: F811
    w, x, _ = zoomed
    ref = truth(x)
    page = open_page(browser, w, html=DOCTORED[name])
    try:
        with pytest.raises(AssertionError) as info:
            for stem, ch, i, j, corner in CASES[:3]:
                check_cell(page, w, ref, stem, ch, i, j, corner)
        # what fails: the field seen on the screen (start, stretch), or the cell under the mouse (rounding)
        assert str(info.value).startswith("((" if name != "rounded cell" else "{"), str(info.value)
    finally:
        page.close()


def test_click_opens_a_tile_large_and_it_follows_a_re_render(browser, zoomed):  # noqa: F811
    w, x, tmp = zoomed
    ref = truth(x)
    page = open_page(browser, w, height=1000)
    try:
        check_cell(page, w, ref, "02_pool", 2, 4, 7, pixels=False)
        page.mouse.down()
        page.mouse.up()
        page.wait_for_selector("#zoom", state="visible", timeout=2000)
        z = page.eval_on_selector("#zoom", "e => ({...e.dataset})")
        assert (z["stem"], z["channel"]) == ("02_pool", "2")
        cv = page.eval_on_selector("#zoom-canvas", "c => [c.width, c.height, c.getBoundingClientRect().width]")
        assert cv[:2] == [11, 9] and cv[2] == 11 * int(z["z"]) and int(z["z"]) >= 30  # every cell, large
        # the canvas shows the tile as drawn: cell (i, j) is the colour the grid gave it
        raster = next(r for r in w.renderer.drawings["02_pool"].rasters if r.name == "map 2")
        rgb = page.evaluate("""() => { const c = document.getElementById('zoom-canvas');
            return [...c.getContext('2d').getImageData(0, 0, c.width, c.height).data]; }""")
        got = np.array(rgb, np.uint8).reshape(9, 11, 4)[:, :, :3]
        assert (got == raster.palette[raster.data]).all()
        # hovering it: cell by cell
        bb = page.locator("#zoom-canvas").bounding_box()
        for i, j in [(0, 0), (8, 10), (5, 3)]:
            page.mouse.move(bb["x"] + (j + 0.5) * bb["width"] / 11, bb["y"] + (i + 0.5) * bb["height"] / 9)
            d = probe(page, "02_pool", 2, i, j)
            assert abs(float(d["value"]) - ref["02_pool"][i, j, 2]) <= float(d["err"]) + 1e-6
        # an edit re-renders: the open map and the value under the pointer are the new render's
        new = [[[-v for v in row] for row in k] for k in KERNELS]
        old_value = d["value"]
        save_atomic(tmp / "stack.yaml", stack(new))
        page.wait_for_function("() => document.body.dataset.cells === '2'", timeout=4000)
        page.wait_for_function(f"() => document.getElementById('probe').dataset.value !== '{old_value}' "
                               "&& document.getElementById('probe').dataset.value !== ''", timeout=3000)
        d = page.eval_on_selector("#probe", "e => ({...e.dataset})")
        assert (d["i0"], d["j0"]) == ("5", "3") and page.is_visible("#zoom")
        assert abs(float(d["value"]) - truth(x, new)["02_pool"][5, 3, 2]) <= float(d["err"]) + 1e-6
        page.keyboard.press("Escape")
        page.wait_for_selector("#zoom", state="hidden", timeout=2000)
        # and the grid's hover is the new render's too
        check_cell(page, w, {k: v for k, v in truth(x, new).items()}, "02_pool", 1, 6, 9, pixels=False)
    finally:
        page.close()


def test_hover_on_a_grid_shrunk_1_to_n(browser, tmp_path):  # noqa: F811
    """A grid shown at 1:2 (max_size), at dpi 150 (1.5 pixels a cell, tiles of unequal size): a picture pixel
    is a 2 × 2 block of cells, and says so; the large view shows every cell."""
    x = image(tmp_path / "big.png", 600, 800)
    text = stack(KERNELS[:2]).replace("filters: false", "filters: false, max_size: 700, dpi: 150, overview: false")
    text = text.replace("  - {type: pool, name: pool, size: 2}\n", "")
    w = serve(tmp_path, text, tmp_path / "big.png")
    page = open_page(browser, w, height=1600)
    try:
        d = w.renderer.drawings["01_edges"]
        assert any("shown at 1:2" in t.text for t in d.items if hasattr(t, "text"))
        ref = conv(x, KERNELS[1])
        for r, c, corner in [(40, 77, "first"), (74, 99, "last"), (0, 0, "centre")]:
            px = picture_pixels(w, "01_edges", 1, r, c)
            xx, yy = {"centre": px[len(px) // 2], "first": px[0], "last": px[-1]}[corner]
            move_to(page, w, "01_edges", float(xx), float(yy))
            p = probe(page, "01_edges", 1, 2 * r, 2 * c)
            assert (p["i1"], p["j1"]) == (str(2 * r + 1), str(2 * c + 1))
            fy0, _, _, _ = field("01_edges", 2 * r)
            _, fy1, _, _ = field("01_edges", 2 * r + 1)
            fx0, _, _, _ = field("01_edges", 2 * c)
            _, fx1, _, _ = field("01_edges", 2 * c + 1)
            assert [float(v) for v in p["field"].split()] == [fy0, fx0, fy1, fx1]
            # the input is drawn shrunk too (1:N, at dpi 150): the box is where those rows and columns are
            ri = input_box(w)
            n_in = -(-600 // ri.data.shape[0])
            assert n_in > 1 and any(f"1:{n_in}" in t.text for t in w.renderer.drawings["00_input"].items
                                    if hasattr(t, "text"))
            got = page.eval_on_selector(FIELD, "e => ['x', 'y', 'width', 'height'].map(k => +e.getAttribute(k))")
            x0, y0 = ri.x + max(fx0, 0) * ri.w / 800, ri.y + max(fy0, 0) * ri.h / 600
            want = [x0, y0, ri.x + fx1 * ri.w / 800 - x0, ri.y + fy1 * ri.h / 600 - y0]
            assert got == pytest.approx(want, abs=1.0), (got, want)
            mean = ref[2 * r:2 * r + 2, 2 * c:2 * c + 2].mean()
            assert abs(float(p["value"]) - mean) <= float(p["err"]) + 1e-6
            assert "1:2" in p["text"] and "mean ≈" in p["text"]
        page.mouse.down()
        page.mouse.up()
        page.wait_for_selector("#zoom", state="visible", timeout=2000)
        # large, as the grid draws it: a square is the 2 x 2 cells the grid averaged
        assert page.eval_on_selector("#zoom-canvas", "c => [c.width, c.height]") == [200, 150]
        assert page.get_attribute("#zoom", "data-z") == "3"
        bb = page.locator("#zoom-canvas").bounding_box()
        page.eval_on_selector("#probe", "e => { e.dataset.value = ''; }")
        page.mouse.move(bb["x"] + (101 + 0.5) * bb["width"] / 200, bb["y"] + (37 + 0.5) * bb["height"] / 150)
        p = probe(page, "01_edges", 1, 74, 202)
        assert (p["i1"], p["j1"]) == ("75", "203")
        assert abs(float(p["value"]) - ref[74:76, 202:204].mean()) <= float(p["err"]) + 1e-6
        # and at every cell
        page.check("#zoom-full")
        page.wait_for_function("() => document.getElementById('zoom').dataset.full === '1'", timeout=2000)
        bb = page.locator("#zoom-canvas").bounding_box()
        size = page.eval_on_selector("#zoom-canvas", "c => [c.width, c.height]")
        assert size == [400, 300]
        for i, j in [(37, 101), (299, 399), (150, 0)]:
            page.eval_on_selector("#probe", "e => { e.dataset.value = ''; }")
            page.mouse.move(bb["x"] + (j + 0.5) * bb["width"] / 400, bb["y"] + (i + 0.5) * bb["height"] / 300)
            p = probe(page, "01_edges", 1, i, j)
            assert abs(float(p["value"]) - ref[i, j]) <= float(p["err"]) + 1e-6
            assert p["i1"] == str(i)
    finally:
        page.close()
        w.stop()


def make_screenshot(chromium: Any, tmp_path: Path, out: Path) -> None:
    """docs/watch-hover.png: configs/numpycnn.yaml on chelsea, a cell of the last pool hovered."""
    import shutil

    root = Path(__file__).resolve().parents[3]
    (tmp_path / "configs").mkdir()
    shutil.copy(root / "configs" / "numpycnn.yaml", tmp_path / "configs")
    old = os.getcwd()
    os.chdir(tmp_path)  # the page's header names the config and folder as a user would type them
    w = Watcher(WatchRequest("configs/numpycnn.yaml", "chelsea", serve=True), io.StringIO(), io.StringIO(),
                backend="polling").start()
    page = chromium.new_page(viewport={"width": 1200, "height": 760})
    try:
        page.goto(w.url)
        page.wait_for_function("() => document.body.dataset.cells !== '0'", timeout=8000)
        stem = [s for s in w.renderer.drawings if re.match(r"^\d+_pool", s)][-1]
        page.locator(f'#figures img[data-stem="{stem}"]').scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, 150)")
        raster = next(r for r in w.renderer.drawings[stem].rasters if r.name.startswith("map "))
        rows, cols = raster.data.shape
        px = picture_pixels(w, stem, int(raster.name[4:]), rows // 3, cols // 2)
        move_to(page, w, stem, float(px[len(px) // 2][0]), float(px[len(px) // 2][1]))
        page.wait_for_function("() => document.getElementById('probe').dataset.value !== ''", timeout=3000)
        page.screenshot(path=str(out))
    finally:
        page.close()
        w.stop()
        os.chdir(old)


@pytest.mark.skipif(os.environ.get("CNNVIZ_MAKE_DOCS") != "1", reason="writes docs/watch-hover.png")
def test_make_docs_screenshot(browser, tmp_path):  # noqa: F811
    make_screenshot(browser, tmp_path, Path(__file__).resolve().parents[3] / "docs" / "watch-hover.png")


def test_math_helpers_agree_with_the_stack():
    """The hand-derived fields are the planned ones (start = centre of cell 0, rf, jump)."""
    for stem, rf, jump, start in [("01_edges", 3, 2, 0.0), ("02_pool", 5, 4, 1.0)]:
        for i in range(4):
            lo, hi, b0, b1 = field(stem, i)
            assert hi - lo == rf and b1 - b0 == jump
            assert math.isclose((lo + hi) / 2 - 0.5, start + i * jump)
