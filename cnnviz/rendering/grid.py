"""A stage's feature maps as one picture: tiles, their names and ranges, a title and a colorbar.

The rules the picture keeps (SPEC §3, "Pictures tell the truth"):

* each tile's range label is its data's own min … max; the colour scale (its
  own, shared, centred or clipped) is what the colorbar and subtitle show;
* a stage all ≥ 0 under a diverging colormap uses its upper half only (0 the
  centre colour) and its colorbar shows only that half; a constant map is
  drawn in the colour its value has (:func:`~cnnviz.rendering.scale.stage_scale`);
* ``dpi`` scales everything — maps, text, lines, gaps — so dpi 300 is the
  dpi 100 picture at three times the resolution;
* no side is longer than ``max_size``: the zoom steps down, then the maps are
  shrunk by area averaging (the subtitle says "shown at 1:N"), and only when
  even that does not fit are fewer (the strongest) maps shown;
* no label is dropped: a tile whose name and range do not fit on one line
  gets two, and a column is as wide as its labels need.

The picture is a :class:`~cnnviz.rendering.canvas.Drawing`: the PNG (a
palette image), SVG and PDF are made from the same layout.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..formatting import short_number, times
from ..pipeline import Layer
from .canvas import FRAME_COLOUR, INK_COLOUR, SOFT_COLOUR, Drawing, Line, Raster, Rect, rasterize, text_size
from .layout import auto_scale, grid_shape
from .palette import grid_palette, resolve_center
from .reduce import summary
from .scale import Scale, area_average, select_maps, stage_scale
from .text import nice_ticks, tick_label

__all__ = ["MAX_SIZE", "grid_title", "scale_text", "stage_file_name", "GridLayout", "GridPicture", "text_unit",
           "wrap", "colorbar_items", "render_grid", "stage_grid"]

#: The longest side of any picture, in pixels, unless ``render.max_size`` says otherwise.
MAX_SIZE = 4096
#: Tiles are not made smaller than this (device pixels, at dpi 100) before fewer maps are shown.
MIN_TILE_PX = 24


def text_unit(width: float, k: float) -> int:
    """The base text size (device pixels) of a picture ``width`` device pixels wide at ``k`` = dpi / 100.

    It grows with the picture (1/64 of its width, 13 to 34 at dpi 100) so that
    text stays legible when a large picture is shrunk onto a slide.
    """
    return max(9, round(min(max(width / k / 64, 13), 34) * k))


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


def scale_text(scale: Scale, cmap: str) -> str:
    """What the colours mean, in words: ``RdBu_r · each map its own range · 0 at the centre``."""
    lo, hi = (float(scale.lo[0]), float(scale.hi[0])) if len(scale.lo) else (0.0, 0.0)
    if scale.mode == "map":
        s = "each map its own range"
    else:
        what = {"layer": "one scale for the stage", "global": "one scale for the whole run",
                "fixed": "one scale shared with other images"}[scale.mode]
        s = f"{what}, {short_number(lo)} … {short_number(hi)}"
    if scale.centred:
        s += " · 0 at the centre" + {"positive": ", all values ≥ 0", "negative": ", all values ≤ 0"}.get(
            scale.half or "", "")
    if scale.clip:
        s += f" · range clipped at the {short_number(scale.clip)}th percentile"
    return f"{cmap} · {s}"


_UNSAFE = re.compile(r"[^\w.-]")


def stage_file_name(index: int, name: str, width: int = 2, prefix: str = "", ext: str = "png") -> str:
    """``NN_<name>.png`` (``prefix`` ``filters_`` for the kernels picture)."""
    return f"{prefix}{index:0{width}d}_{_UNSAFE.sub('_', name)}.{ext}"


def wrap(parts: Sequence[str], size: int, width: int, sep: str = " · ") -> list[str]:
    """Join ``parts`` with ``sep`` into lines no wider than ``width`` pixels at text ``size`` (a part never splits)."""
    lines: list[str] = []
    for p in (p for p in parts if p):
        if lines and text_size(lines[-1] + sep + p, size)[0] <= width:
            lines[-1] += sep + p
        else:
            lines.append(p)
    return lines


@dataclass(frozen=True)
class GridLayout:
    """Where everything goes in a grid picture (device pixels, origin top left).

    Attributes
    ----------
    n, rows, cols : int
        Tiles shown and their arrangement.
    map_h, map_w : int
        A map's size in its own cells.
    zoom : float
        Picture pixels per map cell: an integer zoom, or ``1 / shrink``.
    shrink : int
        Maps were area-averaged by this factor (1: not shrunk).
    tile_h, tile_w : int
        A tile's size.
    slot_w : int
        A column's width (at least the tile's, wider when its labels need it).
    gap, header : int
        Pixels between tiles; the label strip above each tile.
    top, left : int
        Where the first tile's label strip starts.
    width, height : int
        The whole picture.
    colorbar : (top, left, bottom, right) or None
        The colour strip (exclusive bottom/right).
    unit : int
        The base text size.
    """

    n: int
    rows: int
    cols: int
    map_h: int
    map_w: int
    zoom: float
    shrink: int
    tile_h: int
    tile_w: int
    slot_w: int
    gap: int
    header: int
    top: int
    left: int
    width: int
    height: int
    colorbar: tuple[int, int, int, int] | None
    unit: int
    title_lines: tuple[str, ...] = ()
    two_line_labels: bool = False
    boxes: tuple[tuple[int, int, int, int], ...] = ()

    def scaled(self, dpi: int) -> GridLayout:
        """This layout (made at dpi 100) at ``dpi``, with the tile boxes of :meth:`Drawing.scaled`."""
        k = dpi / 100

        def e(v: float) -> int:
            return round(v * k)

        boxes = tuple((e(t), e(left), e(b), e(r)) for t, left, b, r in (self.tile_box(i) for i in range(self.n)))
        cb = tuple(e(v) for v in self.colorbar) if self.colorbar else None
        return dataclasses.replace(
            self, zoom=self.zoom * k, tile_h=e(self.tile_h), tile_w=e(self.tile_w), slot_w=e(self.slot_w),
            gap=e(self.gap), header=e(self.header), top=e(self.top), left=e(self.left), width=e(self.width),
            height=e(self.height), colorbar=cb, unit=e(self.unit), boxes=boxes)  # type: ignore[arg-type]

    @property
    def scale(self) -> int | float:
        """The zoom: an int when it is a whole number of pixels per map cell."""
        return int(self.zoom) if float(self.zoom).is_integer() else self.zoom

    @property
    def grid_h(self) -> int:
        return self.rows * (self.header + self.tile_h) + (self.rows - 1) * self.gap

    @property
    def grid_w(self) -> int:
        return self.cols * self.slot_w + (self.cols - 1) * self.gap

    def tile_box(self, i: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) of tile ``i`` (0-based position in the grid)."""
        if self.boxes:
            return self.boxes[i]
        r, c = divmod(i, self.cols)
        top = self.top + r * (self.header + self.tile_h + self.gap) + self.header
        left = self.left + c * (self.slot_w + self.gap) + (self.slot_w - self.tile_w) // 2
        return top, left, top + self.tile_h, left + self.tile_w


