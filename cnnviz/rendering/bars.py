"""Bar charts of vector outputs (dense, global_pool, softmax), drawn on a matplotlib Agg figure.

matplotlib is imported inside the functions (never pyplot: no global state,
no GUI backend); the result is an RGB array that the writer saves with the
same metadata as the grids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..formatting import short_number

__all__ = ["bar_chart", "figure_pixels", "INK", "SOFT"]

INK = "#1f1f1f"
SOFT = "#5f5f5f"
POS = "#4c72b0"
NEG = "#c44e52"
TOP = "#d95f02"


def figure_pixels(fig: Any) -> np.ndarray:
    """Draw a :class:`~matplotlib.figure.Figure` with Agg: (H, W, 3) uint8."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()


def bar_chart(
    values: np.ndarray,
    *,
    title: str = "",
    subtitle: str = "",
    labels: Sequence[str] | None = None,
    probabilities: bool = False,
    dpi: int = 100,
) -> np.ndarray:
    """A vector (a dense, global_pool or softmax output) as a bar chart.

    Parameters
    ----------
    values : array (N,)
    title, subtitle : str
    labels : sequence of N str, optional
        Class names; default the indices.
    probabilities : bool
        Values are probabilities (softmax): the axis runs 0 … 1.
    dpi : int

    Returns
    -------
    ndarray (H, W, 3) uint8
        Up to 30 values: horizontal bars, one named row each, the value
        written at the end of each bar (about 750 px wide at dpi 100, 28 px a
        row).  More: vertical bars by index, the five largest named.  The
        largest value is drawn in orange.
    """
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    v = np.nan_to_num(np.asarray(values, np.float64).reshape(-1))
    n = len(v)
    names = [str(x) for x in labels] if labels is not None and len(labels) == n else [str(i) for i in range(n)]
    top = int(np.argmax(v)) if n else 0
    colours = [TOP if i == top else (POS if x >= 0 else NEG) for i, x in enumerate(v)]
    horizontal = n <= 30
    if horizontal:
        size = (7.5, 1.45 + 0.28 * max(n, 3))
    else:
        size = (11.0, 4.2)
    fig = Figure(figsize=size, dpi=dpi, layout=ConstrainedLayoutEngine(w_pad=8 / 72, h_pad=8 / 72))
    ax = fig.add_subplot()
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontweight="bold", fontsize=12.5, color=INK)
    if subtitle:
        ax.set_title(subtitle, loc="left", fontsize=9.5, color=SOFT)
    lo, hi = min(0.0, float(v.min(initial=0))), max(0.0, float(v.max(initial=0)))
    if probabilities:
        lo, hi = 0.0, max(1.0, hi)
    span = (hi - lo) or 1.0
    if horizontal:
        y = np.arange(n)
        ax.barh(y, v, color=colours, height=0.72)
        ax.set_yticks(y, names, fontsize=9.5)
        ax.set_ylim(n - 0.5, -0.5)
        pad = 0.012 * span
        for i, x in enumerate(v):
            ax.text(x + (pad if x >= 0 else -pad), i, short_number(float(x)), va="center",
                    ha="left" if x >= 0 else "right", fontsize=8.5, color=INK)
        # room for the value labels
        ax.set_xlim(lo - (0.16 * span if lo < 0 else 0), hi + 0.16 * span)
        ax.set_xlabel("probability" if probabilities else "value", fontsize=9.5, color=SOFT)
        ax.axvline(0, color=SOFT, linewidth=0.8)
    else:
        x = np.arange(n)
        ax.bar(x, v, color=colours, width=0.85 if n < 200 else 1.0)
        ax.set_xlim(-0.5 if n < 200 else -1, n - 0.5)
        ax.axhline(0, color=SOFT, linewidth=0.8)
        ax.set_xlabel("index" if labels is None else "class index", fontsize=9.5, color=SOFT)
        ax.set_ylabel("probability" if probabilities else "value", fontsize=9.5, color=SOFT)
        ax.set_ylim(lo - 0.04 * span if lo < 0 else lo, hi + 0.1 * span)
        order = np.argsort(-v, kind="stable")[:5]
        ax.annotate(names[top], (top, v[top]), xytext=(0, 3), textcoords="offset points", ha="center",
                    va="bottom", fontsize=9, color=INK)
        listing = "\n".join(f"{names[i]}: {short_number(float(v[i]))}" for i in order)
        ax.text(1.015, 1.0, "largest\n" + listing, transform=ax.transAxes, ha="left", va="top", fontsize=9,
                color=INK, linespacing=1.35,
                bbox={"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": "#c8c8c8"})
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9, colors=SOFT)
    return figure_pixels(fig)
