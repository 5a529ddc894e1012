"""Bar charts of vector outputs (dense, global_pool, softmax), drawn as a :class:`~cnnviz.rendering.canvas.Drawing`.

Up to 30 values: horizontal bars, one named row each, the value written at
the end of each bar.  More: vertical bars by index, the five largest named.
The largest value is orange, and the picture says so; probabilities are
drawn on an axis that ends at 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..formatting import short_number
from .canvas import FRAME_COLOUR, INK_COLOUR, SOFT_COLOUR, Drawing, Line, Rect, text_size
from .overview import BAR_LARGEST, BAR_NEGATIVE, BAR_POSITIVE
from .text import nice_ticks, tick_label

__all__ = ["bar_chart", "HORIZONTAL_UP_TO"]

#: Vectors up to this long get one named horizontal bar each.
HORIZONTAL_UP_TO = 30


def bar_chart(
    values: np.ndarray,
    *,
    title: str = "",
    subtitle: str = "",
    labels: Sequence[str] | None = None,
    probabilities: bool = False,
    dpi: int = 100,
) -> Drawing:
    """A vector as a bar chart.

    Parameters
    ----------
    values : array (N,)
    title, subtitle : str
        Both empty: no header (``labels: false``).
    labels : sequence of N str, optional
        Class names; default the indices.
    probabilities : bool
        The values are probabilities (softmax): the axis runs 0 … 1.
    dpi : int

    Returns
    -------
    Drawing
        About 750 pixels wide at dpi 100 (28 a row for horizontal bars).
    """
    if dpi != 100:  # laid out at dpi 100, then scaled as a whole
        return bar_chart(values, title=title, subtitle=subtitle, labels=labels, probabilities=probabilities,
                         dpi=100).scaled(dpi)
    k = dpi / 100
    v = np.nan_to_num(np.asarray(values, np.float64).reshape(-1))
    n = len(v)
    names = [str(x) for x in labels] if labels is not None and len(labels) == n else [str(i) for i in range(n)]
    top = int(np.argmax(v)) if n else 0
    unit = round(13 * k)
    tsize, ssize, lsize, vsize = round(unit * 1.3), round(unit * 0.95), round(unit * 0.95), round(unit * 0.85)
    margin = round(14 * k)
    lo, hi = min(0.0, float(v.min(initial=0))), max(0.0, float(v.max(initial=0)))
    if probabilities:
        lo, hi = 0.0, 1.0
    if hi <= lo:
        hi = lo + 1.0
    note = f"orange: the largest ({names[top]}, {short_number(float(v[top]))})" if n else ""
    header = bool(title or subtitle)
    sub = " · ".join(p for p in (subtitle, note) if p) if header else ""
    head_h = 0
    if header:
        head_h = text_size("Ag", tsize, True)[1] + (text_size("Ag", ssize)[1] + round(unit * 0.3) if sub else 0) \
            + round(unit * 0.8)
    lh = text_size("Ag", lsize)[1]
    tick_h = text_size("Ag", vsize)[1]
    neg_w = 0
    if n <= HORIZONTAL_UP_TO:
        name_w = max((text_size(s, lsize)[0] for s in names), default=0) + round(8 * k)
        value_w = max((text_size(short_number(float(x)), vsize)[0] for x in v), default=0) + round(8 * k)
        # a negative bar's value is written left of its end: room for it between the names and the plot
        neg_w = max((text_size(short_number(float(x)), vsize)[0] + round(8 * k) for x in v if x < 0), default=0)
        plot_w = round(620 * k)
        row = round(28 * k)
        plot_h = row * max(n, 3)
        width = margin + name_w + neg_w + plot_w + value_w + margin
        width = max(width, margin * 2 + (text_size(title, tsize, True)[0] if header else 0),
                    margin * 2 + (text_size(sub, ssize)[0] if sub else 0))
        axis_h = tick_h + round(6 * k) + lh
        height = margin + head_h + plot_h + axis_h + margin
    else:
        name_w = round(40 * k)
        list_w = round(220 * k)
        plot_w = round(820 * k)
        plot_h = round(300 * k)
        width = margin + name_w + plot_w + round(16 * k) + list_w + margin
        axis_h = tick_h + round(6 * k) + lh
        height = margin + head_h + plot_h + axis_h + margin
    d = Drawing(width, height, dpi, title=title)
    if header:
        d.text(margin, margin, title, tsize, INK_COLOUR, bold=True)
        if sub:
            d.text(margin, margin + text_size("Ag", tsize, True)[1] + round(unit * 0.3), sub, ssize, SOFT_COLOUR)
    t = max(1, round(k))
    y0 = margin + head_h
    x0 = margin + name_w + (neg_w if n <= HORIZONTAL_UP_TO else 0)
    ticks = [0.0, 0.25, 0.5, 0.75, 1.0] if probabilities else nice_ticks(lo, hi, 5)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    if n <= HORIZONTAL_UP_TO:
        def xpos(val: float) -> int:
            return round(x0 + (val - lo) / (hi - lo) * plot_w)

        for i, (name, x) in enumerate(zip(names, v, strict=True)):
            cy = y0 + i * row + row // 2
            d.text(margin + name_w - round(8 * k), cy, name, lsize, INK_COLOUR, anchor="rm")
            colour = BAR_LARGEST if i == top else (BAR_POSITIVE if x >= 0 else BAR_NEGATIVE)
            a, b = sorted((xpos(float(x)), xpos(0.0)))
            d.add(Rect(a, cy - round(row * 0.36), max(b, a + 1), cy + round(row * 0.36), fill=colour))
            end = xpos(float(x))
            d.text(end + (round(5 * k) if x >= 0 else -round(5 * k)), cy, short_number(float(x)), vsize, INK_COLOUR,
                   anchor="lm" if x >= 0 else "rm")
        ya = y0 + plot_h
        d.add(Line(x0, ya, x0 + plot_w, ya, SOFT_COLOUR, t))
        zx = xpos(0.0)
        d.add(Line(zx, y0, zx, ya, SOFT_COLOUR, t))
        for tv in ticks:
            tx = xpos(tv)
            d.add(Line(tx, ya, tx, ya + round(4 * k), SOFT_COLOUR, t))
            d.text(tx, ya + round(5 * k), tick_label(tv, step), vsize, SOFT_COLOUR, anchor="ma")
        d.text(x0 + plot_w // 2, ya + round(6 * k) + tick_h, "probability" if probabilities else "value", lsize,
               SOFT_COLOUR, anchor="ma")
        return d

    def ypos(val: float) -> int:
        return round(y0 + plot_h - (val - lo) / (hi - lo) * plot_h)

    pitch = plot_w / n
    for i, x in enumerate(v):
        xa = round(x0 + i * pitch)
        xb = max(xa + 1, round(x0 + i * pitch + (pitch * 0.85 if n < 200 else pitch)))
        colour = BAR_LARGEST if i == top else (BAR_POSITIVE if x >= 0 else BAR_NEGATIVE)
        a, b = sorted((ypos(float(x)), ypos(0.0)))
        d.add(Rect(xa, a, xb, max(b, a + 1), fill=colour))
    zy = ypos(0.0)
    d.add(Line(x0, zy, x0 + plot_w, zy, SOFT_COLOUR, t))
    d.add(Line(x0, y0, x0, y0 + plot_h, SOFT_COLOUR, t))
    for tv in ticks:
        ty = ypos(tv)
        d.add(Line(x0 - round(4 * k), ty, x0, ty, SOFT_COLOUR, t))
        d.text(x0 - round(6 * k), ty, tick_label(tv, step), vsize, SOFT_COLOUR, anchor="rm")
    for tv in nice_ticks(0, n - 1, 6):
        tx = round(x0 + (tv + 0.5) * pitch)
        d.text(tx, y0 + plot_h + round(5 * k), f"{tv:g}", vsize, SOFT_COLOUR, anchor="ma")
    d.text(x0 + plot_w // 2, y0 + plot_h + round(6 * k) + tick_h, "class index" if labels is not None else "index",
           lsize, SOFT_COLOUR, anchor="ma")
    lx = x0 + plot_w + round(16 * k)
    d.add(Rect(lx, y0, lx + list_w, y0 + (6 * lh) + round(12 * k), outline=FRAME_COLOUR, width=t))
    d.text(lx + round(8 * k), y0 + round(6 * k), "largest", lsize, SOFT_COLOUR)
    for j, i in enumerate(np.argsort(-v, kind="stable")[:5]):
        d.text(lx + round(8 * k), y0 + round(6 * k) + (j + 1) * lh, f"{names[i]}: {short_number(float(v[i]))}",
               lsize, INK_COLOUR)
    return d
