"""Where tiles go: grid shapes, integer zoom, tiling maps into one array, the layout of a grid picture."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .palette import BACKGROUND
from .text import Fonts, all_tick_labels, font_set, font_unit, line_height, text_width

__all__ = ["MIN_TILE", "MAX_TILE", "MAX_GRID", "MIN_GRID", "grid_shape", "auto_scale", "compose_grid",
           "GridLayout", "grid_layout"]


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
) -> tuple[GridLayout, Fonts]:
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
    unit = font_unit(raw_w, dpi)
    fonts = font_set(unit)
    gap = max(4, round(unit * 0.5))
    margin = max(8, round(unit * 1.0))
    header = round(line_height(fonts.label) * 1.15) if labels else 0
    title_h = 0
    if labels and title_lines:
        title_h = line_height(fonts.title) + (title_lines - 1) * line_height(fonts.subtitle) \
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
        widest = max((text_width(fonts.tick, t) for t in all_tick_labels(*(colorbar_range or (0.0, 1.0)))),
                     default=0)
        right = x0 + bar_w + 6 + widest
    width = max(right + margin, min_width + 2 * margin)
    height = max(top + grid_h, cbar[2] if cbar else 0) + margin
    layout = GridLayout(n, rows, cols, map_h, map_w, s, gap, header, top, left, width, height, cbar)
    return layout, fonts
