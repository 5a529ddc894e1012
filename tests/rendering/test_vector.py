"""The SVG and PDF backends (``render.format: svg | pdf``, SPEC §3), checked from the files themselves.

Text stays text (SVG ``<text>``; PDF text shown with an embedded font), maps
are embedded images at their data's own resolution (decoded here and compared
pixel for pixel, so a zoomed or smoothed map fails), the metadata round-trips
through ``cnnviz inspect``, and the pictures look like the PNGs: the SVG
rasterised by headless Chromium and the PDF by poppler are compared with the
PNG (skipped, with the reason, when those are missing; ``CNNVIZ_REQUIRE_BROWSER=1``
and ``CNNVIZ_REQUIRE_POPPLER=1`` turn the skips into failures).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cnnviz
import cnnviz.rendering.vector as vector
from cnnviz.io.vectormeta import _Parser
from cnnviz.rendering.canvas import INK_COLOUR, SOFT_COLOUR, Drawing, Line, Raster, Rect, Text, rasterize
from cnnviz.rendering.palette import grid_palette
from cnnviz.rendering.text import font
from cnnviz.rendering.vector import to_pdf, to_svg, write_vector
from tests.helpers import cli, smooth_maps

SVG = "{http://www.w3.org/2000/svg}"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

META = {
    "Software": "cnnviz 9.9.9",
    "cnnviz.version": "9.9.9",
    "cnnviz.config": "name: t\nstages:\n- {type: conv, name: '<edges> & \"more\"'}\nrender: {cmap: gray}\n",
    "cnnviz.image": "camera",
    "cnnviz.stage": "01_edges",
    "Title": "01 edges (conv) · 12×12×2",
}


def sample_drawing() -> Drawing:
    """Every kind of item: texts at every anchor the pictures use, a palette map zoomed 8×, an RGB map, rects, lines."""
    pal = grid_palette("viridis")
    rng = np.random.default_rng(0)
    d = Drawing(260, 180, 100, title=META["Title"])
    d.add(Text(6, 4, META["Title"], 15, INK_COLOUR, True, "la"))
    d.add(Text(130, 40, "middle · 0 … 1 <&> θ=45°", 11, SOFT_COLOUR, False, "ma"))
    d.add(Text(250, 60, "−3.37 … 3.34", 11, SOFT_COLOUR, False, "rm"))
    d.add(Text(20, 70, "0 · sobel_x", 11, INK_COLOUR, False, "lm"))
    d.add(Text(200, 100, ".25", 10, INK_COLOUR, False, "mm"))
    d.add(Text(200, 130, "base  line", 10, INK_COLOUR, False, "ls"))
    d.add(Text(200, 160, "desc", 10, INK_COLOUR, False, "rd"))
    d.add(Rect(4, 76, 106, 178, fill=(255, 255, 255), outline=(200, 200, 200), width=1))
    d.add(Raster(5, 77, 96, 96, rng.integers(0, 247, (12, 12)).astype(np.uint8), pal, "map 0"))
    d.add(Raster(120, 80, 35, 20, rng.integers(0, 256, (5, 7, 3)).astype(np.uint8), None, "kernel 0"))
    d.add(Rect(120, 110, 160, 140, fill=(240, 240, 240), outline=(31, 31, 31), width=3))
    d.add(Line(170, 80, 170, 170, SOFT_COLOUR, 1))
    d.add(Line(120, 150, 160, 150, INK_COLOUR, 2))
    return d


# ---------------------------------------------------------------------------
# helpers that read the files


def svg_root(text: str) -> ET.Element:
    return ET.fromstring(text.encode("utf-8"))


def svg_images(root: ET.Element) -> list[tuple[ET.Element, Image.Image]]:
    out = []
    for el in root.iter(SVG + "image"):
        href = el.get("href") or el.get("{http://www.w3.org/1999/xlink}href") or ""
        assert href.startswith("data:image/png;base64,"), href[:40]
        im = Image.open(io.BytesIO(base64.b64decode(href.split(",", 1)[1])))
        im.load()
        out.append((el, im))
    return out


def raster_rgb(r: Raster) -> np.ndarray:
    return r.palette[r.data] if r.data.ndim == 2 else r.data


def svg_image_problems(text: str, drawing: Drawing) -> list[str]:
    """Every way the SVG's images fail to be the drawing's rasters, at their own resolution, pixelated."""
    found = svg_images(svg_root(text))
    rasters = drawing.rasters
    if len(found) != len(rasters):
        return [f"{len(found)} <image> for {len(rasters)} rasters"]
    problems = []
    for (el, im), r in zip(found, rasters):
        rows, cols = r.data.shape[:2]
        if im.size != (cols, rows):
            problems.append(f"{r.name}: embedded {im.size}, data {(cols, rows)}")
            continue
        if not np.array_equal(np.asarray(im.convert("RGB")), raster_rgb(r)):
            problems.append(f"{r.name}: embedded pixels differ from the data")
        box = tuple(float(el.get(k)) for k in ("x", "y", "width", "height"))
        if box != (r.x, r.y, r.w, r.h):
            problems.append(f"{r.name}: box {box}, want {(r.x, r.y, r.w, r.h)}")
        if "image-rendering:pixelated" not in (el.get("style") or "").replace(" ", ""):
            problems.append(f"{r.name}: not pixelated")
        if el.get("preserveAspectRatio") != "none":
            problems.append(f"{r.name}: preserveAspectRatio {el.get('preserveAspectRatio')}")
    return problems


def pdf_objects(data: bytes) -> dict[int, tuple[object, bytes | None]]:
    """Every ``N 0 obj`` of a PDF: (its value, its stream's raw bytes or None)."""
    out = {}
    for m in re.finditer(rb"(?<![0-9])(\d+) 0 obj", data):
        p = _Parser(data, m.end())
        try:
            value = p.value()
        except ValueError:
            continue
        stream = None
        s = re.compile(rb"\s*stream\r?\n").match(data, p.pos)
        if s:
            end = data.index(b"endstream", s.end())
            stream = data[s.end():end].rstrip(b"\r\n")
        out[int(m.group(1))] = (value, stream)
    return out


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def pdf_images(data: bytes) -> list[dict]:
    """The image XObjects: size, /Interpolate, and pixels (their Flate+PNG-predictor data rewrapped as a PNG).

    The pixels are as stored, top row first (what ``pdfimages`` extracts), not flipped by the placing matrix.
    """
    out = []
    for value, stream in pdf_objects(data).values():
        if not (isinstance(value, dict) and value.get("Subtype") == "Image"):
            continue
        w, h, bpc = value["Width"], value["Height"], value["BitsPerComponent"]
        cs = value["ColorSpace"]
        assert value.get("DecodeParms", {}).get("Predictor", 0) >= 10 and value.get("Filter") == "FlateDecode"
        chunks = []
        if isinstance(cs, list) and cs[0] == "Indexed":
            colour_type, palette = 3, cs[3]
            chunks.append(_chunk(b"PLTE", palette))
        else:
            colour_type = {"DeviceRGB": 2, "DeviceGray": 0}[cs]
        png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bpc, colour_type, 0, 0, 0))
        png += b"".join(chunks) + _chunk(b"IDAT", stream) + _chunk(b"IEND", b"")
        im = Image.open(io.BytesIO(png))
        out.append({"size": (w, h), "interpolate": value.get("Interpolate", False), "smask": "SMask" in value,
                    "rgb": np.asarray(im.convert("RGB"))})
    return out


