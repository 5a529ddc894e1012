"""A picture as a list of things to draw, and its raster backend (PNG pixels).

Every picture (grid, input, overview, filters, bars) is laid out once as a
:class:`Drawing`: text, rectangles, lines and rasters (maps) at device-pixel
positions for its dpi.  Backends turn the same drawing into pixels
(:func:`rasterize`, here), SVG (:mod:`~cnnviz.rendering.vector`) or PDF, so
the vector files show exactly what the PNG shows, with text as text and maps
as embedded images at their own resolution.

:func:`rasterize` writes an 8-bit palette picture whenever it can — every
map is colormap indices of one palette and every text, line and rectangle
uses the page's own colours — since that is both the smallest PNG and the
fastest to compose; otherwise an RGB picture.  Maps are resampled
nearest-neighbour to their box (never smoothed); shrinking is done on the
data, by area averaging, before a map becomes a raster (:mod:`~cnnviz.rendering.scale`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from .palette import BACKGROUND, FRAME, FRAME_RGB, INK, INK_RGB, SOFT, SOFT_RGB, WHITE
from .text import font

__all__ = ["RGB", "INK_COLOUR", "SOFT_COLOUR", "FRAME_COLOUR", "WHITE_COLOUR", "Text", "Rect", "Line", "Raster",
           "Drawing", "text_mask", "text_size", "rasterize", "nearest"]

RGB = tuple[int, int, int]

#: The page's own colours: text, secondary text, frames, background.
INK_COLOUR: RGB = tuple(int(v) for v in INK_RGB)  # type: ignore[assignment]
SOFT_COLOUR: RGB = tuple(int(v) for v in SOFT_RGB)  # type: ignore[assignment]
FRAME_COLOUR: RGB = tuple(int(v) for v in FRAME_RGB)  # type: ignore[assignment]
WHITE_COLOUR: RGB = tuple(int(v) for v in WHITE)  # type: ignore[assignment]


@dataclass(frozen=True)
class Text:
    """One line of text.  ``anchor`` is Pillow's: horizontal l/m/r, vertical a (ascender)/m/s (baseline)/d."""

    x: float
    y: float
    text: str
    size: int
    color: RGB = INK_COLOUR
    bold: bool = False
    anchor: str = "la"


@dataclass(frozen=True)
class Rect:
    """A rectangle ``x0 <= x < x1``, ``y0 <= y < y1``, filled and/or outlined (outline drawn inside)."""

    x0: int
    y0: int
    x1: int
    y1: int
    fill: RGB | None = None
    outline: RGB | None = None
    width: int = 1


@dataclass(frozen=True)
class Line:
    """A horizontal or vertical line (others are drawn as their bounding box would be)."""

    x0: int
    y0: int
    x1: int
    y1: int
    color: RGB = SOFT_COLOUR
    width: int = 1


@dataclass(frozen=True, eq=False)
class Raster:
    """Pixels shown in the box ``(x, y, x + w, y + h)``, resampled nearest-neighbour from ``data``.

    ``data`` is (rows, cols) uint8 indices into ``palette`` (the 256 colours
    of :func:`~cnnviz.rendering.palette.grid_palette`: colormap levels, then
    the page's colours), or (rows, cols, 3) uint8 RGB with ``palette`` None.  ``name`` says what it
    is (``map 3``) for the vector backends.
    """

    x: int
    y: int
    w: int
    h: int
    data: np.ndarray
    palette: np.ndarray | None = None
    name: str = ""


Item = Text | Rect | Line | Raster


