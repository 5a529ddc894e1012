"""The last guard of ``max_size``: a whole drawing shrunk to fit, its maps by area averaging (SPEC §3).

Every picture type lays itself out to fit ``max_size`` (grids zoom less, then
shrink 1:N), but some have parts that do not shrink with it — a bar chart's
620-pixel plot, a title's minimum wrap width — so at a small ``max_size`` or a
high ``dpi`` a picture could still come out longer.  :func:`fit_drawing`
scales such a drawing down as a whole (text, lines, boxes), and a map whose
box becomes smaller than its data is first area-averaged to the box, never
thinned by dropping rows.
"""

from __future__ import annotations

import math

import numpy as np

from .canvas import Drawing, Item, Line, Raster, Rect, Text
from .scale import area_average

__all__ = ["fit_drawing"]


def _shrunk(r: Raster, w: int, h: int) -> np.ndarray:
    """``r``'s data area-averaged so that it is no larger than a (h, w) box."""
    rows, cols = r.data.shape[:2]
    f = max(math.ceil(rows / max(h, 1)), math.ceil(cols / max(w, 1)))
    if f <= 1:
        return r.data
    if r.data.ndim == 2:  # palette indices of a colormap's levels: linear in the value, so they average
        return np.round(area_average(r.data[:, :, None].astype(np.float64), f)[:, :, 0]).astype(np.uint8)
    return np.round(area_average(r.data.astype(np.float64), f)).astype(np.uint8)


def fit_drawing(d: Drawing, max_size: int) -> Drawing:
    """``d`` itself when no side is longer than ``max_size``, else ``d`` scaled down to fit.

    Parameters
    ----------
    d : Drawing
    max_size : int
        The longest side allowed, in device pixels.

    Returns
    -------
    Drawing
        Every position, size, line width and text size × ``max_size / longest``
        (rounded down so that the result fits); maps area-averaged to their
        boxes.
    """
    longest = max(d.width, d.height)
    if longest <= max_size:
        return d
    k = max_size / longest

    def e(v: float) -> int:
        return math.floor(v * k)

    items: list[Item] = []
    for i in d.items:
        if isinstance(i, Text):
            items.append(Text(i.x * k, i.y * k, i.text, max(1, round(i.size * k)), i.color, i.bold, i.anchor))
        elif isinstance(i, Rect):
            items.append(Rect(e(i.x0), e(i.y0), e(i.x1), e(i.y1), i.fill, i.outline, max(1, round(i.width * k))))
        elif isinstance(i, Line):
            items.append(Line(e(i.x0), e(i.y0), e(i.x1), e(i.y1), i.color, max(1, round(i.width * k))))
        else:
            x, y = e(i.x), e(i.y)
            w, h = max(1, e(i.x + i.w) - x), max(1, e(i.y + i.h) - y)
            items.append(Raster(x, y, w, h, _shrunk(i, w, h), i.palette, i.name))
    return Drawing(min(max_size, e(d.width)), min(max_size, e(d.height)), d.dpi, items, d.title)
