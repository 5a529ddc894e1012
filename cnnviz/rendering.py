"""Write a run's pictures, manifest and arrays (SPEC §3).

:func:`render` writes, into one output folder:

* ``00_input.png`` and ``NN_<stage-name>.png`` per stage: every map of the
  stage colormapped and tiled into one picture (or a bar chart for a
  ``(1, 1, N)`` output), with a title, tile indices and, when the scale is
  shared, a colorbar;
* ``filters_NN_<stage-name>.png`` per conv stage (:mod:`cnnviz.figures`);
* ``overview.png``: the input and every stage, a row each;
* ``manifest.json`` and, on request, ``activations.npz``.

The grids are fast: the maps are scaled to 8-bit colour indices and tiled
into one array that is written as a palette ('P' mode) PNG whose palette is
the colormap's colours, with the text drawn by Pillow in the margins.  No
matplotlib figure is made for a grid, and ``import cnnviz.rendering`` does not
import matplotlib (colormaps are looked up on first use).

Palette layout of a grid PNG: indices ``0 .. LEVELS-1`` (``LEVELS = 247``,
odd so that the middle index is exactly the colormap's centre) are the
colormap sampled at ``linspace(0, 1, LEVELS)``; the last nine indices are
the page's own colours (background, text, frames).

The building blocks (:func:`value_limits`, :func:`normalize_maps`,
:func:`select_maps`, :func:`grid_shape`, :func:`auto_scale`,
:func:`compose_grid`, :func:`render_grid`, ...) are public so that tests and
other front ends can use them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .config import Config, load_config
from .pipeline import Layer
from .pngio import TEXT_PREFIX, atomic_write, write_png

__all__ = [
    "LEVELS",
    "DIVERGING",
    "is_diverging",
    "resolve_center",
    "colormap_colors",
    "grid_palette",
    "select_maps",
    "value_limits",
    "normalize_maps",
    "grid_shape",
    "auto_scale",
    "compose_grid",
    "GridLayout",
    "grid_layout",
    "GridPicture",
    "render_grid",
    "grid_title",
    "describe_stage",
    "is_vector",
    "stage_labels",
    "stage_file_name",
    "nice_ticks",
    "png_text",
    "OverviewRow",
    "render_overview",
    "stage_grid",
    "run_range",
    "fixed_limits",
    "build_manifest",
    "manifest_json",
    "render",
]

# ---------------------------------------------------------------------------
# Colours.

#: Colormap levels in a grid's palette (odd: index ``LEVELS // 2`` is the centre).
LEVELS = 247
#: Palette index of the page background (white).
BACKGROUND = LEVELS
#: Palette indices of dark text, from faint to full (anti-aliasing steps).
INK = (LEVELS + 1, LEVELS + 2, LEVELS + 3, LEVELS + 4)
#: Palette indices of grey (secondary) text, from faint to full.
SOFT = (LEVELS + 5, LEVELS + 6, LEVELS + 7)
#: Palette index of tile frames.
FRAME = LEVELS + 8

_WHITE = np.array([255, 255, 255])
_INK_RGB = np.array([0x1F, 0x1F, 0x1F])
_SOFT_RGB = np.array([0x5F, 0x5F, 0x5F])
_FRAME_RGB = np.array([0xC8, 0xC8, 0xC8])

#: Matplotlib's diverging colormaps (and a few registered by seaborn/cmocean);
#: a name ending in ``_r`` is diverging when its base name is.
DIVERGING = frozenset({
    "PiYG", "PRGn", "BrBG", "PuOr", "RdGy", "RdBu", "RdYlBu", "RdYlGn", "Spectral",
    "coolwarm", "bwr", "seismic", "berlin", "managua", "vanimo",
    "icefire", "vlag", "cmo.balance", "cmo.delta", "cmo.curl", "cmo.diff", "cmo.tarn",
})


def is_diverging(cmap: str) -> bool:
    """Whether ``cmap`` is a diverging colormap (its centre means zero).

    >>> is_diverging("RdBu_r"), is_diverging("viridis")
    (True, False)
    """
    base = cmap[:-2] if cmap.endswith("_r") else cmap
    return base in DIVERGING


def resolve_center(center: str, cmap: str) -> bool:
    """``center`` (``auto`` | ``zero`` | ``none``) -> whether maps are centred on zero.

    ``auto`` centres when ``cmap`` is diverging.  Centred means zero maps to the
    colormap's middle colour, for every map (a non-negative map then uses the
    upper half only), so colours mean the same thing in every tile.
    """
    if center == "zero":
        return True
    if center == "none":
        return False
    return is_diverging(cmap)


@lru_cache(maxsize=64)
def _colormap_colors(cmap: str, n: int) -> np.ndarray:
    from matplotlib import colormaps

    rgba = colormaps[cmap](np.linspace(0.0, 1.0, n))
    out = np.round(rgba[:, :3] * 255).astype(np.uint8)
    out.flags.writeable = False
    return out


def colormap_colors(cmap: str, n: int = LEVELS) -> np.ndarray:
    """The matplotlib colormap ``cmap`` sampled at ``linspace(0, 1, n)``: (n, 3) uint8."""
    return _colormap_colors(cmap, n)


def _ramp(rgb: np.ndarray, steps: int) -> np.ndarray:
    a = np.arange(1, steps + 1)[:, None] / steps
    return np.round(_WHITE * (1 - a) + rgb * a)


def grid_palette(cmap: str) -> np.ndarray:
    """The palette of a grid PNG: (256, 3) uint8.

    Rows ``0 .. LEVELS-1`` are :func:`colormap_colors` ``(cmap, LEVELS)``, then
    the background, the text ramps and the frame colour.
    """
    return np.concatenate([
        colormap_colors(cmap, LEVELS),
        _WHITE[None],
        _ramp(_INK_RGB, len(INK)),
        _ramp(_SOFT_RGB, len(SOFT)),
        _FRAME_RGB[None],
    ]).astype(np.uint8)


# ---------------------------------------------------------------------------
# Selecting and scaling maps.


def select_maps(maps: np.ndarray, max_maps: int) -> np.ndarray:
    """Which maps to show when a stage has more than ``max_maps``.

    Parameters
    ----------
    maps : ndarray (H, W, N)
    max_maps : int

    Returns
    -------
    ndarray of int, shape (min(N, max_maps),)
        Channel indices in ascending (original) order: all of them, or the
        ``max_maps`` with the largest energy (sum of squares); ties go to the
        lower index.
    """
    n = maps.shape[2]
    if n <= max_maps:
        return np.arange(n)
    energy = np.einsum("hwn,hwn->n", maps, maps, dtype=np.float64)
    energy = np.nan_to_num(energy, nan=-1.0, posinf=np.finfo(np.float64).max)
    top = np.argsort(-energy, kind="stable")[:max_maps]
    return np.sort(top)


def _finite_range(a: np.ndarray, axis: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """min and max over ``axis``, ignoring NaN and inf (0, 0 where nothing is finite)."""
    if axis == (0, 1) and a.ndim == 3 and a.flags.c_contiguous:
        a2 = a.reshape(-1, a.shape[2])  # reduce over rows of a 2-D view: one pass, vectorised over maps
        lo, hi = a2.min(axis=0), a2.max(axis=0)
    else:
        lo, hi = np.min(a, axis=axis), np.max(a, axis=axis)
    if np.isfinite(lo).all() and np.isfinite(hi).all():  # NaN propagates, inf shows: nothing to mask
        return lo, hi
    import warnings

    f = np.where(np.isfinite(a), a, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        lo, hi = np.nanmin(f, axis=axis), np.nanmax(f, axis=axis)
    return np.nan_to_num(lo), np.nan_to_num(hi)


def value_limits(
    maps: np.ndarray,
    normalize: str = "map",
    *,
    center: bool = False,
    global_range: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The value each map's lowest and highest colour stands for.

    Parameters
    ----------
    maps : ndarray (H, W, N)
    normalize : {'map', 'layer', 'global'}
        ``map``: each map its own min..max; ``layer``: one min..max over all N
        maps; ``global``: ``global_range`` (the min..max over the whole run).
    center : bool
        Make every range symmetric around zero (``-m .. m``, ``m`` the largest
        magnitude), so that 0 maps to the colormap's middle colour.
    global_range : (lo, hi), required for ``global``

    Returns
    -------
    lo, hi : ndarray (N,) float64
        Equal across maps for ``layer`` and ``global``.  Non-finite values
        are ignored.
    """
    n = maps.shape[2]
    if normalize == "map":
        lo, hi = _finite_range(maps, axis=(0, 1))
        lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    else:
        a: Any
        b: Any
        if normalize == "layer":
            a, b = _finite_range(maps)
        elif normalize == "global":
            if global_range is None:
                raise ValueError("normalize='global' needs global_range")
            a, b = global_range
        else:
            raise ValueError(f"normalize must be map, layer or global, not {normalize!r}")
        lo, hi = np.full(n, float(a)), np.full(n, float(b))
    if center:
        m = np.maximum(np.abs(lo), np.abs(hi))
        lo, hi = -m, m
    return lo, hi