def pdf_shown_strings(data: bytes) -> list[str]:
    """What each text object (BT … ET) of the content streams shows, its strings read as UTF-16BE."""
    out = []
    for _value, stream in pdf_objects(data).values():
        if stream is None:
            continue
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        for block in re.findall(rb"BT(.*?)ET", content, re.S):
            shown = []
            for arr in re.finditer(rb"\[(.*?)\]\s*TJ", block, re.S):
                p = _Parser(b"[" + arr.group(1) + b"]")
                shown += [s.decode("utf-16-be", "replace") for s in p.value() if isinstance(s, bytes)]
            out.append("".join(shown))
    return out


# ---------------------------------------------------------------------------
# SVG, from the file


def test_every_text_is_an_svg_text_element():
    d = sample_drawing()
    root = svg_root(to_svg(d, META))
    texts = list(root.iter(SVG + "text"))
    items = [i for i in d.items if isinstance(i, Text)]
    assert [t.text for t in texts] == [i.text for i in items]  # spaces kept, <&> escaped and read back
    for el, item in zip(texts, items):
        assert el.get("font-size") == str(item.size)
        assert (el.get("font-weight") == "bold") == item.bold
        assert el.get("text-anchor", "start") == {"l": "start", "m": "middle", "r": "end"}[item.anchor[0]]
        assert el.get("fill") == "#" + bytes(item.color).hex()
    group = next(root.iter(SVG + "g"))
    assert group.get("font-family") == "DejaVu Sans, sans-serif"
    assert group.get("dominant-baseline") == "alphabetic"
    spaced = [el for el in texts if el.get("{http://www.w3.org/XML/1998/namespace}space") == "preserve"]
    assert [el.text for el in spaced] == ["base  line"]  # keeps its two spaces (Chromium: on the element only)
    assert root.get("width") == "260px" and root.get("height") == "180px" and root.get("viewBox") == "0 0 260 180"
    assert root.find(SVG + "title").text == META["Title"]