@dataclass
class Drawing:
    """A picture: its size in device pixels, its dpi, and what is drawn, in order."""

    width: int
    height: int
    dpi: int = 100
    items: list[Item] = field(default_factory=list)
    title: str = ""

    def add(self, item: Item) -> Item:
        self.items.append(item)
        return item

    def text(self, x: float, y: float, text: str, size: int, color: RGB = INK_COLOUR, *, bold: bool = False,
             anchor: str = "la") -> None:
        if text:
            self.items.append(Text(x, y, text, size, color, bold, anchor))

    @property
    def rasters(self) -> list[Raster]:
        return [i for i in self.items if isinstance(i, Raster)]

    def scaled(self, dpi: int) -> Drawing:
        """This drawing (laid out at dpi 100) at ``dpi``: every position, size, line and text × dpi / 100.

        As matplotlib's ``savefig(dpi=...)``: the same figure at a higher
        resolution.  Boxes are scaled by their edges, so neighbours stay
        neighbours; a map's pixels are repeated (nearest-neighbour) to fill
        its larger box.
        """
        k = dpi / self.dpi
        if k == 1:
            return self

        def e(v: float) -> int:
            return round(v * k)

        items: list[Item] = []
        for i in self.items:
            if isinstance(i, Text):
                items.append(Text(i.x * k, i.y * k, i.text, max(1, e(i.size)), i.color, i.bold, i.anchor))
            elif isinstance(i, Rect):
                items.append(Rect(e(i.x0), e(i.y0), e(i.x1), e(i.y1), i.fill, i.outline, max(1, e(i.width))))
            elif isinstance(i, Line):
                items.append(Line(e(i.x0), e(i.y0), e(i.x1), e(i.y1), i.color, max(1, e(i.width))))
            else:
                items.append(Raster(e(i.x), e(i.y), e(i.x + i.w) - e(i.x), e(i.y + i.h) - e(i.y), i.data, i.palette,
                                    i.name))
        return Drawing(e(self.width), e(self.height), dpi, items, self.title)


# ---------------------------------------------------------------------------
# Text.


@lru_cache(maxsize=4096)
def text_mask(text: str, size: int, bold: bool = False, anchor: str = "la") -> tuple[np.ndarray, int, int]:
    """The anti-aliased coverage (0..255) of ``text``, and the offset of its top-left from the anchor point.

    FreeType's mask of the text, laid out once: the pixels ``ImageDraw.text``
    draws at the bounding box's corner (the same mask, without the second
    layout ``getbbox`` would make and the drawing context).
    """
    from PIL import Image

    f = font(size, bold)
    if hasattr(f, "getmask2"):
        core, (left, top) = f.getmask2(text, "L", anchor=anchor)
        w, h = core.size
        im = Image.new("L", (max(1, w), max(1, h)), 0)
        if w and h:
            im.im.paste(core, (0, 0, w, h))
    else:  # pragma: no cover - a bitmap font (no FreeType)
        from PIL import ImageDraw

        left, top, right, bottom = f.getbbox(text, anchor=anchor)
        im = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
        ImageDraw.Draw(im).text((-left, -top), text, font=f, fill=255, anchor=anchor)
    a = np.asarray(im)
    a.flags.writeable = False
    return a, left, top


@lru_cache(maxsize=8192)
def text_size(text: str, size: int, bold: bool = False) -> tuple[int, int]:
    """(width, height) in pixels of ``text`` drawn at ``size`` (advance width; ascender to descender)."""
    import math

    f = font(size, bold)
    asc, desc = f.getmetrics()
    return math.ceil(f.getlength(text)), asc + desc


# ---------------------------------------------------------------------------
# Raster backend.


