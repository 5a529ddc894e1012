"""Overlays: a stage's strongest maps placed exactly on the input and blended over it as heatmaps (SPEC §8).

Each map is projected with :func:`cnnviz.pipeline.geometry.project`'s rule —
output cell (i, j) paints the jump × jump block centred on
``start + (i, j) · jump`` — on its colour index, so the heatmap's cells sit
where the stack's padding and strides put them: nothing is stretched.
Colours follow the grids' scale (:func:`~cnnviz.rendering.scale.stage_scale`:
the data's own range labels, the positive half of a diverging colormap for a
stage all ≥ 0, a constant map in its value's colour); pixels no cell reaches
show the input alone, dimmed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..formatting import short_number, times
from ..pipeline.geometry import cell_indices
from .canvas import INK_COLOUR, SOFT_COLOUR, Drawing, Raster, Rect, text_size
from .grid import colorbar_items, scale_text, text_unit, wrap
from .palette import LEVELS, colormap_colors, grid_palette
from .scale import Scale, area_average, select_maps

__all__ = ["ALPHA", "background_rgb", "blend", "overlay_cmap", "overlay_picture"]

#: The heatmap's share of a blended pixel.
ALPHA = 0.6
#: How much of the input shows where no cell reaches (the rest is white).
UNCOVERED = 0.45


#: Grey colormaps: a grey heatmap over a grey input says nothing, so overlays use HEAT instead.
GREY = {"gray", "grey", "Greys", "binary", "gist_gray", "gist_grey", "gist_yarg", "bone"}
HEAT = "inferno"


def overlay_cmap(cmap: str) -> str:
    """The colormap of an overlay: the render's, unless it is a grey one (then ``inferno``).

    >>> overlay_cmap("gray"), overlay_cmap("gray_r"), overlay_cmap("RdBu_r")
    ('inferno', 'inferno', 'RdBu_r')
    """
    return HEAT if cmap.removesuffix("_r") in GREY else cmap


def background_rgb(image: np.ndarray) -> np.ndarray:
    """The input as the overlay's backdrop: (H, W, 3) float in [0, 1], grey (its luminance).

    Parameters
    ----------
    image : ndarray (H, W) or (H, W, C)
        The input as the stack saw it; a range other than [0, 1] (``input.range``,
        ``input.normalize``) is shown on its own min … max.
    """
    x = np.asarray(image, np.float64)
    x = x[:, :, None] if x.ndim == 2 else x
    x = np.nan_to_num(x)
    if x.shape[2] == 3:
        g = x @ np.array([0.2125, 0.7154, 0.0721])
    else:
        g = x.mean(axis=2)
    lo, hi = float(g.min(initial=0.0)), float(g.max(initial=0.0))
    if lo < 0.0 or hi > 1.0:
        g = (g - lo) / (hi - lo) if hi > lo else np.zeros_like(g)
    return np.repeat(g[:, :, None], 3, axis=2)


def blend(background: np.ndarray, idx: np.ndarray, start: Sequence[float], jump: Sequence[int],
          colors: np.ndarray, alpha: float = ALPHA, centre: int | None = None) -> np.ndarray:
    """One map's colour indices placed on the input grid and blended over ``background``.

    Parameters
    ----------
    background : ndarray (H, W, 3) float in [0, 1]
    idx : ndarray (h, w) uint8
        The map's colour indices (rows of ``colors``).
    start, jump : the stage's geometry (rows, columns), input pixels
    colors : ndarray (L, 3) uint8
    centre : int, optional
        The colour index of 0 on a centred scale: the opacity then grows with
        the distance from it (``alpha · sqrt(|idx − centre| / (L/2))``), so values near 0
        leave the input visible and only strong ± responses are coloured.

    Returns
    -------
    ndarray (H, W, 3) uint8
        ``(1 − a) · background + a · colour`` where a cell's block reaches
        (``a = alpha``, or as above), the background faded towards white elsewhere.
    """
    h, w = background.shape[:2]
    iy = cell_indices(np.arange(h), float(start[0]), int(jump[0]), idx.shape[0])
    ix = cell_indices(np.arange(w), float(start[1]), int(jump[1]), idx.shape[1])
    cells = idx[np.clip(iy, 0, None)][:, np.clip(ix, 0, None)]
    heat = colors[cells].astype(np.float64) / 255.0
    covered = (iy >= 0)[:, None] & (ix >= 0)[None, :]
    a: np.ndarray | float = alpha
    if centre is not None:
        a = (alpha * np.sqrt(np.minimum(1.0, np.abs(cells.astype(np.float64) - centre) / (len(colors) / 2))))[
            :, :, None]
    out = np.where(covered[:, :, None], (1.0 - a) * background + a * heat,
                   UNCOVERED * background + (1.0 - UNCOVERED))
    return np.round(np.clip(out, 0.0, 1.0) * 255.0).astype(np.uint8)


def overlay_picture(
    maps: np.ndarray,
    background: np.ndarray,
    scale: Scale,
    *,
    start: Sequence[float],
    jump: Sequence[int],
    receptive_field: Sequence[int],
    title: str,
    subtitle: str = "",
    cmap: str = "gray",
    count: int = 4,
    tile_names: Sequence[str] | None = None,
    labels: bool = True,
    colorbar: bool = True,
    dpi: int = 100,
    max_size: int = 4096,
) -> Drawing:
    """The overlay picture of one stage: its ``count`` strongest maps, each blended over the input.

    Parameters
    ----------
    maps : ndarray (h, w, N)
        The stage's output.
    background : ndarray (H, W, 3) float in [0, 1]
        :func:`background_rgb` of the input.
    scale : Scale
        The stage's colour scale (the grid's), for all N maps.
    start, jump, receptive_field : the stage's geometry
    title, subtitle : str
    cmap : str
    count : int
        How many maps (the strongest, by the grids' measure).
    tile_names : list of N str, optional
        A name per channel (``sobel_x``).
    labels, colorbar : bool
    dpi, max_size : int
        Laid out at dpi 100 and scaled; no side longer than ``max_size``.

    Returns
    -------
    Drawing
    """
    if dpi != 100:
        return overlay_picture(maps, background, scale, start=start, jump=jump, receptive_field=receptive_field,
                               title=title, subtitle=subtitle, cmap=cmap, count=count, tile_names=tile_names,
                               labels=labels, colorbar=colorbar, dpi=100,
                               max_size=max(1, math.floor(max_size * 100 / dpi))).scaled(dpi)
    sel = select_maps(maps, count)
    colors = colormap_colors(cmap, LEVELS)
    idx = scale.indices(maps[:, :, sel], sel)
    centre = LEVELS // 2 if scale.centred else None
    tiles = [blend(background, idx[:, :, j], start, jump, colors, centre=centre) for j in range(len(sel))]
    h, w = background.shape[:2]
    n = len(tiles)
    cols = min(n, 4) if n != 4 or w > h else 2
    rows = -(-n // cols)
    zoom = max(1, min(48, 360 // max(h, w)))
    gap = 12
    unit = 13
    lsize = round(unit * 0.85)
    lh = text_size("Ag", lsize)[1]
    names = [str(int(ch)) + (f" · {tile_names[int(ch)]}" if tile_names is not None and int(ch) < len(tile_names)
                             else "") for ch in sel]
    ranges = [f"{short_number(float(scale.data_lo[ch]))} … {short_number(float(scale.data_hi[ch]))}" for ch in sel]
    shrink = 1
    while True:
        tw, th = -(-w // shrink) * zoom, -(-h // shrink) * zoom
        two = any(text_size(a, lsize)[0] + text_size(b, lsize)[0] + 8 > tw for a, b in zip(names, ranges,
                                                                                        strict=True))
        head = ((2 if two else 1) * lh + 4) if labels else 0
        comp_w, comp_h = cols * tw + (cols - 1) * gap, rows * (head + th) + (rows - 1) * gap
        unit = text_unit(comp_w, 1.0)
        margin = round(unit * 1.3)
        tsize, ssize = round(unit * 1.3), round(unit * 0.95)
        cb = round(unit * 1.6) + unit + round(unit * 0.85 * 7) if colorbar else 0
        parts = [subtitle, f"each cell on its {times(*jump)}-pixel block, receptive field {times(*receptive_field)}",
                 scale_text(scale, cmap),
                 (f"blended over the input (grey), up to {round(ALPHA * 100)} % as √|value| grows; faded: no cell"
                  if scale.centred else f"blended {round(ALPHA * 100)} % over the input (grey); faded: no cell")]
        if shrink > 1:
            parts.append(f"shown at 1:{shrink}")
        sub_lines = wrap([p for p in parts if p], ssize, max(comp_w + cb, unit * 30)) if labels else []
        top = margin + ((text_size("Ag", tsize, True)[1] + round(unit * 0.3) + len(sub_lines)
                         * text_size("Ag", ssize)[1] + round(unit * 0.6)) if labels else 0)
        width = max(2 * margin + comp_w + cb, 2 * margin + (text_size(title, tsize, True)[0] if labels else 0),
                    2 * margin + max((text_size(s, ssize)[0] for s in sub_lines), default=0))
        height = top + comp_h + margin
        if max(width, height) <= max_size or (zoom == 1 and (tw <= 1 or th <= 1)):
            break
        if zoom > 1:
            zoom -= 1
        else:
            shrink += 1
    d = Drawing(width, height, dpi, title=title)
    if labels:
        d.text(margin, margin, title, tsize, INK_COLOUR, bold=True)
        y = margin + text_size("Ag", tsize, True)[1] + round(unit * 0.3)
        for line in sub_lines:
            d.text(margin, y, line, ssize, SOFT_COLOUR)
            y += text_size("Ag", ssize)[1]
    for j, (ch, tile) in enumerate(zip(sel, tiles, strict=True)):
        r, c = divmod(j, cols)
        x0, y0 = margin + c * (tw + gap), top + r * (head + th + gap) + head
        shown = np.round(area_average(tile.astype(np.float64), shrink)).astype(np.uint8) if shrink > 1 else tile
        d.add(Raster(x0, y0, tw, th, shown, None, f"overlay {int(ch)}"))  # at the input's resolution, zoomed
        d.add(Rect(x0 - 1, y0 - 1, x0 + tw + 1, y0 + th + 1, outline=(0xC8, 0xC8, 0xC8)))
        if labels:
            if two:
                d.text(x0, y0 - 3 - lh, names[j], lsize, INK_COLOUR, anchor="ld")
                d.text(x0, y0 - 3, ranges[j], lsize, SOFT_COLOUR, anchor="ld")
            else:
                d.text(x0, y0 - 3, names[j], lsize, INK_COLOUR, anchor="ld")
                d.text(x0 + tw, y0 - 3, ranges[j], lsize, SOFT_COLOUR, anchor="rd")
    if colorbar:
        cb_x = margin + comp_w + round(unit * 1.6)
        colorbar_items(d, (top + head, cb_x, top + comp_h, cb_x + unit), scale, grid_palette(cmap), unit, 1.0)
    return d