def test_svg_text_sits_on_the_pngs_baseline():
    """y is the baseline: the anchor point moved by the font's own ascent/descent (Pillow's metrics)."""
    d = sample_drawing()
    texts = list(svg_root(to_svg(d, META)).iter(SVG + "text"))
    for el, item in zip(texts, [i for i in d.items if isinstance(i, Text)]):
        asc, desc = font(item.size, item.bold).getmetrics()
        v = item.anchor[1]
        want = {"a": asc, "s": 0, "d": -desc, "m": (asc - desc) / 2}[v]
        assert abs(float(el.get("y")) - (round(item.y) + want)) <= (0.5 if v == "m" else 0), (item, el.get("y"))
        assert float(el.get("x")) == round(item.x)


def test_each_raster_is_one_image_at_its_own_resolution():
    d = sample_drawing()
    text = to_svg(d, META)
    assert svg_image_problems(text, d) == []
    (el, im), (el2, im2) = svg_images(svg_root(text))
    assert im.size == (12, 12) and (el.get("width"), el.get("height")) == ("96", "96")  # 12×12 shown in 96×96
    assert im2.size == (7, 5) and (el2.get("width"), el2.get("height")) == ("35", "20")
    assert el.get("image-rendering") == "optimizeSpeed"  # SVG 1.1 viewers' word for nearest-neighbour


