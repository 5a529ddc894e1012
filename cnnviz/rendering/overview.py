"""The input picture, and the overview: the input and every stage, a row each, at one pixel scale.

The overview draws every map at the same number of picture pixels per input
pixel — the input row's — so a map half the size of the input looks half
the size, and a pooled stage looks pooled.  Each tile carries its channel
index; the tiles of a stage are its strongest maps by the measure its grid
uses (energy), coloured on the grid's own scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..formatting import short_number
from .canvas import FRAME_COLOUR, INK_COLOUR, SOFT_COLOUR, Drawing, Line, Raster, Rect, text_size
from .grid import colorbar_items, text_unit
from .layout import auto_scale
from .scale import Scale, area_average

__all__ = ["input_rgb", "OverviewZoom", "overview_zoom", "render_input", "OverviewRow", "render_overview",
           "bar_items", "BAR_POSITIVE", "BAR_NEGATIVE", "BAR_LARGEST"]

#: Bar colours: positive, negative, and the largest value.
BAR_POSITIVE = (0x4C, 0x72, 0xB0)
BAR_NEGATIVE = (0xC4, 0x4E, 0x52)
BAR_LARGEST = (0xD9, 0x5F, 0x02)

#: The input row's height in the overview at dpi 100 (pixels), before the zoom is made a whole number.
ROW_HEIGHT = 132


def input_rgb(image: np.ndarray) -> np.ndarray:
    """An input (H, W, 1 | 3) in [0, 1] as (H, W, 3) uint8 (values outside [0, 1] are clipped)."""
    x = np.clip(np.nan_to_num(np.asarray(image, np.float64)), 0.0, 1.0)
    x = np.round(x * 255).astype(np.uint8)
    return x if x.shape[2] == 3 else np.repeat(x[:, :, :1], 3, axis=2)


@dataclass(frozen=True)
class OverviewZoom:
    """The overview's one pixel scale: maps are area-averaged by ``shrink``, then drawn ``pixels`` per cell."""

    shrink: int
    pixels: float

    def size(self, h: int, w: int) -> tuple[int, int]:
        """Picture pixels of an (h, w) map."""
        return (max(1, round(-(-h // self.shrink) * self.pixels)), max(1, round(-(-w // self.shrink) * self.pixels)))

    def cells(self, maps: np.ndarray, channels: np.ndarray | None = None) -> np.ndarray:
        """``maps`` (h, w, n) at the overview's resolution (area-averaged when it shrinks); only ``channels``, if given."""
        return area_average(maps, self.shrink, channels)


def overview_zoom(h: int, w: int, dpi: int, max_size: int, tiles: int = 5, label_w: int = 0) -> OverviewZoom:
    """The pixel scale that draws an (h, w) input about ``ROW_HEIGHT`` high (a whole zoom, or 1:N)
    and keeps a row of ``tiles`` such maps within ``max_size``."""
    k = dpi / 100
    target = ROW_HEIGHT * k
    if h * k <= target:
        zoom = max(1, math.floor(target / (h * k)))
        while zoom > 1 and label_w + tiles * (w * zoom * k + 8 * k) > max_size:
            zoom -= 1
        shrink, px = 1, zoom * k
    else:
        shrink, px = math.ceil(h * k / target), k
    while shrink < max(h, w) and label_w + tiles * (-(-w // shrink) * px + 8 * k) > max_size:
        shrink += 1
    return OverviewZoom(shrink, px)


@dataclass
class OverviewRow:
    """One row of the overview: a three-line label, and tiles or a vector.

    Attributes
    ----------
    heading, detail, note : str
        ``01 edges``, ``conv · 298×449×2``, ``5 of 8 maps``.
    tiles : list of ndarray
        (h, w) uint8 palette indices or (h, w, 3) RGB, at the overview's
        resolution (:meth:`OverviewZoom.cells`).
    channels : list of int
        The channel of each tile.
    size : (height, width)
        Picture pixels of one tile.
    palette : ndarray (256, 3), optional
        For index tiles.
    scale : Scale, optional
        The colour scale (a shared one gets the overview's colorbar).
    vector : ndarray (N,), optional
        Drawn as a small bar chart instead of tiles.
    vector_labels : list of str, optional
    probabilities : bool
        The vector holds probabilities: its axis is 0 … 1.
    tile_labels : list of str, optional
        What each tile is called instead of its channel (the overlay row: ``conv3 · 0``).
    """

    heading: str
    detail: str
    note: str
    tiles: list[np.ndarray]
    channels: list[int] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)
    palette: np.ndarray | None = None
    scale: Scale | None = None
    vector: np.ndarray | None = None
    vector_labels: list[str] | None = None
    probabilities: bool = False
    tile_labels: list[str] | None = None

    def label(self, j: int) -> str:
        """Tile ``j``'s label: its channel, or its ``tile_labels`` entry."""
        return self.tile_labels[j] if self.tile_labels is not None else str(self.channels[j])


def render_input(image: np.ndarray, title: str, subtitle: str, *, scale: int | None, labels: bool, dpi: int,
                 max_size: int = 4096) -> Drawing:
    """The input picture: a colour or gray image at a whole zoom (or shrunk 1:N to fit), with its title."""
    if dpi != 100:  # laid out at dpi 100, then scaled as a whole
        return render_input(image, title, subtitle, scale=scale, labels=labels, dpi=100,
                            max_size=max(1, math.floor(max_size * 100 / dpi))).scaled(dpi)
    h, w, _ = image.shape
    k = dpi / 100
    s = scale or auto_scale(h, w)
    zoom, shrink = s * k, 1
    while zoom > k and max(h, w) * zoom > max_size:
        zoom -= k
    while max(-(-h // shrink), -(-w // shrink)) * zoom > max_size:
        shrink += 1
    rgb = input_rgb(area_average(image.astype(np.float64), shrink) if shrink > 1 else image)
    th, tw = round(rgb.shape[0] * zoom), round(rgb.shape[1] * zoom)
    unit = text_unit(tw, k)
    margin = max(round(8 * k), unit)
    if shrink > 1:
        subtitle += f" · shown at 1:{shrink}"
    title_h = 0
    tsize, ssize = round(unit * 1.3), round(unit * 0.95)
    if labels:
        title_h = text_size("Ag", tsize, True)[1] + text_size("Ag", ssize)[1] + round(unit * 0.2) + round(margin * 0.6)
    width = max(tw, text_size(title, tsize, True)[0] if labels else 0,
                text_size(subtitle, ssize)[0] if labels else 0) + 2 * margin
    d = Drawing(width, margin + title_h + th + margin, dpi, title=title)
    if labels:
        d.text(margin, margin, title, tsize, INK_COLOUR, bold=True)
        d.text(margin, margin + text_size("Ag", tsize, True)[1] + round(unit * 0.2), subtitle, ssize, SOFT_COLOUR)
    d.add(Raster(margin, margin + title_h, tw, th, rgb, None, "input"))
    return d


def bar_items(d: Drawing, box: tuple[int, int, int, int], v: np.ndarray, names: Sequence[str] | None, size: int,
              *, top: float | None = None, k: float = 1.0) -> None:
    """A small bar chart of ``v`` in ``box`` (axis up to at least ``top``), the top three values named."""
    x0, y0, x1, y1 = box
    v = np.nan_to_num(np.asarray(v, np.float64))
    n = len(v)
    lo, hi = min(0.0, float(v.min())), max(0.0, float(v.max()), top or 0.0)
    if hi == lo:
        hi = lo + 1.0
    text_w = round((x1 - x0) * 0.38)
    bx0, bx1 = x0, x1 - text_w
    by0, by1 = y0 + round(4 * k), y1 - round(4 * k)

    def ypos(val: float) -> int:
        return round(by1 - (val - lo) / (hi - lo) * (by1 - by0))

    d.add(Rect(bx0, by0 - 2, bx1 + 1, by1 + 3, outline=FRAME_COLOUR))
    pitch = (bx1 - bx0 - 4) / max(n, 1)
    zero = ypos(0.0)
    largest = np.argsort(-v, kind="stable")[:3]
    for i, val in enumerate(v):
        xa = round(bx0 + 2 + i * pitch)
        xb = max(xa + 1, round(bx0 + 2 + i * pitch + max(pitch * 0.8, 1)))
        colour = BAR_LARGEST if i == largest[0] else (BAR_POSITIVE if val >= 0 else BAR_NEGATIVE)
        ya, yb = sorted((ypos(float(val)), zero))
        d.add(Rect(xa, ya, xb, max(yb, ya + 1), fill=colour))
    d.add(Line(bx0, zero, bx1, zero, SOFT_COLOUR))
    ty = y0 + round(2 * k)
    for i in largest:
        name = names[i] if names and i < len(names) else f"#{i}"
        d.text(bx1 + round(10 * k), ty, _fit(f"{name}: {short_number(float(v[i]))}", size, text_w - round(12 * k)),
               size, INK_COLOUR)
        ty += text_size("Ag", size)[1] + 2


def _fit(text: str, size: int, width: int) -> str:
    """``text`` shortened with an ellipsis to fit ``width`` pixels."""
    if text_size(text, size)[0] <= width:
        return text
    while text and text_size(text + "…", size)[0] > width:
        text = text[:-1]
    return text + "…" if text else ""


def render_overview(rows: Sequence[OverviewRow], *, title: str, subtitle: str, dpi: int = 100,
                    colorbar: Scale | None = None, max_size: int = 4096) -> Drawing:
    """The overview page: a row per stage, its label at the left, its tiles at the overview's one pixel scale.

    ``colorbar`` (a shared scale, for ``normalize: global``) adds one colorbar
    beside the stage rows (not the input's).
    """
    if dpi != 100:  # laid out at dpi 100 (the rows' tiles too), then scaled as a whole
        return render_overview(rows, title=title, subtitle=subtitle, dpi=100, colorbar=colorbar,
                               max_size=max(1, math.floor(max_size * 100 / dpi))).scaled(dpi)
    k = dpi / 100
    unit = round(14 * k)
    label_size, head_size = round(unit * 0.85), round(unit * 1.05)
    margin, gap, sep = round(16 * k), round(8 * k), round(10 * k)
    label_w = max([text_size(r.heading, head_size, True)[0] for r in rows] +
                  [text_size(r.detail, label_size)[0] for r in rows] +
                  [text_size(r.note, label_size)[0] for r in rows] + [round(180 * k)]) + round(16 * k)
    label_w = min(label_w, round(320 * k))
    lh = text_size("Ag", label_size)[1]
    min_row = 3 * lh + round(unit * 0.6)
    bar_w, bar_h = round(4.2 * ROW_HEIGHT * k), round(ROW_HEIGHT * k)
    layout: list[tuple[int, list[int], int, int]] = []  # per row: (height, [tile x offsets], tile w, tile h)
    widths = []
    for r in rows:
        if r.vector is not None:
            layout.append((max(bar_h, min_row), [], 0, 0))
            widths.append(bar_w)
            continue
        th, tw = r.size
        step = max([tw] + [text_size(r.label(j), label_size)[0] for j in range(len(r.tiles))]) + gap
        xs = [i * step for i in range(len(r.tiles))]
        layout.append((max(th + lh + round(2 * k), min_row), xs, tw, th))
        widths.append((xs[-1] + max(tw, text_size(r.label(len(xs) - 1), label_size)[0])) if xs else 0)
    tsize, ssize = round(unit * 1.3), round(unit * 0.95)
    head_h = text_size("Ag", tsize, True)[1] + text_size("Ag", ssize)[1] + round(unit * 0.8)
    cb_w = 0
    if colorbar is not None:
        cb_w = round(unit * 1.2) + round(14 * k) + round(10 * k) + max(
            text_size(t, label_size)[0] for t in ("−0.000", short_number(float(colorbar.lo[0])),
                                                  short_number(float(colorbar.hi[0]))))
    body_w = max([label_w + w for w in widths] + [text_size(title, tsize, True)[0], text_size(subtitle, ssize)[0]])
    width = margin + body_w + cb_w + margin
    height = margin + head_h + sum(h + 2 * sep for h, *_ in layout) + margin
    d = Drawing(width, height, dpi, title=title)
    d.text(margin, margin, title, tsize, INK_COLOUR, bold=True)
    d.text(margin, margin + text_size("Ag", tsize, True)[1] + round(unit * 0.2), subtitle, ssize, SOFT_COLOUR)
    y = margin + head_h
    stage_top = None
    t = max(1, round(k))
    for i, (r, (row_h, xs, tw, th)) in enumerate(zip(rows, layout, strict=True)):
        d.add(Line(margin, y, width - margin - cb_w, y, FRAME_COLOUR, t))
        y += sep
        if i == 1:
            stage_top = y
        ty = y + max(0, (row_h - 3 * lh) // 2 - unit // 2)
        d.text(margin, ty, _fit(r.heading, head_size, label_w - gap), head_size, INK_COLOUR, bold=True)
        ty += lh + round(unit * 0.25)
        d.text(margin, ty, _fit(r.detail, label_size, label_w - gap), label_size, SOFT_COLOUR)
        ty += lh + round(unit * 0.15)
        d.text(margin, ty, _fit(r.note, label_size, label_w - gap), label_size, SOFT_COLOUR)
        x0 = margin + label_w
        if r.vector is not None:
            bar_items(d, (x0, y, x0 + bar_w, y + bar_h), r.vector, r.vector_labels, label_size,
                      top=1.0 if r.probabilities else None, k=k)
        oy = y + max(0, (row_h - th - lh) // 2)
        for j, (tile, ch, dx) in enumerate(zip(r.tiles, r.channels, xs, strict=True)):
            x = x0 + dx
            d.add(Rect(x - t, oy - t, x + tw + t, oy + th + t, outline=FRAME_COLOUR, width=t))
            d.add(Raster(x, oy, tw, th, tile, r.palette if tile.ndim == 2 else None, f"{r.heading} map {ch}"))
            d.text(x, oy + th + round(2 * k), r.label(j), label_size, SOFT_COLOUR)
        y += row_h + sep
    if colorbar is not None and stage_top is not None:
        from .palette import grid_palette

        x = width - margin - cb_w + round(unit * 1.2)
        colorbar_items(d, (stage_top, x, height - margin - sep, x + round(14 * k)), colorbar,
                       rows[1].palette if len(rows) > 1 and rows[1].palette is not None else grid_palette("gray"),
                       unit, k)
    return d
