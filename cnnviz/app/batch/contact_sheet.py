"""Thumbnails and the ``index.html`` contact sheet of a ``cnnviz batch`` folder.

Layout of a batch folder ``OUT``::

    OUT/index.html                      the contact sheet (this module)
    OUT/<config>/<image>/               what ``cnnviz run`` writes (SPEC §3)
    OUT/<config>/<image>/thumbs/*.png   a thumbnail of the input and of every stage: its
                                        maps themselves (no title, labels or colorbar),
                                        all in one box size (:data:`THUMB_BOX`)
    OUT/<config>/<image>/.cnnviz-batch.json
                                        the batch stamp: written last, after a
                                        render and its thumbnails succeeded
    OUT/.cnnviz-batch-failures.json     the items whose last attempt failed,
                                        with their error lines

:func:`write_index` covers every output folder of ``OUT`` that has a stamp
(so every output a batch ever produced there), and every item whose last
attempt failed (shown with its error, in place of an older output).  The page is plain HTML and CSS with relative links: no
JavaScript, no network fetches; it works when opened from ``file://``.

With few images (at most :data:`GRID_MAX_IMAGES`) the page is one table, a
row per config and a column per image, each cell showing a thumbnail of the
input and of every stage, the same number of thumbnails a line in every
cell, so that the same stage lines up along a row.  With more images, each
config gets its own table, a row per image and a column per stage, so that
the same stage lines up down a column.  Every thumbnail is the same size
(whatever the image's size), its caption says the stage's name, type and
shape, and it links to the full picture.

This module is longer than 600 lines because the thumbnails (their one box
size and tiling) and the page that lays them out in line are one contract,
kept in one place; the thumbnail half could move to its own module.
"""

from __future__ import annotations

import html
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from ...io.pngio import atomic_write
from ...version import __version__

__all__ = [
    "STAMP",
    "FAILURES",
    "THUMBS",
    "THUMB_BOX",
    "THUMB_SIZE",
    "THUMB_GAP",
    "GRID_MAX_IMAGES",
    "LAZY_OVER",
    "ThumbLayout",
    "thumb_layout",
    "thumb_name",
    "thumbnail",
    "resample",
    "make_thumbnails",
    "read_stamp",
    "write_stamp",
    "Cell",
    "collect_cells",
    "index_html",
    "write_index",
]

#: The batch stamp in each output folder.
STAMP = ".cnnviz-batch.json"
#: The failed items of a batch folder: {"<config>/<image>": {"config", "image", "error"}}.
FAILURES = ".cnnviz-batch-failures.json"
#: Thumbnail folder inside each output folder.
THUMBS = "thumbs"
#: Every thumbnail's (width, height), in pixels: one size for every stage of every image.
THUMB_BOX = (160, 120)
#: A thumbnail's width, in pixels.
THUMB_SIZE = THUMB_BOX[0]
#: The frame line between and around a thumbnail's tiles, in pixels.
THUMB_GAP = 1
#: The files that are pictures (``render.format``).
PICTURE_SUFFIXES = (".png", ".svg", ".pdf")
#: Up to this many images the page is one configs × images table.
GRID_MAX_IMAGES = 6
#: About how wide (CSS pixels) the one-table page may grow: how many thumbnails a cell puts on a line.
SHEET_WIDTH = 1200
#: With more thumbnails than this the page asks the browser to load them lazily.
LAZY_OVER = 400


# ---------------------------------------------------------------------------
# Thumbnails and stamps (written by the workers).


def _map_rasters(drawing: Any) -> list[Any]:
    """A drawing's maps: its rasters named ``map <channel>`` (a grid) or ``input`` (the input picture)."""
    return [r for r in getattr(drawing, "rasters", []) if r.name == "input" or r.name.startswith("map ")]


def _rgb(raster: Any) -> np.ndarray:
    """A raster's data as (rows, cols, 3) uint8 colours."""
    data = np.asarray(raster.data)
    if data.ndim == 2:
        pal = np.asarray(raster.palette if raster.palette is not None else np.repeat(np.arange(256)[:, None], 3, 1),
                         np.uint8)
        return pal[data]
    return np.asarray(data[:, :, :3], np.uint8)