def test_the_image_check_catches_a_zoomed_or_smoothed_map():
    """The check above can fail: an SVG whose map was embedded zoomed, or smoothed, is caught."""
    d = sample_drawing()
    r = d.rasters[0]
    good = to_svg(d, META)
    href = re.search(r'href="(data:image/png;base64,[^"]+)"', good).group(1)

    def with_image(im: Image.Image) -> str:
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        return good.replace(href, "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(), 1)

    rgb = Image.fromarray(raster_rgb(r))
    zoomed = with_image(rgb.resize((96, 96), Image.NEAREST))
    smoothed = with_image(Image.fromarray(raster_rgb(r)).resize((24, 24), Image.BILINEAR).resize((12, 12), Image.BILINEAR))
    assert svg_image_problems(zoomed, d) == ["map 0: embedded (96, 96), data (12, 12)"]
    assert svg_image_problems(smoothed, d) == ["map 0: embedded pixels differ from the data"]
    assert svg_image_problems(good.replace("image-rendering:pixelated", "image-rendering:auto", 1), d) == \
        ["map 0: not pixelated"]


def _paint_svg_shapes(root: ET.Element, h: int, w: int) -> np.ndarray:
    """An independent reading of the SVG's rects and lines: the device pixels each one covers."""
    canvas = np.full((h, w, 3), 255, np.uint8)

    def col(s: str) -> tuple[int, ...]:
        return tuple(int(s[i:i + 2], 16) for i in (1, 3, 5))

    for el in root.iter():
        tag = el.tag.replace(SVG, "")
        g = {k: float(v) for k, v in el.attrib.items() if re.fullmatch(r"-?[\d.]+", v)}
        if tag == "rect":
            x, y, rw, rh = g.get("x", 0), g.get("y", 0), g["width"], g["height"]
            if el.get("fill", "none") != "none":
                canvas[round(y):round(y + rh), round(x):round(x + rw)] = col(el.get("fill"))
            if el.get("stroke"):
                t = g["stroke-width"]
                x0, y0, x1, y1 = (round(v) for v in (x - t / 2, y - t / 2, x + rw + t / 2, y + rh + t / 2))
                c, ti = col(el.get("stroke")), round(t)
                canvas[y0:y0 + ti, x0:x1] = c
                canvas[y1 - ti:y1, x0:x1] = c
                canvas[y0:y1, x0:x0 + ti] = c
                canvas[y0:y1, x1 - ti:x1] = c
        elif tag == "line":
            t = g["stroke-width"]
            xa, xb = sorted((g["x1"], g["x2"]))
            ya, yb = sorted((g["y1"], g["y2"]))
            if xa == xb:
                xa, xb = xa - t / 2, xb + t / 2
            else:
                ya, yb = ya - t / 2, yb + t / 2
            canvas[round(ya):round(yb), round(xa):round(xb)] = col(el.get("stroke"))
    return canvas


def test_rects_and_lines_cover_the_pngs_pixels():
    d = sample_drawing()
    d.items = [i for i in d.items if isinstance(i, (Rect, Line))] + [Line(10, 5, 10, 5, INK_COLOUR, 4),
                                                                     Rect(200, 10, 205, 14, None, INK_COLOUR, 3)]
    png, pal = rasterize(d)
    want = pal[png] if pal is not None else png
    got = _paint_svg_shapes(svg_root(to_svg(d)), d.height, d.width)
    assert np.array_equal(got, want)


def test_svg_metadata_elements_keep_the_text_exactly():
    meta = dict(META)
    meta["cnnviz.config"] = "a: 'x\r\ny'\n\ttab: ]]> &amp; <b>\n  trailing  \n\n"
    meta["cnnviz.image"] = "bell\x07.png"  # a character XML cannot hold: stored as base64
    text = to_svg(sample_drawing(), meta)
    ns = "{urn:cnnviz:metadata}"
    block = svg_root(text).find(SVG + "metadata").find(ns + "metadata")
    got = {el.tag.replace(ns, ""): el for el in block}
    assert list(got) == ["version", "config", "image", "stage", "software", "title"]
    assert got["config"].text == meta["cnnviz.config"]
    assert got["image"].get("encoding") == "base64"
    assert base64.b64decode(got["image"].text).decode() == "bell\x07.png"
    assert "&#13;" in text  # a bare CR would be read back as a line feed


# ---------------------------------------------------------------------------
# PDF, from the bytes


@pytest.fixture(scope="module")
def pdf_bytes() -> bytes:
    return to_pdf(sample_drawing(), META)


def test_pdf_images_are_the_data_at_its_own_resolution(pdf_bytes):
    d = sample_drawing()
    images = pdf_images(pdf_bytes)
    assert sorted(i["size"] for i in images) == sorted((r.data.shape[1], r.data.shape[0]) for r in d.rasters)
    by_size = {i["size"]: i for i in images}
    for r in d.rasters:
        img = by_size[(r.data.shape[1], r.data.shape[0])]
        assert np.array_equal(img["rgb"], raster_rgb(r)), r.name  # not smoothed, not requantised
        assert img["interpolate"] is False and not img["smask"]


def test_the_pdf_image_check_can_fail():
    """A map handed to the PDF already zoomed (what a careless backend does) is caught by its size."""
    d = sample_drawing()
    r = d.rasters[0]
    zoomed = Raster(r.x, r.y, r.w, r.h, np.repeat(np.repeat(r.data, 8, 0), 8, 1), r.palette, r.name)
    d.items[d.items.index(r)] = zoomed
    sizes = [i["size"] for i in pdf_images(to_pdf(d, META))]
    assert (96, 96) in sizes and (12, 12) not in sizes


def test_pdf_text_is_text_in_an_embedded_font(pdf_bytes):
    objs = pdf_objects(pdf_bytes)
    fonts = [v for v, _s in objs.values() if isinstance(v, dict) and v.get("Type") == "FontDescriptor"]
    assert fonts and all("FontFile2" in f for f in fonts)  # TrueType embedded (pdf.fonttype 42), not outlines
    names = {f["FontName"].split("+")[-1] for f in fonts}
    assert {"DejaVuSans", "DejaVuSans-Bold"} <= names
    shown = pdf_shown_strings(pdf_bytes)
    assert META["Title"] in shown  # the title is shown by a text operator, one string
    assert "0 · sobel_x" in shown and "base  line" in shown
    assert b"/ToUnicode" in pdf_bytes  # so that it can be searched and copied


def test_pdf_page_size_and_info(pdf_bytes):
    m = re.search(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", pdf_bytes)
    assert (float(m.group(1)), float(m.group(2))) == pytest.approx((260 * 0.72, 180 * 0.72))
    assert b"/CreationDate" not in pdf_bytes  # the same drawing gives the same bytes
    assert to_pdf(sample_drawing(), META) == pdf_bytes


def test_write_vector_is_atomic_and_knows_its_formats(tmp_path):
    d = sample_drawing()
    write_vector(tmp_path / "a.svg", d, "svg", META)
    write_vector(tmp_path / "a.pdf", d, "pdf", META)
    assert (tmp_path / "a.svg").read_text(encoding="utf-8") == to_svg(d, META)
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF-")
    with pytest.raises(ValueError, match="not a vector format"):
        write_vector(tmp_path / "a.eps", d, "eps", META)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pdf", "a.svg"]  # no temporaries left


# ---------------------------------------------------------------------------
# cnnviz inspect: the metadata round-trips exactly


@pytest.mark.parametrize("fmt", ["svg", "pdf"])
def test_inspect_prints_what_the_png_would(tmp_path, fmt):
    from cnnviz.io.pngio import write_png

    meta = dict(META)
    meta["cnnviz.config"] = "name: ünïcode ✓\nx: 'a\r\nb'\n  (paren) \\ back\\slash\n\ttab\n"
    d = sample_drawing()
    write_png(tmp_path / "a.png", *rasterize(d), text=meta)
    write_vector(tmp_path / f"a.{fmt}", d, fmt, meta)
    png, vec = cli("inspect", str(tmp_path / "a.png")), cli("inspect", str(tmp_path / f"a.{fmt}"))
    assert png.exit_code == 0 and vec.exit_code == 0, vec.output
    printed = vec.stdout_bytes.decode("utf-8")  # .output would turn the config's CR LF into LF
    assert printed == png.stdout_bytes.decode("utf-8")
    assert printed.endswith("config:\n" + meta["cnnviz.config"].rstrip() + "\n")
    assert printed.startswith("version: 9.9.9\nimage: camera\nstage: 01_edges\ntitle: 01 edges (conv)")


# ---------------------------------------------------------------------------
# end to end: render(format: svg)


def test_render_as_svg_writes_only_svg_pictures(tmp_path):
    config = cnnviz.load_config({"seed": 0, "input": {"resize": 24},
                                 "stages": [{"type": "conv", "name": "edges", "filters": [{"preset": "sobel_x"}]},
                                            "relu", "global_pool"]})
    config.render["format"] = "svg"
    x = cnnviz.load_image(np.random.default_rng(0).random((24, 24)), config)
    files = cnnviz.render(config, cnnviz.run(config, x), tmp_path, image=x, image_name="noise")
    pictures = [f.name for f in files if f.name != "manifest.json"]
    assert pictures and all(n.endswith(".svg") for n in pictures)
    assert {"00_input.svg", "01_edges.svg", "filters_01_edges.svg", "03_global_pool1.svg",
            "overview.svg"} <= set(pictures)
    assert not list(tmp_path.glob("*.png"))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert sorted(manifest["files"]) == sorted(pictures)
    result = cli("inspect", str(tmp_path / "01_edges.svg"))
    assert result.exit_code == 0
    assert "image: noise\nstage: 01_edges\n" in result.output
    config_text = result.output.split("config:\n", 1)[1]
    assert "name: edges" in config_text and "format: svg" in config_text
    for name in pictures:  # every one well-formed, with its texts as <text>
        root = ET.parse(tmp_path / name).getroot()
        assert root.tag == SVG + "svg" and list(root.iter(SVG + "text"))


# ---------------------------------------------------------------------------
# Looks like the PNG: Chromium for the SVG, poppler for the PDF


def _drawings_of_a_run(tmp_path: Path, monkeypatch) -> dict[str, Drawing]:
    """A small run with a grid, a filter picture and a bar chart: its drawings, by file stem."""
    drawings: dict[str, Drawing] = {}
    real = vector.write_vector

    def keep(path, drawing, fmt, metadata=None):  # type: ignore[no-untyped-def]
        drawings[Path(path).stem] = drawing
        return real(path, drawing, fmt, metadata)

    monkeypatch.setattr(vector, "write_vector", keep)
    config = cnnviz.load_config({"seed": 1, "input": {"color": "gray"},
                                 "stages": [{"type": "conv", "name": "edges",
                                             "filters": [{"preset": "sobel_x"}, {"preset": "log", "size": 9}]},
                                            "relu", {"type": "pool", "size": 4}, "global_pool",
                                            {"type": "dense", "units": 3, "labels": ["cat", "dog", "owl"]}],
                                 "render": {"cmap": "RdBu_r"}})
    config.render["format"] = "svg"
    x = cnnviz.load_image(smooth_maps(40, 56, 1)[:, :, 0] * 0.5 + 0.5, config)
    cnnviz.render(config, cnnviz.run(config, x), tmp_path, image=x, image_name="smooth")
    return drawings


def _rgb(d: Drawing) -> np.ndarray:
    px, pal = rasterize(d)
    return pal[px] if pal is not None else px


def _ink_box(a: np.ndarray) -> tuple[int, int, int, int] | None:
    dark = np.argwhere(a.min(axis=2) < 160)
    return None if not len(dark) else (*dark.min(axis=0), *dark.max(axis=0))  # type: ignore[return-value]


def _compare(d: Drawing, got: np.ndarray, what: str) -> None:
    """Everything but text is the PNG's pixels exactly; each text's ink lies where the PNG's does, within a pixel."""
    from cnnviz.rendering.canvas import text_mask

    want = _rgb(d)
    assert got.shape == want.shape, what
    textless = _rgb(Drawing(d.width, d.height, d.dpi, [i for i in d.items if not isinstance(i, Text)]))
    ink = (textless != want).any(axis=2)
    near_text = ink.copy()
    for dy in range(-2, 3):  # each renderer anti-aliases glyph edges its own way, a pixel or two out
        for dx in range(-2, 3):
            near_text |= np.roll(np.roll(ink, dy, axis=0), dx, axis=1)
    for r in d.rasters:  # maps: nearest-neighbour, nothing smoothed or shifted
        box = (slice(r.y, r.y + r.h), slice(r.x, r.x + r.w))
        same = (got[box] == want[box]).all(axis=2) | near_text[box]
        assert same.all(), f"{what}: {r.name} at {r.x},{r.y}: {(~same).sum()} pixels differ"
    differ = (got != want).any(axis=2) & ~near_text
    assert not differ.any(), f"{what}: {differ.sum()} pixels away from text differ, e.g. {np.argwhere(differ)[:3]}"
    ink_want, ink_got = (255 - want.min(axis=2)).sum(), (255 - got.min(axis=2)).sum()
    assert abs(ink_got / ink_want - 1) < 0.08, what
    checked = 0
    for t in d.items:
        if not isinstance(t, Text) or not t.text.strip():
            continue
        m, ox, oy = text_mask(t.text, t.size, t.bold, t.anchor)
        x0, y0 = round(t.x) + ox - 3, round(t.y) + oy - 3
        x1, y1 = x0 + m.shape[1] + 6, y0 + m.shape[0] + 6
        if x0 < 0 or y0 < 0 or x1 > d.width or y1 > d.height or (textless[y0:y1, x0:x1] != 255).any():
            continue  # on a map, or at the edge: covered by the pixel checks above
        a, b = _ink_box(want[y0:y1, x0:x1]), _ink_box(got[y0:y1, x0:x1])
        if a is None:
            continue
        assert b is not None and max(abs(u - v) for u, v in zip(a, b)) <= 1, f"{what}: {t.text!r} at {a} vs {b}"
        checked += 1
    assert checked, what


@pytest.fixture(scope="module")
def browser():
    required = os.environ.get("CNNVIZ_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            pytest.fail("playwright is not installed and CNNVIZ_REQUIRE_BROWSER=1")
        pytest.skip("playwright is not installed: the SVG is not rasterised")
    if not os.path.exists(CHROMIUM):
        if required:
            pytest.fail(f"{CHROMIUM} is missing and CNNVIZ_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is missing: the SVG is not rasterised")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def test_svg_in_chromium_looks_like_the_png(tmp_path, monkeypatch, browser):
    drawings = _drawings_of_a_run(tmp_path, monkeypatch)
    assert {"01_edges", "filters_01_edges", "05_dense1", "overview"} <= set(drawings)
    drawings["sample"] = sample_drawing()
    write_vector(tmp_path / "sample.svg", drawings["sample"], "svg", META)
    for stem, d in drawings.items():
        page = browser.new_page(viewport={"width": d.width, "height": d.height}, device_scale_factor=1)
        try:
            page.goto((tmp_path / f"{stem}.svg").as_uri())
            shot = page.screenshot(clip={"x": 0, "y": 0, "width": d.width, "height": d.height})
        finally:
            page.close()
        _compare(d, np.asarray(Image.open(io.BytesIO(shot)).convert("RGB")), f"{stem}.svg in Chromium")


def test_pdf_opens_and_looks_like_the_png(tmp_path, monkeypatch):
    """poppler's pdftocairo draws the PDF at 4× the dpi (where it never smooths an image); every 4th pixel is the PNG."""
    tool = shutil.which("pdftocairo")
    if tool is None:
        if os.environ.get("CNNVIZ_REQUIRE_POPPLER") == "1":
            pytest.fail("pdftocairo (poppler-utils) is missing and CNNVIZ_REQUIRE_POPPLER=1")
        pytest.skip("pdftocairo (poppler-utils) is not installed: the PDF is not rasterised")
    drawings = _drawings_of_a_run(tmp_path, monkeypatch)
    drawings = {k: drawings[k] for k in ("00_input", "01_edges", "filters_01_edges", "05_dense1")}
    drawings["sample"] = sample_drawing()
    for stem, d in drawings.items():
        pdf = tmp_path / f"{stem}.pdf"
        write_vector(pdf, d, "pdf", META)
        subprocess.run([tool, "-png", "-singlefile", "-r", str(4 * d.dpi), str(pdf), str(tmp_path / f"{stem}.pdf")],
                       check=True, capture_output=True, timeout=60)
        with Image.open(tmp_path / f"{stem}.pdf.png") as im:
            big = np.asarray(im.convert("RGB"))
        assert abs(big.shape[0] - 4 * d.height) <= 1 and abs(big.shape[1] - 4 * d.width) <= 1
        _compare(d, big[2::4, 2::4][:d.height, :d.width], f"{stem}.pdf in pdftocairo")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(tmp_path / "sample.pdf"), "-"], capture_output=True,
                              check=True, timeout=60).stdout.decode("utf-8")
        for t in sample_drawing().items:
            if isinstance(t, Text):
                assert " ".join(t.text.split()) in text, t.text  # found by a text search, "…" and "θ" included
