"""Text on pictures: DejaVu Sans (from matplotlib's data folder, without importing matplotlib), sizes, ticks.

:func:`stamp` draws anti-aliased text into a palette-index image using a
ramp of ink colours; the RGB pages draw with Pillow directly.  Number
formatting is :mod:`cnnviz.formatting`'s, shared with messages and tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..formatting import short_number

__all__ = ["Fonts", "font_unit", "font_set", "font_file", "font", "line_height", "text_width", "stamp", "fit",
           "nice_ticks", "tick_label", "colorbar_ticks", "all_tick_labels"]


@dataclass(frozen=True)
class Fonts:
    unit: int
    title: Any
    subtitle: Any
    label: Any
    tick: Any


def font_unit(width: int, dpi: int) -> int:
    """Base text size in pixels: grows with the picture so text stays legible when it is shrunk onto a slide."""
    return max(9, round(min(max(width / 64, 13), 34) * dpi / 100))


def font_set(unit: int) -> Fonts:
    return Fonts(
        unit=unit,
        title=font(round(unit * 1.3), bold=True),
        subtitle=font(round(unit * 0.95)),
        label=font(round(unit * 0.85)),
        tick=font(round(unit * 0.85)),
    )


@lru_cache(maxsize=4)
def font_file(bold: bool) -> str | None:
    """DejaVu Sans from matplotlib's data folder, found without importing matplotlib."""
    import importlib.util

    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    p = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf" / name
    return str(p) if p.is_file() else None


@lru_cache(maxsize=64)
def font(size: int, bold: bool = False) -> Any:
    from PIL import ImageFont

    path = font_file(bold)
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
def line_height(font: Any) -> int:
    try:
        asc, desc = font.getmetrics()
        return int(asc + desc)
    except AttributeError:  # pragma: no cover - bitmap font
        return int(font.getbbox("Ag")[3]) + 2


def text_width(font: Any, text: str) -> int:
    try:
        return math.ceil(font.getlength(text))
    except AttributeError:  # pragma: no cover
        return int(font.getbbox(text)[2])


def stamp(
    canvas: np.ndarray, x: int, y: int, text: str, font: Any, ramp: Sequence[int], align: str = "left"
) -> int:
    """Draw anti-aliased ``text`` into an index image (on background) with ``ramp`` colours.

    ``y`` is the top of the line; ``align`` is left, center or right of ``x``.
    Returns the text's width.
    """
    from PIL import Image, ImageDraw

    if not text:
        return 0
    w = text_width(font, text) + 2
    h = line_height(font)
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


def fit(font_for: Any, text: str, width: int) -> str:
    """``text`` shortened with an ellipsis to fit ``width`` pixels."""
    if text_width(font_for, text) <= width:
        return text
    while text and text_width(font_for, text + "…") > width:
        text = text[:-1]
    return text + "…" if text else ""


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


def tick_label(v: float, step: float) -> str:
    """A tick value with as many decimals as the tick step needs."""
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3 or step <= 0:
        return short_number(v, 2)
    d = next((d for d in range(7) if abs(round(step, d) - step) <= step * 1e-6), 6)
    return f"{v:.{d}f}".replace("-", "−")


def colorbar_ticks(lo: float, hi: float, count: int) -> list[tuple[float, str]]:
    """(value, label) of about ``count`` round ticks from ``lo`` to ``hi``."""
    if not hi > lo:
        return [(lo, short_number(lo))]
    ticks = nice_ticks(lo, hi, count)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else (hi - lo)
    return [(v, tick_label(v, step)) for v in ticks]


def all_tick_labels(lo: float, hi: float) -> list[str]:
    return [t for count in range(2, 8) for _, t in colorbar_ticks(lo, hi, count)]