def _axis_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights along one axis: the area each output cell covers of each input cell (shrinking),
    or nearest-neighbour (enlarging)."""
    if n_out >= n_in:
        w = np.zeros((n_out, n_in))
        w[np.arange(n_out), np.arange(n_out) * n_in // n_out] = 1.0
        return w
    edges = np.arange(n_out + 1) * (n_in / n_out)
    j = np.arange(n_in)[None, :]
    cover = np.minimum(edges[1:, None], j + 1) - np.maximum(edges[:-1, None], j)
    w = np.clip(cover, 0.0, None)
    return w / w.sum(axis=1, keepdims=True)


def resample(rgb: np.ndarray, h: int, w: int) -> np.ndarray:
    """(rows, cols, 3) colours to (h, w, 3) uint8: area averaging where it shrinks (every row and column
    counts, none is dropped), nearest-neighbour where it enlarges."""
    rows, cols = rgb.shape[:2]
    if (rows, cols) == (h, w):
        return np.asarray(rgb, np.uint8)
    if h >= rows and w >= cols:
        from ...rendering.canvas import nearest

        return np.asarray(nearest(rgb, h, w), np.uint8)
    wr, wc = _axis_weights(rows, h), _axis_weights(cols, w)
    acc = np.zeros((h, cols * 3))
    for r0 in range(0, rows, 256):  # a band of rows at a time: a 4096² map needs no 400 MB float copy
        band = rgb[r0:r0 + 256].reshape(-1, cols * 3).astype(np.float64)
        acc += wr[:, r0:r0 + 256] @ band
    out = np.einsum("ikc,lk->ilc", acc.reshape(h, cols, 3), wc)
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class ThumbLayout:
    """Where a thumbnail's tiles go: ``cols`` × ``rows`` tiles of ``tile_w`` × ``tile_h`` pixels, the first
    one's top-left at (``left``, ``top``), one pixel of frame between and around them."""

    cols: int
    rows: int
    tile_w: int
    tile_h: int
    left: int
    top: int

    def box(self, j: int) -> tuple[int, int, int, int]:
        """Tile ``j``'s (top, left, bottom, right) in the thumbnail (row by row)."""
        r, c = divmod(j, self.cols)
        top = self.top + r * (self.tile_h + THUMB_GAP)
        left = self.left + c * (self.tile_w + THUMB_GAP)
        return top, left, top + self.tile_h, left + self.tile_w