def nearest(data: np.ndarray, h: int, w: int) -> np.ndarray:
    """``data`` (rows, cols[, 3]) resampled nearest-neighbour to (h, w): exact repeats for integer factors."""
    rows, cols = data.shape[:2]
    if (rows, cols) == (h, w):
        return data
    if h % rows == 0 and w % cols == 0:
        return np.repeat(np.repeat(data, h // rows, axis=0), w // cols, axis=1)
    ri = (np.arange(h) * rows // h)
    ci = (np.arange(w) * cols // w)
    return data[ri[:, None], ci[None, :]]


_PAGE_INDEX = {WHITE_COLOUR: BACKGROUND, FRAME_COLOUR: FRAME}
_RAMPS = {INK_COLOUR: INK, SOFT_COLOUR: SOFT}


def _page_colour(c: RGB | None) -> bool:
    return c is None or c in _PAGE_INDEX or c in _RAMPS


def _palette_of(d: Drawing) -> tuple[bool, np.ndarray | None]:
    """(whether the drawing can be an index picture, the one 256-colour palette its rasters share)."""
    palette = None
    for item in d.items:
        if isinstance(item, Raster):
            if item.palette is None or item.data.ndim != 2:
                return False, None
            if palette is None:
                palette = item.palette
            elif palette is not item.palette and not np.array_equal(palette, item.palette):
                return False, None
        elif isinstance(item, Text):
            if item.color not in _RAMPS:
                return False, None
        elif isinstance(item, Rect):
            if not (_page_colour(item.fill) and _page_colour(item.outline)):
                return False, None
        elif not _page_colour(item.color):
            return False, None
    return True, palette


def _clip_box(x0: int, y0: int, x1: int, y1: int, h: int, w: int) -> tuple[int, int, int, int]:
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def _solid_index(c: RGB) -> int:
    return _PAGE_INDEX[c] if c in _PAGE_INDEX else _RAMPS[c][-1]


def rasterize(d: Drawing) -> tuple[np.ndarray, np.ndarray | None]:
    """The drawing's pixels: ``(indices (H, W) uint8, palette (256, 3))`` when it can be a palette PNG, else ``(RGB (H, W, 3) uint8, None)``."""
    indexed, palette = _palette_of(d)
    if indexed and palette is None:
        from .palette import grid_palette

        palette = grid_palette("gray")  # no maps: the page's own colours are all that is used
    H, W = d.height, d.width
    if indexed:
        canvas = np.full((H, W), BACKGROUND, np.uint8)
    else:
        canvas = np.empty((H, W, 3), np.uint8)
        canvas[:] = WHITE_COLOUR
    for item in d.items:
        if isinstance(item, Raster):
            x0, y0, x1, y1 = _clip_box(item.x, item.y, item.x + item.w, item.y + item.h, H, W)
            if x1 <= x0 or y1 <= y0:
                continue
            px = nearest(item.data, item.h, item.w)[y0 - item.y:y1 - item.y, x0 - item.x:x1 - item.x]
            if not indexed and px.ndim == 2:
                assert item.palette is not None
                px = item.palette[px]
            canvas[y0:y1, x0:x1] = px
        elif isinstance(item, Rect):
            x0, y0, x1, y1 = _clip_box(item.x0, item.y0, item.x1, item.y1, H, W)
            if x1 <= x0 or y1 <= y0:
                continue
            if item.fill is not None:
                canvas[y0:y1, x0:x1] = _solid_index(item.fill) if indexed else item.fill
            if item.outline is not None:
                c: Any = _solid_index(item.outline) if indexed else item.outline
                t = item.width
                canvas[y0:min(y0 + t, y1), x0:x1] = c
                canvas[max(y1 - t, y0):y1, x0:x1] = c
                canvas[y0:y1, x0:min(x0 + t, x1)] = c
                canvas[y0:y1, max(x1 - t, x0):x1] = c
        elif isinstance(item, Line):
            t = item.width
            xa, xb = sorted((item.x0, item.x1))
            ya, yb = sorted((item.y0, item.y1))
            x0, y0, x1, y1 = _clip_box(xa - (t // 2 if xa == xb else 0), ya - (t // 2 if ya == yb else 0),
                                       xb + (t - t // 2 if xa == xb else 1), yb + (t - t // 2 if ya == yb else 1),
                                       H, W)
            if x1 > x0 and y1 > y0:
                canvas[y0:y1, x0:x1] = _solid_index(item.color) if indexed else item.color
        else:
            _draw_text(canvas, item, indexed)
    return canvas, (palette if indexed else None)


def _draw_text(canvas: np.ndarray, t: Text, indexed: bool) -> None:
    mask, ox, oy = text_mask(t.text, t.size, t.bold, t.anchor)
    x, y = round(t.x) + ox, round(t.y) + oy
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = _clip_box(x, y, x + mask.shape[1], y + mask.shape[0], H, W)
    if x1 <= x0 or y1 <= y0:
        return
    region = canvas[y0:y1, x0:x1]
    if indexed:
        ink, covered = _ink(t.text, t.size, t.bold, t.anchor, t.color)
        box = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
        np.copyto(region, ink[box], where=covered[box])
    else:
        sub = mask[y0 - y:y1 - y, x0 - x:x1 - x]
        a = sub[:, :, None].astype(np.float32) / 255.0
        region[:] = np.round(region * (1.0 - a) + np.asarray(t.color, np.float32) * a).astype(np.uint8)


@lru_cache(maxsize=4096)
def _ink(text: str, size: int, bold: bool, anchor: str, color: RGB) -> tuple[np.ndarray, np.ndarray]:
    """A text's palette indices on a palette picture (its colour's anti-aliasing ramp), and where it covers."""
    mask = text_mask(text, size, bold, anchor)[0]
    ramp = np.asarray(_RAMPS[color], np.uint8)
    q = (mask.astype(np.uint16) * len(ramp) + 127) // 255
    ink = ramp[np.maximum(q, 1) - 1]
    covered = q > 0
    ink.flags.writeable = covered.flags.writeable = False
    return ink, covered


def text_items(items: Sequence[Item]) -> list[Text]:
    """The text of a drawing, in order (what a reader of the picture reads)."""
    return [i for i in items if isinstance(i, Text)]
