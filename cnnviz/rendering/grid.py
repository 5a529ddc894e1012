"""A stage's feature maps as one picture: colormapped tiles, title, indices, range labels and colorbar.

The grid is composed as one array of 8-bit palette indices and written as a
palette PNG whose palette is the colormap, with the text drawn by Pillow in
the margins; no matplotlib figure is made for a grid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..formatting import short_number, times
from ..pipeline import Layer
from .layout import GridLayout, compose_grid, grid_layout
from .palette import BACKGROUND, FRAME, INK, LEVELS, SOFT, grid_palette, resolve_center
from .scale import normalize_maps, select_maps, value_limits
from .text import Fonts, colorbar_ticks, line_height, stamp, text_width

__all__ = ["grid_title", "scale_text", "stage_file_name", "GridPicture", "render_grid", "stage_grid"]


def grid_title(index: int, name: str, stype: str, shape: Sequence[int], shown: int | None = None,
               total: int | None = None, width: int = 2) -> str:
    """The title of a stage's picture.

    >>> grid_title(3, "pool1", "pool", (149, 224, 128), 64, 128)
    '03 pool1 (pool) · 149×224×128 · 64 of 128 shown'
    """
    t = f"{index:0{width}d} {name} ({stype}) · {times(*shape)}"
    if shown is not None and total is not None and shown < total:
        t += f" · {shown} of {total} shown"
    return t


def scale_text(normalize: str, centred: bool, cmap: str, lo: float, hi: float) -> str:
    if normalize == "fixed":
        s = f"one scale shared with other images, {short_number(lo)} … {short_number(hi)}"
    elif normalize == "map":
        s = "each map scaled to its own range"
    elif normalize == "layer":
        s = f"one scale for the stage, {short_number(lo)} … {short_number(hi)}"
    else:
        s = f"one scale for the whole run, {short_number(lo)} … {short_number(hi)}"
    if centred:
        s += " · 0 at the centre"
    return f"{cmap} · {s}"


_UNSAFE = re.compile(r"[^\w.-]")


def stage_file_name(index: int, name: str, width: int = 2, prefix: str = "") -> str:
    """``NN_<name>.png`` (``prefix`` ``filters_`` for the kernels picture)."""
    return f"{prefix}{index:0{width}d}_{_UNSAFE.sub('_', name)}.png"


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
        need = max(text_width(fonts.title, title), text_width(fonts.subtitle, subtitle))
        if need > layout.width - 2 * layout.left:
            layout, fonts = grid_layout(len(idx), h, w, columns=columns, scale=scale, labels=labels,
                                        colorbar=want_bar, dpi=dpi, title_lines=title_lines,
                                        min_width=need, colorbar_range=bar)
    canvas = np.full((layout.height, layout.width), BACKGROUND, np.uint8)
    grid = compose_grid(q, layout.rows, layout.cols, scale=layout.scale, gap=layout.gap,
                        header=layout.header, fill=BACKGROUND)
    canvas[layout.top:layout.top + grid.shape[0], layout.left:layout.left + grid.shape[1]] = grid
    frames(canvas, layout)
    if labels:
        y = layout.left  # the top margin equals the side margin
        if title:
            stamp(canvas, layout.left, y, title, fonts.title, INK)
            y += line_height(fonts.title) + round(fonts.unit * 0.2)
        if subtitle:
            stamp(canvas, layout.left, y, subtitle, fonts.subtitle, SOFT)
        show_ranges = (normalize == "map" and limits is None) if ranges is None else ranges
        for j, ch in enumerate(idx):
            top, left, _, right = layout.tile_box(j)
            y = top - layout.header + max(0, (layout.header - line_height(fonts.label)) // 2 - 1)
            wi = stamp(canvas, left, y, str(int(ch)), fonts.label, INK)
            if show_ranges:
                text = f"{short_number(float(lo[j]))} … {short_number(float(hi[j]))}"
                if text_width(fonts.label, text) + wi + 8 <= right - left:
                    stamp(canvas, right, y, text, fonts.label, SOFT, align="right")
    if bar is not None and layout.colorbar is not None:
        draw_colorbar(canvas, layout.colorbar, bar, fonts)
    return GridPicture(canvas, grid_palette(cmap), layout, idx, lo, hi, bar, title)


def frames(canvas: np.ndarray, layout: GridLayout) -> None:
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


def draw_colorbar(canvas: np.ndarray, box: tuple[int, int, int, int], rng: tuple[float, float], fonts: Fonts) -> None:
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
    lh = line_height(fonts.tick)
    for v, text in colorbar_ticks(lo, hi, max(2, min(7, n // (lh * 2) + 1))):
        y = top + (round((hi - v) / (hi - lo) * (n - 1)) if hi > lo else n - 1)
        canvas[y, right:right + 4] = ink
        ty = min(max(y - lh // 2, top - lh // 2), bottom - lh // 2)
        stamp(canvas, right + 6, ty, text, fonts.tick, INK)


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
        scale_txt = scale_text("fixed", centred, cmap, float(limits[0]), float(limits[1]))
    else:
        lo_all, hi_all = value_limits(y, normalize, center=centred, global_range=global_range)
        scale_txt = scale_text(normalize, centred, cmap, float(lo_all[0]), float(hi_all[0]))
    desc = layer.stage.describe() if layer.stage is not None else ""
    sub = f"{desc} · {scale_txt}" if desc else scale_txt
    return render_grid(y, title=title, subtitle=sub, cmap=cmap, normalize=normalize, center=centred,
                       global_range=global_range, limits=limits, max_maps=int(render_opts["max_maps"]),
                       columns=render_opts["columns"], scale=render_opts["scale"],
                       labels=bool(render_opts["labels"]), colorbar=bool(render_opts["colorbar"]),
                       dpi=int(render_opts["dpi"]))