def normalize_maps(
    maps: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float, levels: int = LEVELS
) -> np.ndarray:
    """Scale maps to colour indices.

    Parameters
    ----------
    maps : ndarray (H, W, N)
    lo, hi : float or ndarray (N,)
        Values of the lowest and highest colour, per map.
    levels : int
        Number of colours.

    Returns
    -------
    ndarray (H, W, N) uint8
        ``round((v - lo) / (hi - lo) * (levels - 1))`` clipped to
        ``0 .. levels-1``.  A map with ``hi == lo`` gets index 0 (as
        matplotlib's ``Normalize`` does); NaN gets 0.
    """
    lo = np.asarray(lo, np.float64)
    hi = np.asarray(hi, np.float64)
    span = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(span > 0, (levels - 1) / np.where(span > 0, span, 1.0), 0.0)
    dtype = np.float32 if maps.dtype == np.float32 else np.float64
    lo_d, k_d = lo.astype(dtype), k.astype(dtype)
    out = np.empty(maps.shape, np.uint8)
    h = maps.shape[0]
    # a few MB of rows at a time: no float temporary the size of the whole stage
    rows = max(1, (4 << 20) // max(1, maps[:1].size * np.dtype(dtype).itemsize))
    for r0 in range(0, h, rows):
        x = maps[r0:r0 + rows] - lo_d
        x *= k_d
        x += dtype(0.5)
        np.clip(x, 0, levels - 1, out=x)
        with np.errstate(invalid="ignore"):
            out[r0:r0 + rows] = x
    return out


# ---------------------------------------------------------------------------
# Layout.


def grid_shape(n: int, columns: int | None = None, aspect: float = 1.0) -> tuple[int, int]:
    """Rows and columns for ``n`` tiles.

    Parameters
    ----------
    n : int
    columns : int, optional
        Fixed column count (at most ``n``); default near-square.
    aspect : float
        A tile's width / height.  The default picks the column count whose
        grid is closest to square in pixels, counting an unfilled last row
        against it (cost ``|ln(grid aspect)| + 0.5 · empty fraction of the
        last row``), so 64 square tiles give 8 × 8 and 5 give 2 × 3.

    Returns
    -------
    rows, cols : int
        ``rows * cols >= n``; no row is empty.  Given ``columns`` are kept.

    >>> grid_shape(64), grid_shape(5), grid_shape(3), grid_shape(12, columns=5)
    ((8, 8), (2, 3), (2, 2), (3, 5))
    """
    if n <= 0:
        return 0, 0
    if columns:
        cols = min(columns, n)
        return math.ceil(n / cols), cols
    else:
        aspect = max(aspect, 1e-6)
        ideal = math.sqrt(n / aspect)
        best_cost, cols = math.inf, 1
        for c in range(max(1, math.floor(ideal / 2)), min(n, math.ceil(ideal * 2) + 1) + 1):
            r = math.ceil(n / c)
            c2 = math.ceil(n / r)
            empty = (r * c2 - n) / c2
            cost = abs(math.log(c2 * aspect / r)) + 0.5 * empty
            if cost < best_cost - 1e-12:
                best_cost, cols = cost, c2
    rows = math.ceil(n / cols)
    cols = math.ceil(n / rows)
    return rows, cols


#: Auto scale makes a tile's shorter side at least this many pixels ...
MIN_TILE = 96
#: ... without making its longer side more than this (unless no zoom at all) ...
MAX_TILE = 512
#: ... nor a grid side longer than this.
MAX_GRID = 4096
#: A grid of few small maps is zoomed until its longer side is at least this.
MIN_GRID = 360


def auto_scale(h: int, w: int, rows: int = 1, cols: int = 1) -> int:
    """Integer zoom for (h, w) maps tiled ``rows`` × ``cols``.

    The smallest factor that makes a tile's shorter side at least
    ``MIN_TILE`` (96) pixels and the grid's longer side at least ``MIN_GRID``
    (360), limited so that a tile's longer side stays within ``MAX_TILE``
    (512) and the grid within ``MAX_GRID`` (4096) pixels; at least 1 (maps
    are never shrunk, so never blurred).

    >>> auto_scale(12, 12, 8, 8), auto_scale(298, 449, 1, 2), auto_scale(33, 52)
    (8, 1, 7)
    """
    s = max(1, math.ceil(MIN_TILE / max(1, min(h, w))),
            math.ceil(MIN_GRID / max(1, rows * h, cols * w)))
    s = min(s, max(1, MAX_TILE // max(h, w)))
    s = min(s, max(1, MAX_GRID // max(rows * h, cols * w, 1)))
    return max(1, s)


def compose_grid(
    tiles: np.ndarray,
    rows: int,
    cols: int,
    *,
    scale: int = 1,
    gap: int = 0,
    header: int = 0,
    fill: int = BACKGROUND,
) -> np.ndarray:
    """Tile maps of colour indices into one array.

    Parameters
    ----------
    tiles : ndarray (h, w, n) uint8, n <= rows * cols
        Tile ``i`` goes to row ``i // cols``, column ``i % cols``.
    rows, cols : int
    scale : int
        Nearest-neighbour zoom: each pixel becomes a ``scale`` × ``scale`` block.
    gap : int
        Pixels between tiles.
    header : int
        Pixels above each tile (for its label).
    fill : int
        Index of the empty parts.

    Returns
    -------
    ndarray uint8, shape (rows * (header + h*scale) + (rows-1)*gap,
    cols * w*scale + (cols-1)*gap); ``(rows*h, cols*w)`` with the defaults.
    """
    h, w, n = tiles.shape
    th, tw = h * scale, w * scale
    out = np.full((rows, header + th + gap, cols, tw + gap), fill, np.uint8)
    src = tiles.transpose(2, 0, 1)  # (n, h, w)
    region = out[:, header:header + th, :, :tw]  # (rows, th, cols, tw), a view
    for r in range(rows):
        block = src[r * cols:(r + 1) * cols]
        if not len(block):
            break
        if scale > 1:
            block = np.repeat(np.repeat(block, scale, axis=1), scale, axis=2)
        region[r, :, :len(block), :] = block.transpose(1, 0, 2)
    flat = out.reshape(rows * (header + th + gap), cols * (tw + gap))
    return flat[: flat.shape[0] - gap, : flat.shape[1] - gap]


@dataclass(frozen=True)
class GridLayout:
    """Where everything goes in a grid picture (pixels, origin top left).

    Attributes
    ----------
    n, rows, cols : int
        Tiles shown and their arrangement.
    map_h, map_w : int
        A map's size; a tile is ``map_h*scale`` × ``map_w*scale``.
    scale, gap, header : int
        Zoom, pixels between tiles, label strip above each tile.
    top, left : int
        Where the composed grid (:func:`compose_grid`) starts.
    width, height : int
        The whole picture.
    colorbar : (top, left, bottom, right) or None
        The colour strip (exclusive bottom/right).
    """

    n: int
    rows: int
    cols: int
    map_h: int
    map_w: int
    scale: int
    gap: int
    header: int
    top: int
    left: int
    width: int
    height: int
    colorbar: tuple[int, int, int, int] | None = None

    @property
    def tile_h(self) -> int:
        return self.map_h * self.scale

    @property
    def tile_w(self) -> int:
        return self.map_w * self.scale

    @property
    def grid_h(self) -> int:
        return self.rows * (self.header + self.tile_h) + (self.rows - 1) * self.gap

    @property
    def grid_w(self) -> int:
        return self.cols * self.tile_w + (self.cols - 1) * self.gap

    def tile_box(self, i: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) of tile ``i`` (0-based position in the grid)."""
        r, c = divmod(i, self.cols)
        top = self.top + r * (self.header + self.tile_h + self.gap) + self.header
        left = self.left + c * (self.tile_w + self.gap)
        return top, left, top + self.tile_h, left + self.tile_w


@dataclass(frozen=True)
class _Fonts:
    unit: int
    title: Any
    subtitle: Any
    label: Any
    tick: Any


def _font_unit(width: int, dpi: int) -> int:
    """Base text size in pixels: grows with the picture so text stays legible when it is shrunk onto a slide."""
    return max(9, round(min(max(width / 64, 13), 34) * dpi / 100))


def _fonts(unit: int) -> _Fonts:
    return _Fonts(
        unit=unit,
        title=_font(round(unit * 1.3), bold=True),
        subtitle=_font(round(unit * 0.95)),
        label=_font(round(unit * 0.85)),
        tick=_font(round(unit * 0.85)),
    )


def grid_layout(
    n: int,
    map_h: int,
    map_w: int,
    *,
    columns: int | None = None,
    scale: int | None = None,
    labels: bool = True,
    colorbar: bool = False,
    dpi: int = 100,
    title_lines: int = 2,
    min_width: int = 0,
    colorbar_range: tuple[float, float] | None = None,
) -> tuple[GridLayout, _Fonts]:
    """Lay out ``n`` tiles of (map_h, map_w) maps with their title, labels and colorbar.

    ``scale`` None picks :func:`auto_scale`; ``min_width`` makes room for a
    title that is wider than the grid; ``colorbar_range`` sizes the room for
    the colorbar's tick labels.  Returns the layout and the fonts.
    """
    rows, cols = grid_shape(n, columns, aspect=map_w / max(map_h, 1))
    s = scale or auto_scale(map_h, map_w, rows, cols)
    if not columns and labels:  # count the label strip in the tile's shape
        rows, cols = grid_shape(n, None, aspect=map_w * s / (map_h * s + 18))
    tw = map_w * s
    raw_w = cols * tw + (cols - 1) * 6
    unit = _font_unit(raw_w, dpi)
    fonts = _fonts(unit)
    gap = max(4, round(unit * 0.5))
    margin = max(8, round(unit * 1.0))
    header = round(_line_height(fonts.label) * 1.15) if labels else 0
    title_h = 0
    if labels and title_lines:
        title_h = _line_height(fonts.title) + (title_lines - 1) * _line_height(fonts.subtitle) \
            + round(unit * 0.2 * title_lines) + round(margin * 0.6)
    grid_w = cols * tw + (cols - 1) * gap
    grid_h = rows * (header + map_h * s) + (rows - 1) * gap
    top = margin + title_h
    left = margin
    right = left + grid_w
    cbar = None
    if colorbar:
        bar_w = max(12, round(unit * 1.1))
        x0 = right + max(margin, round(unit * 1.2))
        y0 = top + header
        y1 = top + grid_h
        if y1 - y0 < 4 * unit:  # a single short row: let the bar hang below
            y1 = y0 + 4 * unit
        cbar = (y0, x0, y1, x0 + bar_w)
        widest = max((_text_width(fonts.tick, t) for t in _all_tick_labels(*(colorbar_range or (0.0, 1.0)))),
                     default=0)
        right = x0 + bar_w + 6 + widest
    width = max(right + margin, min_width + 2 * margin)
    height = max(top + grid_h, cbar[2] if cbar else 0) + margin
    layout = GridLayout(n, rows, cols, map_h, map_w, s, gap, header, top, left, width, height, cbar)
    return layout, fonts


# ---------------------------------------------------------------------------
# Text.


@lru_cache(maxsize=4)
def _font_file(bold: bool) -> str | None:
    """DejaVu Sans from matplotlib's data folder, found without importing matplotlib."""
    import importlib.util

    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    p = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf" / name
    return str(p) if p.is_file() else None


@lru_cache(maxsize=64)
def _font(size: int, bold: bool = False) -> Any:
    from PIL import ImageFont

    path = _font_file(bold)
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError:  # pragma: no cover - no FreeType
            pass
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - Pillow < 10.1
        return ImageFont.load_default()


@lru_cache(maxsize=64)
def _line_height(font: Any) -> int:
    try:
        asc, desc = font.getmetrics()
        return int(asc + desc)
    except AttributeError:  # pragma: no cover - bitmap font
        return int(font.getbbox("Ag")[3]) + 2


def _text_width(font: Any, text: str) -> int:
    try:
        return math.ceil(font.getlength(text))
    except AttributeError:  # pragma: no cover
        return int(font.getbbox(text)[2])


def _stamp(
    canvas: np.ndarray, x: int, y: int, text: str, font: Any, ramp: Sequence[int], align: str = "left"
) -> int:
    """Draw anti-aliased ``text`` into an index image (on background) with ``ramp`` colours.

    ``y`` is the top of the line; ``align`` is left, center or right of ``x``.
    Returns the text's width.
    """
    from PIL import Image, ImageDraw

    if not text:
        return 0
    w = _text_width(font, text) + 2
    h = _line_height(font)
    im = Image.new("L", (w, h), 0)
    ImageDraw.Draw(im).text((1, 0), text, font=font, fill=255)
    a = np.asarray(im)
    if align == "center":
        x -= w // 2
    elif align == "right":
        x -= w
    H, W = canvas.shape[:2]
    y0, x0, y1, x1 = max(y, 0), max(x, 0), min(y + h, H), min(x + w, W)
    if y1 <= y0 or x1 <= x0:
        return w
    sub = a[y0 - y:y1 - y, x0 - x:x1 - x]
    q = (sub.astype(np.uint16) * len(ramp) + 127) // 255
    m = q > 0
    region = canvas[y0:y1, x0:x1]
    region[m] = np.asarray(ramp, np.uint8)[q[m] - 1]
    return w


def _fit(font_for: Any, text: str, width: int) -> str:
    """``text`` shortened with an ellipsis to fit ``width`` pixels."""
    if _text_width(font_for, text) <= width:
        return text
    while text and _text_width(font_for, text + "…") > width:
        text = text[:-1]
    return text + "…" if text else ""


def _num(v: float, digits: int = 3) -> str:
    """A short number with a real minus sign: 0.0123, −1.5, 2.4e+03."""
    if not math.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    s = f"{v:.{digits}g}"
    if "e" in s:
        mant, exp = s.split("e")
        s = f"{mant}e{int(exp)}"
    return s.replace("-", "−")


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values within ``lo .. hi`` (1, 2, 2.5 or 5 × 10^k steps).

    >>> nice_ticks(0, 3.7)
    [0.0, 1.0, 2.0, 3.0]
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [float(lo)]
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * 0.999)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    ticks = [round(i * step, 12) for i in range(first, last + 1)]
    return [0.0 if t == 0 else t for t in ticks]


def _tick_label(v: float, step: float) -> str:
    """A tick value with as many decimals as the tick step needs."""
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3 or step <= 0:
        return _num(v, 2)
    d = next((d for d in range(7) if abs(round(step, d) - step) <= step * 1e-6), 6)
    return f"{v:.{d}f}".replace("-", "−")


# ---------------------------------------------------------------------------
# Stage descriptions.


def _times(*xs: int) -> str:
    return "×".join(str(int(x)) for x in xs)


def is_vector(shape: Sequence[int]) -> bool:
    """Whether an output of ``shape`` (H, W, C) is a vector, drawn as a bar chart (H = W = 1)."""
    return shape[0] == 1 and shape[1] == 1


def grid_title(index: int, name: str, stype: str, shape: Sequence[int], shown: int | None = None,
               total: int | None = None, width: int = 2) -> str:
    """The title of a stage's picture.

    >>> grid_title(3, "pool1", "pool", (149, 224, 128), 64, 128)
    '03 pool1 (pool) · 149×224×128 · 64 of 128 shown'
    """
    t = f"{index:0{width}d} {name} ({stype}) · {_times(*shape)}"
    if shown is not None and total is not None and shown < total:
        t += f" · {shown} of {total} shown"
    return t


def describe_stage(layer: Layer) -> str:
    """A short description of a stage's parameters, e.g. ``2 kernels 3×3×1 · valid``."""
    stage = getattr(layer, "stage", None)
    cfg = getattr(stage, "config", None)
    p: Mapping[str, Any] = getattr(cfg, "params", None) or {}
    t = layer.type
    parts: list[str] = []
    kernels = getattr(stage, "kernels", None)
    if t == "conv" and kernels is not None:
        n, kh, kw, c = kernels.shape
        parts.append(f"{n} kernel{'s' if n != 1 else ''} {_times(kh, kw, c)}")
        pad = p.get("padding", "valid")
        parts.append(pad if isinstance(pad, str) else f"padding {_times(*pad)}")
        for key in ("stride", "dilation"):
            v = tuple(p.get(key, (1, 1)))
            if v != (1, 1):
                parts.append(f"{key} {v[0] if v[0] == v[1] else _times(*v)}")
        if p.get("flip"):
            parts.append("flipped (convolution)")
        if p.get("depthwise"):
            parts.append("depthwise")
    elif t == "pool" and p:
        size, stride = tuple(p["size"]), tuple(p["stride"])
        parts.append(f"{p['mode']} {_times(*size)}")
        parts.append(f"stride {stride[0] if stride[0] == stride[1] else _times(*stride)}")
        if tuple(p.get("padding", (0, 0))) != (0, 0):
            parts.append(f"padding {_times(*p['padding'])}")
    elif t == "leaky_relu" and p:
        parts.append(f"slope {_num(p['slope'])}")
    elif t == "norm" and p:
        parts.append(p["mode"] if p["mode"] != "lrn" else
                     f"lrn size {p['size']}, α {_num(p['alpha'])}, β {_num(p['beta'])}, k {_num(p['k'])}")
    elif t == "global_pool" and p:
        parts.append(f"{p['mode']} over {_times(*stage.input_shape[:2])}" if stage else p["mode"])
    elif t == "dense" and p:
        parts.append(f"{p['units']} units")
    return " · ".join(parts)


def _scale_text(normalize: str, centred: bool, cmap: str, lo: float, hi: float) -> str:
    if normalize == "fixed":
        s = f"one scale shared with other images, {_num(lo)} … {_num(hi)}"
    elif normalize == "map":
        s = "each map scaled to its own range"
    elif normalize == "layer":
        s = f"one scale for the stage, {_num(lo)} … {_num(hi)}"
    else:
        s = f"one scale for the whole run, {_num(lo)} … {_num(hi)}"
    if centred:
        s += " · 0 at the centre"
    return f"{cmap} · {s}"


def stage_labels(layers: Sequence[Layer], i: int) -> list[str] | None:
    """Class names for the vector of ``layers[i]``: the ``labels`` of that dense
    stage, or of the dense stage it descends from through element-wise stages
    (e.g. a ``softmax`` after a labelled ``dense``); None when there are none."""
    n = layers[i].output.shape[2]
    for j in range(i, -1, -1):
        layer = layers[j]
        if layer.output.shape[2] != n or not is_vector(layer.output.shape):
            return None
        if layer.type == "dense":
            labels = (getattr(getattr(layer.stage, "config", None), "params", None) or {}).get("labels")
            return [str(x) for x in labels] if labels else None
        if layer.type not in ("relu", "leaky_relu", "sigmoid", "tanh", "abs", "softmax", "norm"):
            return None
    return None


_UNSAFE = re.compile(r"[^\w.-]")


def stage_file_name(index: int, name: str, width: int = 2, prefix: str = "") -> str:
    """``NN_<name>.png`` (``prefix`` ``filters_`` for the kernels picture)."""
    return f"{prefix}{index:0{width}d}_{_UNSAFE.sub('_', name)}.png"


# ---------------------------------------------------------------------------
# The grid picture.


@dataclass
class GridPicture:
    """A rendered grid: write it with ``write_png(path, pixels, palette)``.

    Attributes
    ----------
    pixels : ndarray (height, width) uint8
        Palette indices; ``0 .. LEVELS-1`` are colormap colours.
    palette : ndarray (256, 3) uint8
    layout : GridLayout
        ``layout.tile_box(j)`` is where the j-th shown map is.
    indices : ndarray (k,) int
        The channels shown, in order.
    lo, hi : ndarray (k,) float64
        The value of the lowest and highest colour of each shown map.
    colorbar : (lo, hi) or None
        The range of the colorbar, when one is drawn.
    title : str
    """

    pixels: np.ndarray
    palette: np.ndarray
    layout: GridLayout
    indices: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    colorbar: tuple[float, float] | None
    title: str


def render_grid(
    maps: np.ndarray,
    *,
    title: str = "",
    subtitle: str = "",
    cmap: str = "gray",
    normalize: str = "map",
    center: bool = False,
    global_range: tuple[float, float] | None = None,
    limits: tuple[float, float] | None = None,
    max_maps: int = 64,
    columns: int | None = None,
    scale: int | None = None,
    labels: bool = True,
    colorbar: bool = True,
    dpi: int = 100,
    ranges: bool | None = None,
) -> GridPicture:
    """Colormap and tile a stage's maps into one picture.

    Parameters
    ----------
    maps : ndarray (H, W, N)
    title, subtitle : str
        Drawn above the grid (when ``labels``).  A title saying "k of N shown"
        is the caller's (see :func:`grid_title`).
    cmap : str
        A matplotlib colormap name.
    normalize, center, global_range :
        See :func:`value_limits`.
    limits : (lo, hi), optional
        Fixed range for every map (overrides ``normalize``).
    max_maps : int
        More maps than this: the strongest are shown (:func:`select_maps`).
    columns, scale : int, optional
        Grid columns (default near-square) and integer zoom (default
        :func:`auto_scale`).
    labels : bool
        Title and tile indices.
    colorbar : bool
        Draw a colorbar when the scale is shared (``layer``, ``global`` or ``limits``).
    dpi : int
        Text is sized for this resolution (100 = the nominal size).
    ranges : bool, optional
        Write each tile's value range beside its index (default: for ``map``).

    Returns
    -------
    GridPicture
    """
    h, w, n = maps.shape
    idx = select_maps(maps, max_maps)
    if limits is not None:
        lo_all, hi_all = np.full(n, float(limits[0])), np.full(n, float(limits[1]))
        shared = True
    else:
        lo_all, hi_all = value_limits(maps, normalize, center=center, global_range=global_range)
        shared = normalize != "map"
    lo, hi = lo_all[idx], hi_all[idx]
    q = normalize_maps(maps[:, :, idx] if len(idx) < n else maps, lo, hi)
    title_lines = (1 if title else 0) + (1 if subtitle else 0)
    want_bar = bool(colorbar and shared)
    bar = (float(lo_all[0]), float(hi_all[0])) if want_bar else None
    layout, fonts = grid_layout(len(idx), h, w, columns=columns, scale=scale, labels=labels,
                                colorbar=want_bar, dpi=dpi, title_lines=title_lines, colorbar_range=bar)
    if labels and title:
        need = max(_text_width(fonts.title, title), _text_width(fonts.subtitle, subtitle))
        if need > layout.width - 2 * layout.left:
            layout, fonts = grid_layout(len(idx), h, w, columns=columns, scale=scale, labels=labels,
                                        colorbar=want_bar, dpi=dpi, title_lines=title_lines,
                                        min_width=need, colorbar_range=bar)
    canvas = np.full((layout.height, layout.width), BACKGROUND, np.uint8)
    grid = compose_grid(q, layout.rows, layout.cols, scale=layout.scale, gap=layout.gap,
                        header=layout.header, fill=BACKGROUND)
    canvas[layout.top:layout.top + grid.shape[0], layout.left:layout.left + grid.shape[1]] = grid
    _frames(canvas, layout)
    if labels:
        y = layout.left  # the top margin equals the side margin
        if title:
            _stamp(canvas, layout.left, y, title, fonts.title, INK)
            y += _line_height(fonts.title) + round(fonts.unit * 0.2)
        if subtitle:
            _stamp(canvas, layout.left, y, subtitle, fonts.subtitle, SOFT)
        show_ranges = (normalize == "map" and limits is None) if ranges is None else ranges
        for j, ch in enumerate(idx):
            top, left, _, right = layout.tile_box(j)
            y = top - layout.header + max(0, (layout.header - _line_height(fonts.label)) // 2 - 1)
            wi = _stamp(canvas, left, y, str(int(ch)), fonts.label, INK)
            if show_ranges:
                text = f"{_num(float(lo[j]))} … {_num(float(hi[j]))}"
                if _text_width(fonts.label, text) + wi + 8 <= right - left:
                    _stamp(canvas, right, y, text, fonts.label, SOFT, align="right")
    if bar is not None and layout.colorbar is not None:
        _colorbar(canvas, layout.colorbar, bar, fonts)
    return GridPicture(canvas, grid_palette(cmap), layout, idx, lo, hi, bar, title)


def _frames(canvas: np.ndarray, layout: GridLayout) -> None:
    """A 1-pixel frame just outside every tile (in the gap)."""
    if layout.gap < 2:
        return
    H, W = canvas.shape
    for j in range(layout.n):
        top, left, bottom, right = layout.tile_box(j)
        t0, l0, b0, r0 = max(top - 1, 0), max(left - 1, 0), min(bottom, H - 1), min(right, W - 1)
        canvas[t0, l0:r0 + 1] = FRAME
        canvas[b0, l0:r0 + 1] = FRAME
        canvas[t0:b0 + 1, l0] = FRAME
        canvas[t0:b0 + 1, r0] = FRAME


def _colorbar_ticks(lo: float, hi: float, count: int) -> list[tuple[float, str]]:
    """(value, label) of about ``count`` round ticks from ``lo`` to ``hi``."""
    if not hi > lo:
        return [(lo, _num(lo))]
    ticks = nice_ticks(lo, hi, count)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else (hi - lo)
    return [(v, _tick_label(v, step)) for v in ticks]


def _all_tick_labels(lo: float, hi: float) -> list[str]:
    return [t for count in range(2, 8) for _, t in _colorbar_ticks(lo, hi, count)]


def _colorbar(canvas: np.ndarray, box: tuple[int, int, int, int], rng: tuple[float, float], fonts: _Fonts) -> None:
    top, left, bottom, right = box
    lo, hi = rng
    n = bottom - top
    col = np.round(np.linspace(LEVELS - 1, 0, n)).astype(np.uint8)
    canvas[top:bottom, left:right] = col[:, None]
    ink = SOFT[-1]
    canvas[top - 1, left - 1:right + 1] = ink
    canvas[bottom, left - 1:right + 1] = ink
    canvas[top - 1:bottom + 1, left - 1] = ink
    canvas[top - 1:bottom + 1, right] = ink
    lh = _line_height(fonts.tick)
    for v, text in _colorbar_ticks(lo, hi, max(2, min(7, n // (lh * 2) + 1))):
        y = top + (round((hi - v) / (hi - lo) * (n - 1)) if hi > lo else n - 1)
        canvas[y, right:right + 4] = ink
        ty = min(max(y - lh // 2, top - lh // 2), bottom - lh // 2)
        _stamp(canvas, right + 6, ty, text, fonts.tick, INK)


# ---------------------------------------------------------------------------
# RGB pages (input, overview): Pillow drawing on an RGB canvas.


def _zoom_to(rgb: np.ndarray, height: int, max_width: int) -> np.ndarray:
    """Resize an RGB tile to fit ``height`` × ``max_width``.

    An exact integer zoom when one fits the box well; otherwise a nearest-
    neighbour zoom past the box followed by area averaging (Pillow BOX)
    down into it, which keeps edges crisp without smearing.
    """
    from PIL import Image

    h, w = rgb.shape[:2]
    f = min(height / h, max_width / w)
    s = math.floor(f)
    if s >= 1 and s >= 0.85 * f:
        return np.repeat(np.repeat(rgb, s, axis=0), s, axis=1) if s > 1 else rgb
    size = (max(1, round(w * f)), max(1, round(h * f)))
    up = max(1, math.ceil(f))
    if up > 1:
        rgb = np.repeat(np.repeat(rgb, up, axis=0), up, axis=1)
    return np.asarray(_pil(rgb).resize(size, Image.Resampling.BOX))


def _input_rgb(image: np.ndarray) -> np.ndarray:
    x = np.clip(np.nan_to_num(np.asarray(image, np.float64)), 0.0, 1.0)
    x = np.round(x * 255).astype(np.uint8)
    return x if x.shape[2] == 3 else np.repeat(x[:, :, :1], 3, axis=2)


def _page(width: int, height: int) -> tuple[Any, Any]:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (width, height), (255, 255, 255))
    return im, ImageDraw.Draw(im)


_INK = (0x1F, 0x1F, 0x1F)
_SOFT = (0x5F, 0x5F, 0x5F)
_LINE = (0xC8, 0xC8, 0xC8)


def _render_input(image: np.ndarray, title: str, subtitle: str, *, scale: int | None, labels: bool,
                  dpi: int) -> np.ndarray:
    """The input picture (RGB, uint8): a colour or gray image with its title."""
    h, w, _ = image.shape
    s = scale or auto_scale(h, w)
    rgb = _input_rgb(image)
    if s > 1:
        rgb = np.repeat(np.repeat(rgb, s, axis=0), s, axis=1)
    unit = _font_unit(rgb.shape[1], dpi)
    fonts = _fonts(unit)
    margin = max(8, unit)
    title_h = 0
    if labels:
        title_h = _line_height(fonts.title) + _line_height(fonts.subtitle) + round(unit * 0.4) + round(margin * 0.6)
    width = max(rgb.shape[1], _text_width(fonts.title, title) if labels else 0,
                _text_width(fonts.subtitle, subtitle) if labels else 0) + 2 * margin
    height = margin + title_h + rgb.shape[0] + margin
    im, draw = _page(width, height)
    if labels:
        draw.text((margin, margin), title, font=fonts.title, fill=_INK)
        draw.text((margin, margin + _line_height(fonts.title) + round(unit * 0.2)), subtitle,
                  font=fonts.subtitle, fill=_SOFT)
    im.paste(_pil(rgb), (margin, margin + title_h))
    return np.asarray(im)


def _pil(rgb: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(rgb))


@dataclass
class OverviewRow:
    """One row of the overview: a three-line label, and tiles or a vector.

    Attributes
    ----------
    heading, detail, note : str
        ``01 edges``, ``conv · 298×449×2``, ``2 maps``.
    tiles : list of ndarray (h, w, 3) uint8
        Already colormapped; each is zoomed to the row's height.
    vector : ndarray (N,), optional
        Drawn as a small bar chart instead of tiles.
    vector_labels : list of str, optional
    probabilities : bool
        The vector holds probabilities: its bars are drawn on a 0 … 1 scale.
    """

    heading: str
    detail: str
    note: str
    tiles: list[np.ndarray]
    vector: np.ndarray | None = None
    vector_labels: list[str] | None = None
    probabilities: bool = False


def render_overview(rows: Sequence[OverviewRow], *, title: str, subtitle: str, dpi: int = 100,
                    colorbar: tuple[np.ndarray, float, float] | None = None) -> np.ndarray:
    """The overview page (RGB uint8 (H, W, 3)): a row per stage, its label at the left.

    Rows are 132 px high at dpi 100; small maps are zoomed by an integer
    factor, large ones reduced by area averaging.  ``colorbar`` (colours
    (LEVELS, 3), lo, hi) adds one shared colorbar (for ``normalize: global``).
    """
    k = dpi / 100
    row_h = round(132 * k)
    unit = round(14 * k)
    fonts = _fonts(unit)
    heading_font = _font(round(unit * 1.05), True)
    margin = round(16 * k)
    gap = round(8 * k)
    label_w = max([_text_width(heading_font, r.heading) for r in rows] +
                  [_text_width(fonts.label, r.detail) for r in rows] +
                  [_text_width(fonts.label, r.note) for r in rows] + [round(180 * k)]) + round(16 * k)
    label_w = min(label_w, round(320 * k))
    bar_w = round(4.2 * row_h)
    placed: list[list[np.ndarray]] = []
    widths = []
    for r in rows:
        if r.vector is not None:
            placed.append([])
            widths.append(bar_w)
            continue
        tiles = [_zoom_to(t, row_h, round(2.5 * row_h)) for t in r.tiles]
        placed.append(tiles)
        widths.append(sum(t.shape[1] for t in tiles) + gap * max(len(tiles) - 1, 0))
    lh_title = _line_height(fonts.title)
    head_h = lh_title + _line_height(fonts.subtitle) + round(unit * 0.8)
    cb_w = round(90 * k) if colorbar else 0
    width = margin + label_w + max(widths + [_text_width(fonts.title, title) - label_w,
                                             _text_width(fonts.subtitle, subtitle) - label_w]) + cb_w + margin
    sep = round(10 * k)
    height = margin + head_h + len(rows) * (row_h + 2 * sep) + margin
    im, draw = _page(width, height)
    draw.text((margin, margin), title, font=fonts.title, fill=_INK)
    draw.text((margin, margin + lh_title + round(unit * 0.2)), subtitle, font=fonts.subtitle, fill=_SOFT)
    y = margin + head_h
    for r, tiles in zip(rows, placed, strict=True):
        draw.line([(margin, y), (width - margin - cb_w, y)], fill=_LINE, width=1)
        y += sep
        ty = y + max(0, (row_h - 3 * _line_height(fonts.label)) // 2 - unit // 2)
        draw.text((margin, ty), _fit(heading_font, r.heading, label_w - gap), font=heading_font, fill=_INK)
        ty += _line_height(fonts.subtitle) + round(unit * 0.25)
        draw.text((margin, ty), _fit(fonts.label, r.detail, label_w - gap), font=fonts.label, fill=_SOFT)
        ty += _line_height(fonts.label) + round(unit * 0.15)
        draw.text((margin, ty), _fit(fonts.label, r.note, label_w - gap), font=fonts.label, fill=_SOFT)
        x = margin + label_w
        if r.vector is not None:
            _draw_bars(draw, (x, y, x + bar_w, y + row_h), r.vector, r.vector_labels, fonts,
                       top=1.0 if r.probabilities else None)
        for t in tiles:
            oy = y + (row_h - t.shape[0]) // 2
            im.paste(_pil(t), (x, oy))
            draw.rectangle([x - 1, oy - 1, x + t.shape[1], oy + t.shape[0]], outline=_LINE)
            x += t.shape[1] + gap
        y += row_h + sep
    if colorbar is not None:
        colors, lo, hi = colorbar
        x0 = width - margin - cb_w + round(20 * k)
        y0, y1 = margin + head_h + sep, height - margin - sep
        col = np.round(np.linspace(len(colors) - 1, 0, y1 - y0)).astype(int)
        strip = np.repeat(colors[col][:, None, :], round(14 * k), axis=1)
        im.paste(_pil(strip), (x0, y0))
        draw.rectangle([x0 - 1, y0 - 1, x0 + strip.shape[1], y1], outline=_SOFT)
        ticks = nice_ticks(lo, hi, 6)
        step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
        for v in ticks:
            yy = y0 + (round((hi - v) / (hi - lo) * (y1 - y0 - 1)) if hi > lo else y1 - y0 - 1)
            draw.line([(x0 + strip.shape[1], yy), (x0 + strip.shape[1] + 3, yy)], fill=_SOFT)
            draw.text((x0 + strip.shape[1] + 6, yy), _tick_label(v, step), font=fonts.label, fill=_INK,
                      anchor="lm")
    return np.asarray(im)


def _draw_bars(draw: Any, box: tuple[int, int, int, int], v: np.ndarray, names: list[str] | None,
               fonts: _Fonts, top: float | None = None) -> None:
    """A small bar chart of ``v`` in ``box`` (axis up to at least ``top``), the top three values named."""
    x0, y0, x1, y1 = box
    v = np.nan_to_num(np.asarray(v, np.float64))
    n = len(v)
    lo, hi = min(0.0, float(v.min())), max(0.0, float(v.max()), top or 0.0)
    if hi == lo:
        hi = lo + 1.0
    text_w = round((x1 - x0) * 0.38)
    bx0, bx1 = x0, x1 - text_w
    by0, by1 = y0 + 4, y1 - 4

    def ypos(val: float) -> float:
        return by1 - (val - lo) / (hi - lo) * (by1 - by0)

    draw.rectangle([bx0, by0 - 2, bx1, by1 + 2], outline=_LINE)
    pitch = (bx1 - bx0 - 4) / n
    zero = ypos(0.0)
    largest = np.argsort(-v, kind="stable")[:3]
    for i, val in enumerate(v):
        xa = bx0 + 2 + i * pitch
        xb = xa + max(pitch * 0.8, 1) - 1
        colour = (0xD9, 0x5F, 0x02) if i == largest[0] else ((0x4C, 0x72, 0xB0) if val >= 0 else (0xC4, 0x4E, 0x52))
        ya, yb = sorted((ypos(float(val)), zero))
        draw.rectangle([round(xa), round(ya), round(max(xb, xa)), round(max(yb, ya))], fill=colour)
    draw.line([(bx0, zero), (bx1, zero)], fill=_SOFT)
    ty = y0 + 2
    for i in largest:
        name = names[i] if names and i < len(names) else f"#{i}"
        draw.text((bx1 + 10, ty), _fit(fonts.label, f"{name}: {_num(float(v[i]))}", text_w - 12),
                  font=fonts.label, fill=_INK)
        ty += _line_height(fonts.label) + 2


# ---------------------------------------------------------------------------
# Metadata, manifest, files.


def _jsonable(x: Any) -> Any:
    """Plain JSON/YAML data: tuples to lists, numpy values to Python, non-finite floats to None."""
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, (str, int, bool)) or x is None:
        return x
    if isinstance(x, os.PathLike):
        return os.fspath(x)
    return str(x)


def _config_text(config: Config) -> str:
    import yaml

    data = _jsonable(config.resolved())
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def png_text(config_text: str, image_name: str | None, *, title: str = "", stage: str = "") -> dict[str, str]:
    """The PNG text chunks of one picture (see :mod:`cnnviz.pngio`)."""
    text = {
        "Software": f"cnnviz {__version__}",
        TEXT_PREFIX + "version": __version__,
        TEXT_PREFIX + "config": config_text,
        TEXT_PREFIX + "image": image_name or "",
    }
    if stage:
        text[TEXT_PREFIX + "stage"] = stage
    if title:
        text["Title"] = title
    return text


def _stats(a: np.ndarray) -> dict[str, float | None]:
    if a.size == 0:
        return {"min": None, "max": None, "mean": None}
    lo, hi = _finite_range(a)
    fin = np.isfinite(a).all()
    mean = float(np.mean(a, dtype=np.float64)) if fin else float(np.nanmean(np.where(np.isfinite(a), a, np.nan)))
    return _jsonable({"min": float(lo), "max": float(hi), "mean": mean})


def build_manifest(
    config: Config,
    layers: Sequence[Layer],
    files_by_stage: Mapping[int, list[str]],
    *,
    input_files: list[str],
    other_files: list[str],
    image_name: str | None,
    image_shape: Sequence[int] | None,
    config_path: str | None,
    stats: Mapping[int, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The manifest (plain data; ``manifest.json`` is its JSON).

    ``stats`` (stage index -> min/max/mean) replaces the statistics of layers
    whose outputs were already dropped (``render(..., stream=True)``).

    Schema::

        {"cnnviz_version": "0.1.0", "manifest_version": 1,
         "config": {"path", "sha256", "name"},
         "image": {"name", "path", "shape"},
         "render": {resolved render section},
         "input": {"files": ["00_input.png"]},
         "stages": [{"index", "name", "type", "params", "output_shape",
                     "min", "max", "mean", "milliseconds", "files"}],
         "files": [every file written, relative to the folder, manifest excluded]}
    """
    resolved = _jsonable(config.resolved())
    by_name = {s["name"]: s for s in resolved["stages"]}
    stages = []
    for layer in layers:
        entry = by_name.get(layer.name)
        if entry is None:
            params = _jsonable(dict(getattr(getattr(layer.stage, "config", None), "params", None) or {}))
        else:
            params = {k: v for k, v in entry.items() if k not in ("type", "name")}
        stages.append({
            "index": int(layer.index),
            "name": layer.name,
            "type": layer.type,
            "params": params,
            "output_shape": [int(x) for x in layer.output.shape],
            **(stats[layer.index] if stats and layer.index in stats else _stats(layer.output)),
            "milliseconds": round(float(layer.seconds) * 1000.0, 3),
            "files": list(files_by_stage.get(layer.index, [])),
        })
    path = None
    if image_name is not None and Path(str(image_name)).is_file():
        path = str(Path(str(image_name)).resolve())
    from .images import image_label

    files = list(input_files) + [f for i in sorted(files_by_stage) for f in files_by_stage[i]] + list(other_files)
    return {
        "cnnviz_version": __version__,
        "manifest_version": 1,
        "config": {"path": config_path, "sha256": config.sha256, "name": config.name,
                   "description": config.description},
        "image": {
            "name": image_label(image_name) if image_name is not None else None,
            "path": path,
            "shape": [int(x) for x in image_shape] if image_shape is not None else None,
        },
        "render": resolved["render"],
        "input": {"files": list(input_files)},
        "stages": stages,
        "files": files,
    }


_SCALAR = r"(?:-?\d[\d.eE+-]*|true|false|null)"
_FLAT_LIST = re.compile(r"\[\s+(" + _SCALAR + r"(?:,\s+" + _SCALAR + r")*)\s+\]")


def manifest_json(manifest: Mapping[str, Any]) -> str:
    """The manifest as JSON text: indented, with lists of plain numbers kept on one line."""
    text = json.dumps(manifest, indent=2, allow_nan=False, ensure_ascii=False)
    return _FLAT_LIST.sub(lambda m: "[" + ", ".join(p.strip() for p in m.group(1).split(",")) + "]", text) + "\n"


#: The only names a re-run removes (when its previous manifest lists them).
_OWN_FILE = re.compile(r"^(?:filters_)?\d+_[\w.-]+\.png$|^overview\.png$|^activations\.npz$")


#: Temporary files of :func:`cnnviz.pngio.atomic_write`: ``.<name>.<pid>.<thread>.tmp``.
_OWN_TEMP = re.compile(r"^\..+\.(\d+)\.\d+\.tmp$")


def remove_orphaned_temps(out: Path) -> list[Path]:
    """Remove temporary files a killed cnnviz process left in ``out`` (their process is gone)."""
    removed = []
    for p in out.iterdir() if out.is_dir() else []:
        m = _OWN_TEMP.match(p.name)
        if not m or not p.is_file():
            continue
        pid = int(m.group(1))
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
        except (PermissionError, OSError):
            pass
    return removed


def _previous_files(manifest: Path) -> set[str]:
    """File names listed by a previous manifest that cnnviz may remove."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return set()
    names: list[Any] = []
    if isinstance(data, dict):
        names += data.get("files") or []
        names += (data.get("input") or {}).get("files") or [] if isinstance(data.get("input"), dict) else []
        for st in data.get("stages") or []:
            if isinstance(st, dict):
                names += st.get("files") or []
    return {n for n in names if isinstance(n, str) and "/" not in n and "\\" not in n and _OWN_FILE.match(n)}


def stage_grid(
    layer: Layer,
    render_opts: Mapping[str, Any],
    *,
    global_range: tuple[float, float] | None = None,
    width: int = 2,
    limits: tuple[float, float] | None = None,
) -> GridPicture:
    """The grid picture of one stage, exactly as :func:`render` draws it.

    Parameters
    ----------
    layer : Layer
        Its ``output`` (H, W, C) is drawn.
    render_opts : mapping
        A config's ``render`` section (``Config.render``).
    global_range : (lo, hi), optional
        The run's range, needed for ``normalize: global``.
    width : int
        Digits of the stage index in the title (2, or more for 100+ stages).
    limits : (lo, hi), optional
        A fixed colour range for every map of the stage (e.g. shared by all
        the images of a ``cnnviz batch --shared-scale``), used as it is:
        pass it through :func:`fixed_limits` first to centre it.  It
        replaces ``normalize``, and a colorbar is drawn (``render.colorbar``).
    """
    y = layer.output
    cmap, normalize = render_opts["cmap"], render_opts["normalize"]
    centred = resolve_center(render_opts["center"], cmap)
    n = y.shape[2]
    idx = select_maps(y, int(render_opts["max_maps"]))
    title = grid_title(layer.index, layer.name, layer.type, y.shape, len(idx), n, width=width)
    if limits is not None:
        scale_txt = _scale_text("fixed", centred, cmap, float(limits[0]), float(limits[1]))
    else:
        lo_all, hi_all = value_limits(y, normalize, center=centred, global_range=global_range)
        scale_txt = _scale_text(normalize, centred, cmap, float(lo_all[0]), float(hi_all[0]))
    desc = describe_stage(layer)
    sub = f"{desc} · {scale_txt}" if desc else scale_txt
    return render_grid(y, title=title, subtitle=sub, cmap=cmap, normalize=normalize, center=centred,
                       global_range=global_range, limits=limits, max_maps=int(render_opts["max_maps"]),
                       columns=render_opts["columns"], scale=render_opts["scale"],
                       labels=bool(render_opts["labels"]), colorbar=bool(render_opts["colorbar"]),
                       dpi=int(render_opts["dpi"]))


def fixed_limits(rng: Sequence[float], centred: bool) -> tuple[float, float]:
    """A fixed colour range ``(lo, hi)`` as drawn: symmetric around zero when ``centred``.

    >>> fixed_limits((-1.0, 3.0), True), fixed_limits((-1.0, 3.0), False)
    ((-3.0, 3.0), (-1.0, 3.0))
    """
    lo, hi = float(rng[0]), float(rng[1])
    if centred:
        m = max(abs(lo), abs(hi))
        return -m, m
    return lo, hi


def run_range(layers: Iterable[Layer]) -> tuple[float, float] | None:
    """The (min, max) over every stage drawn as a grid (``normalize: global``); vectors are left out."""
    ranges = [_finite_range(la.output) for la in layers if not is_vector(la.output.shape)]
    if not ranges:
        return None
    return float(min(r[0] for r in ranges)), float(max(r[1] for r in ranges))


@dataclass
class _Writer:
    """One ``render`` call: the settings every picture needs, and what was written."""

    config: Config
    out: Path
    label: str | None
    config_text: str
    width: int
    global_range: tuple[float, float] | None
    stage_ranges: Mapping[int, Sequence[float]] | None = None
    written: list[Path] = field(default_factory=list)
    color_ranges: dict[int, tuple[float, float]] = field(default_factory=dict)
    input_files: list[str] = field(default_factory=list)
    stage_files: dict[int, list[str]] = field(default_factory=dict)
    other_files: list[str] = field(default_factory=list)
    rows: list[OverviewRow] = field(default_factory=list)

    @property
    def opts(self) -> Mapping[str, Any]:
        return self.config.render

    @property
    def labels(self) -> bool:
        return bool(self.opts["labels"])

    @property
    def dpi(self) -> int:
        return int(self.opts["dpi"])

    @property
    def overview_maps(self) -> int:
        return min(5, int(self.opts["max_maps"]))

    def png(self, name: str, pixels: np.ndarray, palette: np.ndarray | None, title: str, stage: str) -> str:
        write_png(self.out / name, pixels, palette,
                  text=png_text(self.config_text, self.label, title=title, stage=stage), dpi=self.dpi)
        self.written.append(self.out / name)
        return name

    def input(self, image: np.ndarray) -> None:
        img = image[:, :, None] if image.ndim == 2 else image
        stem = f"{0:0{self.width}d}_input"
        title = f"{0:0{self.width}d} input · {_times(*img.shape)}"
        sub = (self.label or "the input as the stack sees it") + " · values 0 … 1"
        o = self.opts
        if img.shape[2] in (1, 3):
            pixels = _render_input(img, title, sub, scale=o["scale"], labels=self.labels, dpi=self.dpi)
            self.input_files.append(self.png(f"{stem}.png", pixels, None, title, stem))
            tiles = [_input_rgb(img)]
        else:
            pic = render_grid(img, title=title, subtitle=sub, cmap="gray", limits=(0.0, 1.0),
                              max_maps=o["max_maps"], columns=o["columns"], scale=o["scale"],
                              labels=self.labels, colorbar=o["colorbar"], dpi=self.dpi)
            self.input_files.append(self.png(f"{stem}.png", pic.pixels, pic.palette, title, stem))
            gray = colormap_colors("gray", LEVELS)
            sel = select_maps(img, self.overview_maps)
            q = normalize_maps(img[:, :, sel], 0.0, 1.0)
            tiles = [gray[q[:, :, j]] for j in range(len(sel))]
        self.rows.append(OverviewRow(f"{0:0{self.width}d} input", _times(*img.shape), self.label or "", tiles))

    def stage(self, layers: Sequence[Layer], i: int) -> None:
        layer = layers[i]
        y = layer.output
        n = y.shape[2]
        stem = stage_file_name(layer.index, layer.name, self.width)[:-4]
        heading = f"{layer.index:0{self.width}d} {layer.name}"
        detail = f"{layer.type} · {_times(*y.shape)}"
        desc = describe_stage(layer)
        files = []
        if is_vector(y.shape):
            from .figures import bar_chart

            vec = y.reshape(-1)
            names = stage_labels(layers, i)
            title = grid_title(layer.index, layer.name, layer.type, y.shape, width=self.width)
            probs = layer.type == "softmax"
            sub = desc or ("probabilities" if probs else "")
            pixels = bar_chart(vec, title=title if self.labels else "", subtitle=sub if self.labels else "",
                               labels=names, probabilities=probs, dpi=self.dpi)
            files.append(self.png(f"{stem}.png", pixels, None, title, stem))
            self.rows.append(OverviewRow(heading, detail, f"{n} value{'s' if n != 1 else ''}", [],
                                         vector=vec, vector_labels=names, probabilities=probs))
        else:
            o = self.opts
            centred = resolve_center(o["center"], o["cmap"])
            limits = None
            if self.stage_ranges is not None and layer.index in self.stage_ranges:
                limits = fixed_limits(self.stage_ranges[layer.index], centred)
                self.color_ranges[layer.index] = limits
            pic = stage_grid(layer, self.opts, global_range=self.global_range, width=self.width, limits=limits)
            files.append(self.png(f"{stem}.png", pic.pixels, pic.palette, pic.title, stem))
            # the overview row: the strongest few maps, scaled as in the grid
            if limits is not None:
                lo, hi = np.full(n, limits[0]), np.full(n, limits[1])
            else:
                lo, hi = value_limits(y, o["normalize"], center=centred, global_range=self.global_range)
            sel = select_maps(y, self.overview_maps)
            q = normalize_maps(y[:, :, sel], lo[sel], hi[sel])
            colors = colormap_colors(o["cmap"], LEVELS)
            note = f"{len(sel)} of {n} maps" if len(sel) < n else f"{n} map{'s' if n != 1 else ''}"
            if o["normalize"] == "layer" or limits is not None:
                note += f" · {_num(float(lo[0]))} … {_num(float(hi[0]))}"
            self.rows.append(OverviewRow(heading, detail, note, [colors[q[:, :, j]] for j in range(len(sel))]))
        kernels = getattr(getattr(layer, "stage", None), "kernels", None)
        if layer.type == "conv" and self.opts["filters"] and kernels is not None:
            from .figures import filter_figure

            title = f"filters of {heading} (conv) · {_times(*kernels.shape)}"
            cmap = self.opts["cmap"] if is_diverging(self.opts["cmap"]) else "RdBu_r"
            # colour patches only when the kernel's channels are still the image's R, G, B
            rgb_input = kernels.shape[3] == 3 and all(
                la.type not in ("conv", "dense", "global_pool") for la in layers[:i])
            pixels = filter_figure(kernels, title=title if self.labels else "",
                                   subtitle=desc if self.labels else "", cmap=cmap, as_colour=rgb_input,
                                   max_kernels=int(self.opts["max_maps"]), dpi=self.dpi)
            files.append(self.png(f"filters_{stem}.png", pixels, None, title, stem))
        self.stage_files[layer.index] = files

    def overview(self, config_path: str | None) -> None:
        o = self.opts
        centred = resolve_center(o["center"], o["cmap"])
        name = self.config.name or (Path(config_path).stem if config_path else "cnnviz")
        title = name + (f" on {self.label}" if self.label else "")
        scale = "one scale per stage shared with other images" if self.stage_ranges is not None \
            else f"normalize {o['normalize']}"
        sub = f"cmap {o['cmap']} · {scale}" + (" · 0 at the centre" if centred else "") \
            + f" · the {self.overview_maps} strongest maps of each stage"
        if self.config.description:
            sub = f"{self.config.description} · {sub}"
        bar = None
        if o["normalize"] == "global" and self.global_range is not None and o["colorbar"] and not self.color_ranges:
            lo, hi = value_limits(np.zeros((1, 1, 1)), "global", center=centred, global_range=self.global_range)
            bar = (colormap_colors(o["cmap"], LEVELS), float(lo[0]), float(hi[0]))
        pixels = render_overview(self.rows, title=title, subtitle=sub, dpi=self.dpi, colorbar=bar)
        self.other_files.append(self.png("overview.png", pixels, None, title, "overview"))

    def arrays(self, layers: Iterable[Layer]) -> Iterator[None]:
        """Write ``activations.npz`` one array at a time: send each layer, then close.

        A generator so that a streaming render can add each stage's output as
        it comes and drop it; the file appears (atomically) only when closed.
        """
        import zipfile

        with atomic_write(self.out / "activations.npz", "wb") as f, \
                zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for la in layers:
                key = stage_file_name(la.index, la.name, self.width)[:-4]
                with zf.open(key + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(la.output), allow_pickle=False)
                yield
        self.other_files.append("activations.npz")
        self.written.append(self.out / "activations.npz")


def _drain(queue: list[Layer]) -> Iterator[Layer]:
    """Yield what is put in ``queue`` (emptying it as it goes) until a yield finds it empty."""
    while queue:
        yield queue.pop(0)


def render(
    config: Config | Any,
    layers: Sequence[Layer],
    outdir: str | os.PathLike[str],
    *,
    image: np.ndarray | None = None,
    image_name: str | None = None,
    save_arrays: bool = False,
    config_path: str | os.PathLike[str] | None = None,
    stage_ranges: Mapping[int, Sequence[float]] | None = None,
    stream: bool = False,
    global_range: tuple[float, float] | None = None,
) -> list[Path]:
    """Write a run's pictures, manifest and arrays (SPEC §3).

    Parameters
    ----------
    config : Config, dict, path or YAML text
        Its ``render`` section decides cmap, normalisation, centring,
        ``max_maps``, columns, scale, dpi, labels, colorbar, and whether the
        overview and the filter pictures are drawn.
    layers : sequence or iterable of Layer
        From :func:`cnnviz.run` (or, with ``stream``, from
        :func:`cnnviz.pipeline.iter_run`).
    outdir : path
        Created if missing.  Files are written atomically; the files that the
        previous ``manifest.json`` there listed and this run does not write
        again are removed (nothing else is touched).
    image : ndarray (H, W) or (H, W, C), optional
        The input as the stack saw it: ``00_input.png`` and the overview's
        first row.
    image_name : str, optional
        The image's sample name or path, for the manifest and the PNG metadata.
    save_arrays : bool
        Also write ``activations.npz``: one (H, W, C) array per stage, keyed
        ``NN_<stage-name>``.
    config_path : path, optional
        Recorded in the manifest (default: the config's source file).
    stage_ranges : mapping of stage index to (lo, hi), optional
        A fixed colour range for those stages' grids instead of
        ``render.normalize`` (``cnnviz batch --shared-scale`` passes the range
        over all the images of a config, so that they can be compared):
        centred on zero like any other scale when the colormap is diverging
        (or ``render.center: zero``), drawn with a colorbar, and recorded in
        the manifest as the stage's ``color_range``.  Vector stages (bar
        charts) ignore it.

    stream : bool
        Draw each stage as it arrives and drop its output before taking the
        next, so that only one stage's output (plus the one being computed)
        is alive at a time; ``layers`` may be a generator.  With
        ``normalize: global`` pass ``global_range`` (the CLI computes it in a
        first pass).
    global_range : (lo, hi), optional
        The run's range for ``normalize: global`` (default: computed from
        ``layers``).

    Returns
    -------
    list of Path
        Every file written, ``manifest.json`` last.
    """
    from .images import image_label

    config = load_config(config)
    if not stream:
        layers = list(layers)
        if global_range is None:
            global_range = run_range(layers)
    elif global_range is None and config.render["normalize"] == "global":
        raise ValueError("render(stream=True) with normalize: global needs global_range")
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    remove_orphaned_temps(out)
    if config_path is None and config.source and not config.source.startswith("<"):
        config_path = config.source
    config_path = os.fspath(config_path) if config_path is not None else None
    w = _Writer(
        config=config,
        out=out,
        label=image_label(image_name) if image_name is not None else None,
        config_text=_config_text(config),
        width=max(2, len(str(len(config.stages)))),
        global_range=global_range,
        stage_ranges=stage_ranges,
    )
    if image is not None:
        w.input(np.asarray(image))
    pending: list[Layer] = []
    arrays = w.arrays(_drain(pending)) if save_arrays else None
    seen: list[Layer] = []
    stats: dict[int, Mapping[str, Any]] = {}
    for layer in layers:
        seen.append(layer)
        w.stage(seen, len(seen) - 1)
        if arrays is not None:
            pending.append(layer)
            next(arrays)
        if stream:  # keep the shape and statistics, drop the values
            stats[layer.index] = _stats(layer.output)
            seen[-1] = dataclasses.replace(layer, output=np.broadcast_to(
                np.zeros((), layer.output.dtype), layer.output.shape))
    if arrays is not None:
        with contextlib.suppress(StopIteration):
            next(arrays)
    if config.render["overview"] and w.rows:
        w.overview(config_path)
    layers = seen

    manifest_path = out / "manifest.json"
    stale = _previous_files(manifest_path)
    manifest = build_manifest(config, layers, w.stage_files, input_files=w.input_files,
                              other_files=w.other_files, image_name=image_name,
                              image_shape=None if image is None else np.shape(image), config_path=config_path,
                              stats=stats)
    for st in manifest["stages"]:
        if st["index"] in w.color_ranges:
            st["color_range"] = _jsonable(list(w.color_ranges[st["index"]]))
    with atomic_write(manifest_path, "w", encoding="utf-8") as f:
        f.write(manifest_json(manifest))
    w.written.append(manifest_path)
    for name in sorted(stale - set(manifest["files"])):
        p = out / name
        try:
            if p.is_file() or p.is_symlink():
                p.unlink()
        except OSError:
            pass
    return w.written