@dataclass
class GridPicture:
    """A rendered grid: its drawing, and what it shows.

    ``pixels`` and ``palette`` (the PNG: palette indices, and the 256 colours)
    are made from ``drawing`` on first use.
    """

    drawing: Drawing
    layout: GridLayout
    indices: np.ndarray
    scale: Scale
    colorbar: tuple[float, float] | None
    title: str
    _raster: tuple[np.ndarray, np.ndarray | None] | None = field(default=None, repr=False)

    def _px(self) -> tuple[np.ndarray, np.ndarray | None]:
        if self._raster is None:
            self._raster = rasterize(self.drawing)
        return self._raster

    @property
    def pixels(self) -> np.ndarray:
        return self._px()[0]

    @property
    def palette(self) -> np.ndarray | None:
        return self._px()[1]

    @property
    def lo(self) -> np.ndarray:
        """The value of the lowest colour used, per shown map."""
        return self.scale.lo[self.indices]

    @property
    def hi(self) -> np.ndarray:
        return self.scale.hi[self.indices]


def _zooms(s0: int, k: float, h: int, w: int) -> list[tuple[float, int]]:
    """(zoom, shrink) candidates, largest first: integer zooms × dpi, then whole picture pixels, then 1:N."""
    out: list[tuple[float, int]] = [(s * k, 1) for s in range(max(1, s0), 0, -1)]
    out += [(float(z), 1) for z in range(math.floor(k) - (1 if k == math.floor(k) else 0), 0, -1) if z < k]
    longest = max(h, w)
    n = 2
    while longest / n * k >= 2:
        out.append((k / n, n))
        n += 1 if n < 8 else max(1, n // 4)
    unique: dict[float, tuple[float, int]] = {}
    for z, sh in sorted(out, key=lambda t: -t[0]):
        unique.setdefault(z, (z, sh))
    return list(unique.values())


def colorbar_items(d: Drawing, box: tuple[int, int, int, int], scale: Scale, palette: np.ndarray, unit: int,
                   k: float, noun: str = "map") -> None:
    """Add a colorbar for ``scale`` in ``box``: only the colours the scale uses; numbers when it is shared."""
    top, left, bottom, right = box
    n = bottom - top
    strip = np.round(np.linspace(scale.c_hi, scale.c_lo, max(n, 1))).astype(np.uint8)[:, None]
    d.add(Rect(left - 1, top - 1, right + 1, bottom + 1, outline=SOFT_COLOUR))
    d.add(Raster(left, top, right - left, n, strip, palette, "colorbar"))
    size = round(unit * 0.85)
    tick = max(2, round(4 * k))

    def mark(y: float, text: str) -> None:
        yy = top + round(y)
        d.add(Line(right, yy, right + tick, yy, SOFT_COLOUR, max(1, round(k))))
        d.text(right + tick + round(3 * k), yy, text, size, INK_COLOUR, anchor="lm")

    lo, hi = float(scale.lo[0]), float(scale.hi[0])
    if scale.shared and hi > lo:
        count = max(2, min(7, n // (size * 2) + 1))
        ticks = nice_ticks(lo, hi, count)
        step = ticks[1] - ticks[0] if len(ticks) > 1 else hi - lo
        for v in ticks:
            mark((hi - v) / (hi - lo) * (n - 1), tick_label(v, step))
    elif scale.shared:
        mark((n - 1) / 2, short_number(lo))
    elif scale.half == "positive":
        mark(0, f"{noun} max")
        mark(n - 1, "0")
    elif scale.half == "negative":
        mark(0, "0")
        mark(n - 1, f"{noun} min")
    elif scale.centred:
        mark(0, f"+max |{noun}|")
        mark((n - 1) / 2, "0")
        mark(n - 1, f"−max |{noun}|")
    else:
        mark(0, f"{noun} max")
        mark(n - 1, f"{noun} min")


def _colorbar_labels(scale: Scale, n_px: int, size: int) -> list[str]:
    if scale.shared:
        lo, hi = float(scale.lo[0]), float(scale.hi[0])
        if hi <= lo:
            return [short_number(lo)]
        labels = []
        for count in range(2, 8):
            ticks = nice_ticks(lo, hi, count)
            step = ticks[1] - ticks[0] if len(ticks) > 1 else hi - lo
            labels += [tick_label(v, step) for v in ticks]
        return labels
    return ["map max", "map min", "+max |map|", "−max |map|"]


def render_grid(
    maps: np.ndarray,
    *,
    title: str = "",
    subtitle: str | Sequence[str] = "",
    cmap: str = "gray",
    normalize: str = "map",
    center: bool = False,
    global_range: tuple[float, float] | None = None,
    limits: tuple[float, float] | None = None,
    clip: float | None = None,
    max_maps: int = 64,
    columns: int | None = None,
    scale: int | None = None,
    labels: bool = True,
    colorbar: bool = True,
    dpi: int = 100,
    ranges: bool | None = None,
    max_size: int = MAX_SIZE,
    tile_names: Sequence[str] | None = None,
    reference: float = 0.0,
    heading: Any = None,
    pinned: int | None = None,
    rgb_tiles: Mapping[int, np.ndarray] | None = None,
    colour_scale: Scale | None = None,
) -> GridPicture:
    """Colormap and tile a stage's maps into one picture.

    Parameters
    ----------
    maps : ndarray (H, W, N)
    title : str
        The first line (bold).  ``heading(shown, total)`` may build it once
        the number of maps shown is known.
    subtitle : str or list of str
        Parts of the second line(s), joined with `` · `` and wrapped; when the
        maps had to be shrunk to fit ``max_size``, ``shown at 1:N`` is added.
    cmap, normalize, center, global_range, limits, clip, reference :
        The colour scale (:func:`~cnnviz.rendering.scale.stage_scale`).
    max_maps : int
        More maps than this: the strongest are shown (:func:`~cnnviz.rendering.scale.select_maps`).
    columns, scale : int, optional
        Grid columns (default near-square) and integer zoom at dpi 100
        (default :func:`~cnnviz.rendering.layout.auto_scale`).
    labels : bool
        Title, tile names and ranges.
    colorbar : bool
        Draw the colorbar (numbers for a shared scale; what the ends mean for ``map``).
    dpi : int
        Everything is drawn at ``dpi / 100`` times its size at 100.
    ranges : bool, optional
        Write each tile's own data range [yes].
    max_size : int
        The longest side of the picture, in pixels.
    tile_names : list of str, optional
        One name per channel (``sobel_x``), written after its index.
    pinned : int, optional
        A channel always shown, last (``render.reduce``'s summary map).
    rgb_tiles : dict of int to ndarray (H, W, 3) uint8, optional
        Channels drawn as these colours instead of on the scale, without a
        range label (the PCA tile).
    colour_scale : Scale, optional
        These maps' ``stage_scale`` with these settings, when the caller has it (not computed again).

    Returns
    -------
    GridPicture
    """
    if dpi != 100:  # laid out at dpi 100, then the whole figure scaled: dpi 300 is dpi 100 at 3× the resolution
        pic = render_grid(maps, title=title, subtitle=subtitle, cmap=cmap, normalize=normalize, center=center,
                          global_range=global_range, limits=limits, clip=clip, max_maps=max_maps, columns=columns,
                          scale=scale, labels=labels, colorbar=colorbar, dpi=100, ranges=ranges,
                          max_size=max(1, math.floor(max_size * 100 / dpi)), tile_names=tile_names,
                          reference=reference, heading=heading, pinned=pinned, rgb_tiles=rgb_tiles,
                          colour_scale=colour_scale)
        return GridPicture(pic.drawing.scaled(dpi), pic.layout.scaled(dpi), pic.indices, pic.scale, pic.colorbar,
                           pic.title)
    h, w, total = maps.shape
    k = dpi / 100
    sc = colour_scale if colour_scale is not None else stage_scale(
        maps, normalize, center=center, global_range=global_range, limits=limits, clip=clip, reference=reference)
    palette = grid_palette(cmap)
    show_ranges = labels and (True if ranges is None else ranges)
    want_bar = bool(colorbar)
    n = min(total, max_maps)
    while True:
        if pinned is None:
            idx = select_maps(maps, n)
        else:
            rest = np.delete(np.arange(total), pinned)
            idx = np.append(rest[select_maps(maps[:, :, rest], max(1, n - 1))] if n > 1 else [], pinned).astype(int)
        head = heading(len(idx), total) if heading is not None else title
        lay = _fit(idx, h, w, k, sc, head, subtitle, columns=columns, scale=scale, labels=labels,
                   show_ranges=show_ranges, colorbar=want_bar, max_size=max_size, tile_names=tile_names)
        if lay is not None or n == 1:
            break
        n = max(1, min(n - 1, math.ceil(n * 0.7)))
    if lay is None:  # one map that cannot fit: the smallest zoom there is
        lay = _fit(idx, h, w, k, sc, head, subtitle, columns=columns, scale=scale, labels=labels,
                   show_ranges=show_ranges, colorbar=want_bar, max_size=max_size, tile_names=tile_names,
                   force=True)
        assert lay is not None
    d = Drawing(lay.width, lay.height, dpi, title=head)
    shown = maps[:, :, idx] if len(idx) < total or pinned is not None else maps
    data = area_average(shown, lay.shrink)
    q = sc.indices(data, idx)
    margin = lay.left
    if labels and lay.title_lines:
        y = margin
        d.text(margin, y, lay.title_lines[0], round(lay.unit * 1.3), INK_COLOUR, bold=True)
        y += text_size("Ag", round(lay.unit * 1.3), True)[1] + round(lay.unit * 0.2)
        for line in lay.title_lines[1:]:
            d.text(margin, y, line, round(lay.unit * 0.95), SOFT_COLOUR)
            y += text_size("Ag", round(lay.unit * 0.95))[1]
    label_size = round(lay.unit * 0.85)
    line_h = text_size("Ag", label_size)[1]
    t = max(1, round(k))
    for j, ch in enumerate(idx):
        top, left, bottom, right = lay.tile_box(j)
        d.add(Rect(left - t, top - t, right + t, bottom + t, outline=FRAME_COLOUR, width=t))
        if rgb_tiles is not None and int(ch) in rgb_tiles:
            rgb = rgb_tiles[int(ch)]
            rgb = np.round(area_average(rgb.astype(np.float64), lay.shrink)).astype(np.uint8) if lay.shrink > 1 else rgb
            d.add(Raster(left, top, right - left, bottom - top, rgb, None, f"map {int(ch)}"))
        else:
            d.add(Raster(left, top, right - left, bottom - top, q[:, :, j], palette, f"map {int(ch)}"))
        if labels:
            slot_left = lay.left + (j % lay.cols) * (lay.slot_w + lay.gap)
            y = top - lay.header + max(0, round(lay.unit * 0.1))
            name = tile_names[int(ch)] if int(ch) == pinned and tile_names is not None else _tile_name(int(ch),
                                                                                                      tile_names)
            d.text(slot_left, y, name, label_size, INK_COLOUR)
            if show_ranges and not (rgb_tiles is not None and int(ch) in rgb_tiles):
                text = f"{short_number(float(sc.data_lo[ch]))} … {short_number(float(sc.data_hi[ch]))}"
                if lay.two_line_labels:
                    d.text(slot_left, y + line_h, text, label_size, SOFT_COLOUR)
                else:
                    d.text(slot_left + lay.slot_w, y, text, label_size, SOFT_COLOUR, anchor="ra")
    bar = None
    if want_bar and lay.colorbar is not None:
        colorbar_items(d, lay.colorbar, sc, palette, lay.unit, k)
        if sc.shared:
            bar = (float(sc.lo[0]), float(sc.hi[0]))
    return GridPicture(d, lay, idx, sc, bar, head)


def _tile_name(ch: int, names: Sequence[str] | None) -> str:
    return f"{ch} · {names[ch]}" if names is not None and ch < len(names) and names[ch] else str(ch)


def _fit(idx: np.ndarray, h: int, w: int, k: float, sc: Scale, title: str, subtitle: str | Sequence[str], *,
         columns: int | None, scale: int | None, labels: bool, show_ranges: bool, colorbar: bool, max_size: int,
         tile_names: Sequence[str] | None, force: bool = False) -> GridLayout | None:
    """The largest layout of ``idx``'s maps that fits ``max_size`` (None: none does, with tiles of a useful size)."""
    n = len(idx)
    rows0, cols0 = grid_shape(n, columns, aspect=w / max(h, 1))
    s0 = scale or auto_scale(h, w, rows0, cols0)
    parts = [subtitle] if isinstance(subtitle, str) else list(subtitle)
    names = [_tile_name(int(c), tile_names) for c in idx]
    rng = [f"{short_number(float(sc.data_lo[c]))} … {short_number(float(sc.data_hi[c]))}" for c in idx]
    last = None
    for zoom, shrink in _zooms(s0, k, h, w):
        tile_h = max(1, round((h if shrink == 1 else -(-h // shrink)) * (zoom if shrink == 1 else k)))
        tile_w = max(1, round((w if shrink == 1 else -(-w // shrink)) * (zoom if shrink == 1 else k)))
        if min(tile_h, tile_w) < MIN_TILE_PX * k and not force and last is not None:
            return None
        here = parts + ([f"shown at 1:{shrink}"] if shrink > 1 else [])
        lay = _layout(n, h, w, zoom, shrink, tile_h, tile_w, k, sc, title, here, names, rng, columns=columns,
                      labels=labels, show_ranges=show_ranges, colorbar=colorbar)
        last = lay
        if max(lay.width, lay.height) <= max_size:
            return lay
    return last if force else None


def _layout(n: int, h: int, w: int, zoom: float, shrink: int, tile_h: int, tile_w: int, k: float, sc: Scale,
            title: str, parts: list[str], names: list[str], rng: list[str], *, columns: int | None, labels: bool,
            show_ranges: bool, colorbar: bool) -> GridLayout:
    rows, cols = grid_shape(n, columns, aspect=tile_w / max(tile_h, 1))
    unit = text_unit(cols * tile_w, k)
    for _ in range(2):  # the text size follows the width, which follows the labels' widths
        label_size = round(unit * 0.85)
        line_h = text_size("Ag", label_size)[1]
        left_w = max((text_size(t, label_size)[0] for t in names), default=0) if labels else 0
        right_w = max((text_size(t, label_size)[0] for t in rng), default=0) if show_ranges else 0
        pad = round(unit * 0.6)
        two = show_ranges and left_w + pad + right_w > tile_w
        need = (max(left_w, right_w) if two else left_w + (pad + right_w if show_ranges else 0))
        slot_w = max(tile_w, need)
        header = (line_h * (2 if two else 1) + round(unit * 0.3)) if labels else 0
        if not columns:
            rows, cols = grid_shape(n, None, aspect=slot_w / max(tile_h + header, 1))
        gap = max(round(4 * k), round(unit * 0.5))
        grid_w = cols * slot_w + (cols - 1) * gap
        new_unit = text_unit(grid_w, k)
        if new_unit == unit:
            break
        unit = new_unit
    margin = max(round(8 * k), unit)
    grid_h = rows * (header + tile_h) + (rows - 1) * gap
    cb_w = 0
    bar_w = max(round(12 * k), round(unit * 1.1))
    if colorbar:
        size = round(unit * 0.85)
        widest = max(text_size(t, size)[0] for t in _colorbar_labels(sc, grid_h, size))
        cb_w = max(margin, round(unit * 1.2)) + bar_w + round(4 * k) + round(3 * k) + widest
    body_w = grid_w + cb_w
    lines: tuple[str, ...] = ()
    title_h = 0
    if labels and (title or any(parts)):
        avail = max(body_w, text_size(title, round(unit * 1.3), True)[0] if title else 0, round(unit * 24))
        sub = wrap(parts, round(unit * 0.95), avail)
        lines = (title, *sub)
        title_h = (text_size("Ag", round(unit * 1.3), True)[1] + round(unit * 0.2)
                   + len(sub) * text_size("Ag", round(unit * 0.95))[1] + round(margin * 0.6))
        body_w = max(body_w, text_size(title, round(unit * 1.3), True)[0],
                     max((text_size(x, round(unit * 0.95))[0] for x in sub), default=0))
    top = margin + title_h
    cbar = None
    if colorbar:
        x0 = margin + grid_w + max(margin, round(unit * 1.2))
        y0 = top + header
        y1 = max(top + grid_h, y0 + 4 * unit)
        cbar = (y0, x0, y1, x0 + bar_w)
    width = margin + body_w + margin
    height = max(top + grid_h, cbar[2] if cbar else 0) + margin
    return GridLayout(n, rows, cols, h, w, zoom if shrink == 1 else 1 / shrink, shrink, tile_h, tile_w, slot_w,
                      gap, header, top, margin, width, height, cbar, unit, lines, bool(labels and two))


def stage_grid(
    layer: Layer,
    render_opts: Mapping[str, Any],
    *,
    global_range: tuple[float, float] | None = None,
    width: int = 2,
    limits: tuple[float, float] | None = None,
    reference: float = 0.0,
    tile_names: Sequence[str] | None = None,
) -> GridPicture:
    """The grid picture of one stage, exactly as the writer draws it.

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
        A fixed colour range for every map of the stage (shared by the
        images of a ``cnnviz batch --shared-scale``); replaces ``normalize``.
    reference : float
        The largest magnitude of the stage's input: values that differ by
        less than 1e-6 of it are drawn equal.
    tile_names : list of str, optional
        A name per channel [the stage type's own: a conv's kernel sources].
    """
    y = layer.output
    o = render_opts
    cmap = o["cmap"]
    centred = resolve_center(o["center"], cmap)
    ps = layer.stage
    desc = ps.describe() if ps is not None else ""
    names = tile_names if tile_names is not None else (ps.tile_labels() if ps is not None else None)

    mode = str(o.get("reduce") or "none")
    extra = 1 if mode != "none" and y.shape[2] > 1 else 0
    shape = y.shape

    def heading(shown: int, total: int) -> str:
        return grid_title(layer.index, layer.name, layer.type, shape, shown - extra, total - extra, width=width)

    probe = stage_scale(y, o["normalize"], center=centred, global_range=global_range, limits=limits,
                        clip=o.get("clip"), reference=reference)
    pinned, rgb_tiles, parts = None, None, [desc, scale_text(probe, cmap)]
    if extra:
        values, rgb, label = summary(y, mode)
        n = y.shape[2]
        y = np.concatenate([y, values.astype(y.dtype)[:, :, None]], axis=2)
        short = {"mean": "mean of all", "max": "max of all", "pca": "PCA as RGB"}[mode]
        names = [*(names if names is not None and len(names) == n else [""] * n), short]
        pinned, rgb_tiles = n, ({n: rgb} if rgb is not None else None)
        parts.append(f"the last tile: {label}")
    pic = render_grid(y, title="", subtitle=parts, cmap=cmap, normalize=o["normalize"],
                      center=centred, global_range=global_range, limits=limits, clip=o.get("clip"),
                      max_maps=int(o["max_maps"]), columns=o["columns"], scale=o["scale"],
                      labels=bool(o["labels"]), colorbar=bool(o["colorbar"]), dpi=int(o["dpi"]),
                      max_size=int(o.get("max_size") or MAX_SIZE), tile_names=names, reference=reference,
                      heading=heading, pinned=pinned, rgb_tiles=rgb_tiles, colour_scale=None if extra else probe)
    return pic