def thumb_layout(n: int, h: int, w: int, box: tuple[int, int] = THUMB_BOX) -> ThumbLayout:
    """The tiling of ``n`` maps of ``h`` × ``w`` that shows them largest in ``box`` (width, height).

    Every column count is tried; the maps keep their aspect ratio, a
    :data:`THUMB_GAP` pixel frame line runs between and around the tiles,
    and the whole is centred in the box.
    """
    bw, bh = box
    g = THUMB_GAP
    best: tuple[float, int] = (-1.0, 1)
    for cols in range(1, max(1, n) + 1):
        rows = -(-n // cols)
        s = min((bw - (cols + 1) * g) / (cols * w), (bh - (rows + 1) * g) / (rows * h))
        if s > best[0] + 1e-12:
            best = (s, cols)
    s, cols = best
    rows = -(-n // cols)
    tw = max(1, min(int(w * s + 1e-9), (bw - (cols + 1) * g) // cols))
    th = max(1, min(int(h * s + 1e-9), (bh - (rows + 1) * g) // rows))
    mw, mh = cols * tw + (cols + 1) * g, rows * th + (rows + 1) * g
    return ThumbLayout(cols, rows, tw, th, (bw - mw) // 2 + g, (bh - mh) // 2 + g)


def _grid_thumbnail(maps: Sequence[Any], box: tuple[int, int]) -> np.ndarray:
    """The maps themselves, tiled and framed, centred in a white ``box``: no text."""
    from ...rendering.canvas import FRAME_COLOUR, WHITE_COLOUR

    bw, bh = box
    canvas = np.empty((bh, bw, 3), np.uint8)
    canvas[:] = WHITE_COLOUR
    h = max(int(r.data.shape[0]) for r in maps)
    w = max(int(r.data.shape[1]) for r in maps)
    lay = thumb_layout(len(maps), h, w, box)
    g = THUMB_GAP
    for j, r in enumerate(maps):
        top, left, bottom, right = lay.box(j)
        canvas[top - g:bottom + g, left - g:right + g] = FRAME_COLOUR
        canvas[top:bottom, left:right] = resample(_rgb(r), bottom - top, right - left)
    return canvas


def _picture_thumbnail(drawing: Any, box: tuple[int, int]) -> np.ndarray:
    """A picture with no maps (a bar chart) without its text, cropped to what is drawn and fitted into ``box``."""
    from ...rendering.canvas import WHITE_COLOUR, Drawing, Text, rasterize

    bare = Drawing(drawing.width, drawing.height, drawing.dpi,
                   [i for i in drawing.items if not isinstance(i, Text)])
    pixels, palette = rasterize(bare)
    rgb = palette[pixels] if palette is not None else pixels
    bw, bh = box
    canvas = np.empty((bh, bw, 3), np.uint8)
    canvas[:] = WHITE_COLOUR
    ink = np.any(rgb != np.array(WHITE_COLOUR, np.uint8), axis=2)
    if not ink.any():
        return canvas
    ys, xs = np.nonzero(ink)
    rgb = rgb[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    rows, cols = rgb.shape[:2]
    pad = 2 * THUMB_GAP
    s = min((bw - 2 * pad) / cols, (bh - 2 * pad) / rows)
    # a bar's thickness says nothing: a flat chart (few bars, 750 px wide) may be up to 3× taller
    t = min((bh - 2 * pad) / rows, 3 * s)
    w, h = max(1, min(bw, round(cols * s))), max(1, min(bh, round(rows * t)))
    top, left = (bh - h) // 2, (bw - w) // 2
    canvas[top:top + h, left:left + w] = resample(rgb, h, w)
    return canvas


def thumbnail(drawing: Any, box: tuple[int, int] = THUMB_BOX) -> np.ndarray:
    """A picture's thumbnail, (height, width, 3) uint8 of exactly ``box`` (width, height).

    A grid (or the input) is its maps themselves — the drawing's map rasters
    at their own resolution, tiled with a one-pixel frame, shrunk by area
    averaging of their colours or enlarged nearest-neighbour, centred on
    white — never its title, labels or colorbar.  A picture without maps (a
    bar chart) is its bars and axes, without text, shrunk to fit.
    """
    maps = _map_rasters(drawing)
    return _grid_thumbnail(maps, box) if maps else _picture_thumbnail(drawing, box)


def _pictures(manifest: Mapping[str, Any]) -> list[str]:
    """The input and stage grid pictures of a manifest, in order (the ones that get thumbnails)."""
    names: list[str] = []
    names += [f for f in (manifest.get("input") or {}).get("files") or [] if _is_picture(f)]
    for st in manifest.get("stages") or []:
        files = [f for f in st.get("files") or [] if _is_picture(f) and not f.startswith("filters_")]
        names += files[:1]
    return [n for n in names if "/" not in n and "\\" not in n]


def _is_picture(name: Any) -> bool:
    return isinstance(name, str) and name.lower().endswith(PICTURE_SUFFIXES)


def thumb_name(picture: str) -> str:
    """The thumbnail file of a picture file: ``01_edges.png`` (also for ``01_edges.svg``)."""
    return picture.rsplit(".", 1)[0] + ".png"


def make_thumbnails(outdir: str | os.PathLike[str], drawings: Mapping[str, Any],
                    box: tuple[int, int] = THUMB_BOX) -> dict[str, list[int]]:
    """Write ``thumbs/<stem>.png`` for the input and every stage picture listed in ``outdir/manifest.json``.

    ``drawings`` are the pictures as drawn (:attr:`~cnnviz.app.session.SessionResult.drawings`, by file
    stem).  Every thumbnail is exactly ``box`` (width, height) pixels, whatever
    the image's size, so that a stage's thumbnails line up across images
    (:func:`thumbnail`); each is written atomically, and thumbnails of
    pictures no longer listed are removed.  A picture without a drawing gets
    no thumbnail.

    Returns
    -------
    dict
        Thumbnail file name -> ``[width, height]``.
    """
    from ...io.pngio import write_png

    out = Path(outdir)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    folder = out / THUMBS
    folder.mkdir(exist_ok=True)
    sizes: dict[str, list[int]] = {}
    for name in _pictures(manifest):
        stem = name.rsplit(".", 1)[0]
        drawing = drawings.get(stem)
        if drawing is None:
            continue
        thumb = thumb_name(name)
        write_png(folder / thumb, thumbnail(drawing, box), None)
        sizes[thumb] = [int(box[0]), int(box[1])]
    for old in folder.glob("*.png"):
        if old.name not in sizes:
            old.unlink(missing_ok=True)
    return sizes


def write_stamp(outdir: str | os.PathLike[str], stamp: Mapping[str, Any]) -> Path:
    """Write the batch stamp of an output folder, atomically."""
    path = Path(outdir) / STAMP
    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(stamp, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return path


def read_stamp(outdir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The batch stamp of an output folder, or None when it has none (or an unreadable one)."""
    try:
        data = json.loads((Path(outdir) / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------------------
# What the page shows.


@dataclass
class Picture:
    """One thumbnail: the full picture, its thumbnail and caption (paths relative to OUT)."""

    href: str
    thumb: str | None
    size: tuple[int, int] | None
    heading: str
    detail: str
    extra: list[tuple[str, str]] = field(default_factory=list)  # (label, href)
    tooltip: str = ""


@dataclass
class Cell:
    """One config × image: its pictures, or the error that stopped it."""

    config: str
    image: str
    pictures: list[Picture] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    config_source: str = ""
    image_source: str = ""


def _rel(*parts: str) -> str:
    return "/".join(parts)


def _shape(shape: Any) -> str:
    try:
        return "×".join(str(int(x)) for x in shape)
    except (TypeError, ValueError):
        return ""


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, (int, float)) else "?"


def _cell_from_folder(out: Path, config: str, image: str, stamp: Mapping[str, Any]) -> Cell:
    folder = out / config / image
    cell = Cell(config, image, config_source=str((stamp.get("config") or {}).get("display") or ""),
                image_source=str((stamp.get("image") or {}).get("display") or ""))
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        cell.error = f"cannot read {config}/{image}/manifest.json: {exc}"
        return cell
    thumbs: Mapping[str, Any] = stamp.get("thumbs") or {}

    def picture(name: str, heading: str, detail: str, tooltip: str = "") -> Picture:
        thumb = thumb_name(name)
        size = thumbs.get(thumb)
        has = size is not None and (folder / THUMBS / thumb).is_file()
        return Picture(
            href=_rel(config, image, name),
            thumb=_rel(config, image, THUMBS, thumb) if has else None,
            size=(int(size[0]), int(size[1])) if has and isinstance(size, list) and len(size) == 2 else None,
            heading=heading, detail=detail, tooltip=tooltip,
        )

    shape = (manifest.get("image") or {}).get("shape")
    for name in (manifest.get("input") or {}).get("files") or []:
        if _is_picture(name):
            cell.pictures.append(picture(name, "input", _shape(shape)))
    for st in manifest.get("stages") or []:
        files = [f for f in st.get("files") or [] if isinstance(f, str)]
        grids = [f for f in files if _is_picture(f) and not f.startswith("filters_")]
        if not grids:
            continue
        idx = st.get("index")
        heading = f"{idx:02d} {st.get('name')}" if isinstance(idx, int) else str(st.get("name"))
        tip = f"{st.get('type')} · {_shape(st.get('output_shape'))} · min {_fmt(st.get('min'))} · " \
              f"max {_fmt(st.get('max'))}"
        if "color_range" in st:
            tip += f" · colour scale {_fmt(st['color_range'][0])} … {_fmt(st['color_range'][1])}"
        pic = picture(grids[0], heading, f"{st.get('type')} · {_shape(st.get('output_shape'))}", tip)
        pic.extra = [("filters", _rel(config, image, f)) for f in files if f.startswith("filters_")]
        cell.pictures.append(pic)
    for name, label in (("overview.png", "overview"), ("activations.npz", "arrays")):
        if name in (manifest.get("files") or []):
            cell.links.append((label, _rel(config, image, name)))
    cell.links.append(("manifest", _rel(config, image, "manifest.json")))
    return cell


def collect_cells(outdir: str | os.PathLike[str]) -> dict[tuple[str, str], Cell]:
    """Every output folder ``OUT/<config>/<image>/`` with a batch stamp, as cells."""
    out = Path(outdir)
    cells: dict[tuple[str, str], Cell] = {}
    if not out.is_dir():
        return cells
    for stamp_path in sorted(out.glob(f"*/*/{STAMP}")):
        folder = stamp_path.parent
        stamp = read_stamp(folder)
        if stamp is None:
            continue
        config, image = folder.parent.name, folder.name
        cells[(config, image)] = _cell_from_folder(out, config, image, stamp)
    return cells


# ---------------------------------------------------------------------------
# The page.

_CSS = """
:root { --ink: #1f1f1f; --soft: #5f5f5f; --line: #d8d8d8; --bad: #b3261e; --bg: #fafafa; }
* { box-sizing: border-box; }
body { margin: 1.5rem; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); background: #fff; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; }
p.meta { color: var(--soft); margin: 0 0 1rem; }
nav { margin: 0 0 1rem; color: var(--soft); }
nav a { margin-right: .75rem; }
a { color: #1a5fb4; }
ul.errors { color: var(--bad); padding-left: 1.2rem; }
table.sheet { border-collapse: collapse; }
table.sheet th, table.sheet td { border: 1px solid var(--line); padding: .5rem; vertical-align: top; text-align: left; }
table.sheet thead th { background: var(--bg); position: sticky; top: 0; z-index: 1; }
table.sheet tbody th { background: var(--bg); min-width: 8rem; }
th .source, td .source { display: block; font-weight: normal; color: var(--soft); font-size: .8rem;
                         word-break: break-all; }
.stages { display: grid; grid-template-columns: repeat(var(--per-row, 2), var(--thumb-w));
          gap: .5rem .75rem; align-items: start; }
figure { margin: 0; width: var(--thumb-w); }
figure img, figure .missing { display: block; width: var(--thumb-w); height: var(--thumb-h);
                              object-fit: contain; background: #fff; }
figure .missing { display: flex; align-items: center; justify-content: center; border: 1px dashed var(--line);
                  color: var(--soft); font-size: .75rem; }
figcaption { font-size: .75rem; color: var(--soft); margin-top: .2rem; }
figcaption span { display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
figcaption b { color: var(--ink); font-weight: 600; }
.links { font-size: .8rem; margin-bottom: .4rem; }
.links a { margin-right: .5rem; }
td.failed { background: #fdf1f0; }
td.failed .error { color: var(--bad); font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .8rem;
                   white-space: pre-wrap; word-break: break-word; max-width: 36rem; margin: 0; }
td.empty { color: var(--soft); text-align: center; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _u(path: str) -> str:
    return quote(path, safe="/")


def _figure(p: Picture, lazy: bool) -> str:
    if p.thumb is not None:
        w, h = p.size or THUMB_BOX
        load = ' loading="lazy"' if lazy else ""
        img = f'<img src="{_u(p.thumb)}" alt="{_e(p.heading)}" width="{w}" height="{h}"{load}>'
    else:
        img = '<span class="missing">no thumbnail</span>'
    title = f' title="{_e(p.tooltip)}"' if p.tooltip else ""
    extra = "".join(f' · <a href="{_u(h)}">{_e(lbl)}</a>' for lbl, h in p.extra)
    caption = f"{p.heading} · {p.detail}" + "".join(f" · {lbl}" for lbl, _ in p.extra)
    return (f'<figure><a href="{_u(p.href)}"{title}>{img}</a><figcaption title="{_e(caption)}">'
            f"<span><b>{_e(p.heading)}</b></span><span>{_e(p.detail)}{extra}</span></figcaption></figure>")


def _cell_html(cell: Cell | None, lazy: bool, *, with_links: bool = True) -> str:
    if cell is None:
        return '<td class="empty">—</td>'
    if cell.error is not None:
        return f'<td class="failed"><p class="error">{_e(cell.error)}</p></td>'
    links = ""
    if with_links and cell.links:
        links = '<div class="links">' + "".join(f'<a href="{_u(h)}">{_e(lbl)}</a>' for lbl, h in cell.links) \
            + "</div>"
    figs = "".join(_figure(p, lazy) for p in cell.pictures)
    return f'<td class="ok">{links}<div class="stages">{figs}</div></td>'


def _anchor(prefix: str, name: str) -> str:
    return prefix + quote(name, safe="")


def index_html(
    cells: Mapping[tuple[str, str], Cell],
    configs: Sequence[str],
    images: Sequence[str],
    *,
    errors: Iterable[str] = (),
    sources: Mapping[str, Mapping[str, str]] | None = None,
    title: str = "cnnviz batch",
    generated: str | None = None,
) -> str:
    """The contact sheet page for ``cells``, configs and images in the given order.

    ``sources`` maps ``"config"`` and ``"image"`` to {name: path as given},
    shown under the row and column names (default: from the stamps).
    """
    n_pics = sum(len(c.pictures) for c in cells.values())
    lazy = n_pics > LAZY_OVER
    # one number of thumbnails a line in every cell, so that a stage sits at the same place in each
    most = max((len(c.pictures) for c in cells.values() if c.error is None), default=1)
    per_row = max(1, min(most, (SHEET_WIDTH // max(1, len(images)) - 24) // (THUMB_BOX[0] + 12)))
    sizes = f":root {{ --thumb-w: {THUMB_BOX[0]}px; --thumb-h: {THUMB_BOX[1]}px; --per-row: {per_row}; }}"
    ok = sum(1 for c in cells.values() if c.error is None)
    bad = sum(1 for c in cells.values() if c.error is not None)
    generated = generated or time.strftime("%Y-%m-%d %H:%M:%S")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{sizes}{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{len(configs)} config{"s" if len(configs) != 1 else ""} × {len(images)} '
        f'image{"s" if len(images) != 1 else ""} · {ok} rendered · {bad} failed · '
        f"cnnviz {_e(__version__)} · {_e(generated)}. Click a thumbnail for the full picture.</p>",
    ]
    errs = list(errors)
    if errs:
        parts.append('<ul class="errors">' + "".join(f"<li>{_e(x)}</li>" for x in errs) + "</ul>")

    known: dict[str, dict[str, str]] = {"config": {}, "image": {}}
    for (c, i), cell in cells.items():
        if cell.config_source:
            known["config"].setdefault(c, cell.config_source)
        if cell.image_source:
            known["image"].setdefault(i, cell.image_source)
    for which, names in (sources or {}).items():
        known.setdefault(which, {}).update(names)

    def source(key: str, which: str) -> str:
        s = known[which].get(key, "")
        return "" if s == key else s

    def src_span(text: str) -> str:
        return f'<span class="source">{_e(text)}</span>' if text else ""

    if len(images) <= GRID_MAX_IMAGES:
        parts.append('<table class="sheet grid">')
        parts.append("<thead><tr><th>config \\ image</th>" + "".join(
            f'<th scope="col">{_e(i)}{src_span(source(i, "image"))}</th>'
            for i in images) + "</tr></thead>")
        parts.append("<tbody>")
        for c in configs:
            row = [f'<tr id="{_e(_anchor("config-", c))}"><th scope="row">{_e(c)}'
                   f'{src_span(source(c, "config"))}</th>']
            row += [_cell_html(cells.get((c, i)), lazy) for i in images]
            row.append("</tr>")
            parts.append("".join(row))
        parts.append("</tbody></table>")
    else:
        parts.append("<nav>configs: " + "".join(
            f'<a href="#{_e(_anchor("config-", c))}">{_e(c)}</a>' for c in configs) + "</nav>")
        for c in configs:
            parts.append(f'<h2 id="{_e(_anchor("config-", c))}">{_e(c)}</h2>')
            parts.append(f'<p class="meta">{_e(source(c, "config"))}</p>' if source(c, "config") else "")
            rows = [(i, cells[(c, i)]) for i in images if (c, i) in cells]
            columns = list(dict.fromkeys(p.heading for _, cell in rows if cell.error is None for p in cell.pictures))
            parts.append('<table class="sheet rows"><thead><tr><th scope="col">image</th>' + "".join(
                f'<th scope="col">{_e(h)}</th>' for h in columns) + "</tr></thead><tbody>")
            for i, cell in rows:
                head = f'<th scope="row">{_e(i)}{src_span(source(i, "image"))}'
                if cell.error is None and cell.links:
                    head += '<div class="links">' + "".join(
                        f'<a href="{_u(h)}">{_e(lbl)}</a>' for lbl, h in cell.links) + "</div>"
                head += "</th>"
                if cell.error is not None:
                    body = f'<td class="failed" colspan="{max(1, len(columns))}"><p class="error">{_e(cell.error)}</p></td>'
                else:
                    by_heading = {p.heading: p for p in cell.pictures}
                    body = "".join(f'<td class="ok">{_figure(by_heading[h], lazy)}</td>' if h in by_heading
                                   else '<td class="empty">—</td>' for h in columns)
                parts.append(f"<tr>{head}{body}</tr>")
            parts.append("</tbody></table>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _order(first: Sequence[str], found: Iterable[str]) -> list[str]:
    seen = dict.fromkeys(first)
    for x in sorted(set(found)):
        seen.setdefault(x)
    return list(seen)


def _update_failures(out: Path, failures: Mapping[tuple[str, str], str],
                     succeeded: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Merge this run into ``OUT/.cnnviz-batch-failures.json``; return every failed item."""
    path = out / FAILURES
    known: dict[tuple[str, str], str] = {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        for entry in data.values() if isinstance(data, dict) else []:
            if isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in ("config", "image", "error")):
                known[(entry["config"], entry["image"])] = entry["error"]
    except (OSError, ValueError, UnicodeDecodeError):
        pass
    for key in succeeded:
        known.pop(key, None)
    known.update(failures)
    if known or path.exists():
        with atomic_write(path, "w", encoding="utf-8") as f:
            json.dump({f"{c}/{i}": {"config": c, "image": i, "error": e} for (c, i), e in sorted(known.items())},
                      f, indent=1, ensure_ascii=False)
            f.write("\n")
    return known


def write_index(
    outdir: str | os.PathLike[str],
    *,
    failures: Mapping[tuple[str, str], str] | None = None,
    succeeded: Iterable[tuple[str, str]] = (),
    configs: Sequence[str] = (),
    images: Sequence[str] = (),
    errors: Iterable[str] = (),
    sources: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write ``OUT/index.html`` (atomically) and return its path.

    Parameters
    ----------
    outdir : path
        The batch folder; every ``OUT/<config>/<image>/`` with a stamp is shown.
    failures : mapping (config, image) -> error line, optional
        The current run's failed items.  They are remembered (in
        :data:`FAILURES`) until the item is rendered or found up to date
        (``succeeded``), and shown as error cells in place of an older
        output of the same config and image.
    succeeded : iterable of (config, image)
        The current run's items that were rendered or are up to date.
    configs, images : sequences of str
        The current run's order; folders found only on disk follow, sorted.
    errors : iterable of str
        Lines shown at the top (patterns that matched nothing, ...).
    sources : mapping, optional
        ``{"config": {name: path}, "image": {label: path}}`` of the current run.
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    cells = collect_cells(out)
    for (c, i), message in _update_failures(out, failures or {}, succeeded).items():
        cells[(c, i)] = Cell(c, i, error=message)
    config_order = _order(configs, (c for c, _ in cells))
    image_order = _order(images, (i for _, i in cells))
    page = index_html(cells, config_order, image_order, errors=errors, sources=sources)
    path = out / "index.html"
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path
