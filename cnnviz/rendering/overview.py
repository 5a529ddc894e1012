"""The RGB pages: the input picture, and the overview (the input and every stage, a row each)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..formatting import short_number
from .layout import auto_scale
from .palette import PAGE_INK, PAGE_LINE, PAGE_SOFT
from .text import Fonts, fit, font, font_set, font_unit, line_height, nice_ticks, text_width, tick_label

__all__ = ["zoom_to", "input_rgb", "page", "pil", "render_input", "OverviewRow", "render_overview", "draw_bars"]


def zoom_to(rgb: np.ndarray, height: int, max_width: int) -> np.ndarray:
    """Resize an RGB tile to fit ``height`` × ``max_width``.

    An exact integer zoom when one fits the box well; otherwise a nearest-
    neighbour zoom past the box followed by area averaging (Pillow BOX)
    down into it, which keeps edges crisp without smearing.
    """
    from PIL import Image

    h, w = rgb.shape[:2]
    f = min(height / h, max_width / w)
    s = math.floor(f)
    if s >= 1 and s >= 0.85 * f:
        return np.repeat(np.repeat(rgb, s, axis=0), s, axis=1) if s > 1 else rgb
    size = (max(1, round(w * f)), max(1, round(h * f)))
    up = max(1, math.ceil(f))
    if up > 1:
        rgb = np.repeat(np.repeat(rgb, up, axis=0), up, axis=1)
    return np.asarray(pil(rgb).resize(size, Image.Resampling.BOX))


def input_rgb(image: np.ndarray) -> np.ndarray:
    x = np.clip(np.nan_to_num(np.asarray(image, np.float64)), 0.0, 1.0)
    x = np.round(x * 255).astype(np.uint8)
    return x if x.shape[2] == 3 else np.repeat(x[:, :, :1], 3, axis=2)


def page(width: int, height: int) -> tuple[Any, Any]:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (width, height), (255, 255, 255))
    return im, ImageDraw.Draw(im)




def render_input(image: np.ndarray, title: str, subtitle: str, *, scale: int | None, labels: bool,
                  dpi: int) -> np.ndarray:
    """The input picture (RGB, uint8): a colour or gray image with its title."""
    h, w, _ = image.shape
    s = scale or auto_scale(h, w)
    rgb = input_rgb(image)
    if s > 1:
        rgb = np.repeat(np.repeat(rgb, s, axis=0), s, axis=1)
    unit = font_unit(rgb.shape[1], dpi)
    fonts = font_set(unit)
    margin = max(8, unit)
    title_h = 0
    if labels:
        title_h = line_height(fonts.title) + line_height(fonts.subtitle) + round(unit * 0.4) + round(margin * 0.6)
    width = max(rgb.shape[1], text_width(fonts.title, title) if labels else 0,
                text_width(fonts.subtitle, subtitle) if labels else 0) + 2 * margin
    height = margin + title_h + rgb.shape[0] + margin
    im, draw = page(width, height)
    if labels:
        draw.text((margin, margin), title, font=fonts.title, fill=PAGE_INK)
        draw.text((margin, margin + line_height(fonts.title) + round(unit * 0.2)), subtitle,
                  font=fonts.subtitle, fill=PAGE_SOFT)
    im.paste(pil(rgb), (margin, margin + title_h))
    return np.asarray(im)


def pil(rgb: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(rgb))


@dataclass
class OverviewRow:
    """One row of the overview: a three-line label, and tiles or a vector.

    Attributes
    ----------
    heading, detail, note : str
        ``01 edges``, ``conv · 298×449×2``, ``2 maps``.
    tiles : list of ndarray (h, w, 3) uint8
        Already colormapped; each is zoomed to the row's height.
    vector : ndarray (N,), optional
        Drawn as a small bar chart instead of tiles.
    vector_labels : list of str, optional
    probabilities : bool
        The vector holds probabilities: its bars are drawn on a 0 … 1 scale.
    """

    heading: str
    detail: str
    note: str
    tiles: list[np.ndarray]
    vector: np.ndarray | None = None
    vector_labels: list[str] | None = None
    probabilities: bool = False


def render_overview(rows: Sequence[OverviewRow], *, title: str, subtitle: str, dpi: int = 100,
                    colorbar: tuple[np.ndarray, float, float] | None = None) -> np.ndarray:
    """The overview page (RGB uint8 (H, W, 3)): a row per stage, its label at the left.

    Rows are 132 px high at dpi 100; small maps are zoomed by an integer
    factor, large ones reduced by area averaging.  ``colorbar`` (colours
    (LEVELS, 3), lo, hi) adds one shared colorbar (for ``normalize: global``).
    """
    k = dpi / 100
    row_h = round(132 * k)
    unit = round(14 * k)
    fonts = font_set(unit)
    heading_font = font(round(unit * 1.05), True)
    margin = round(16 * k)
    gap = round(8 * k)
    label_w = max([text_width(heading_font, r.heading) for r in rows] +
                  [text_width(fonts.label, r.detail) for r in rows] +
                  [text_width(fonts.label, r.note) for r in rows] + [round(180 * k)]) + round(16 * k)
    label_w = min(label_w, round(320 * k))
    bar_w = round(4.2 * row_h)
    placed: list[list[np.ndarray]] = []
    widths = []
    for r in rows:
        if r.vector is not None:
            placed.append([])
            widths.append(bar_w)
            continue
        tiles = [zoom_to(t, row_h, round(2.5 * row_h)) for t in r.tiles]
        placed.append(tiles)
        widths.append(sum(t.shape[1] for t in tiles) + gap * max(len(tiles) - 1, 0))
    lh_title = line_height(fonts.title)
    head_h = lh_title + line_height(fonts.subtitle) + round(unit * 0.8)
    cb_w = round(90 * k) if colorbar else 0
    width = margin + label_w + max(widths + [text_width(fonts.title, title) - label_w,
                                             text_width(fonts.subtitle, subtitle) - label_w]) + cb_w + margin
    sep = round(10 * k)
    height = margin + head_h + len(rows) * (row_h + 2 * sep) + margin
    im, draw = page(width, height)
    draw.text((margin, margin), title, font=fonts.title, fill=PAGE_INK)
    draw.text((margin, margin + lh_title + round(unit * 0.2)), subtitle, font=fonts.subtitle, fill=PAGE_SOFT)
    y = margin + head_h
    for r, tiles in zip(rows, placed, strict=True):
        draw.line([(margin, y), (width - margin - cb_w, y)], fill=PAGE_LINE, width=1)
        y += sep
        ty = y + max(0, (row_h - 3 * line_height(fonts.label)) // 2 - unit // 2)
        draw.text((margin, ty), fit(heading_font, r.heading, label_w - gap), font=heading_font, fill=PAGE_INK)
        ty += line_height(fonts.subtitle) + round(unit * 0.25)
        draw.text((margin, ty), fit(fonts.label, r.detail, label_w - gap), font=fonts.label, fill=PAGE_SOFT)
        ty += line_height(fonts.label) + round(unit * 0.15)
        draw.text((margin, ty), fit(fonts.label, r.note, label_w - gap), font=fonts.label, fill=PAGE_SOFT)
        x = margin + label_w
        if r.vector is not None:
            draw_bars(draw, (x, y, x + bar_w, y + row_h), r.vector, r.vector_labels, fonts,
                       top=1.0 if r.probabilities else None)
        for t in tiles:
            oy = y + (row_h - t.shape[0]) // 2
            im.paste(pil(t), (x, oy))
            draw.rectangle([x - 1, oy - 1, x + t.shape[1], oy + t.shape[0]], outline=PAGE_LINE)
            x += t.shape[1] + gap
        y += row_h + sep
    if colorbar is not None:
        colors, lo, hi = colorbar
        x0 = width - margin - cb_w + round(20 * k)
        y0, y1 = margin + head_h + sep, height - margin - sep
        col = np.round(np.linspace(len(colors) - 1, 0, y1 - y0)).astype(int)
        strip = np.repeat(colors[col][:, None, :], round(14 * k), axis=1)
        im.paste(pil(strip), (x0, y0))
        draw.rectangle([x0 - 1, y0 - 1, x0 + strip.shape[1], y1], outline=PAGE_SOFT)
        ticks = nice_ticks(lo, hi, 6)
        step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
        for v in ticks:
            yy = y0 + (round((hi - v) / (hi - lo) * (y1 - y0 - 1)) if hi > lo else y1 - y0 - 1)
            draw.line([(x0 + strip.shape[1], yy), (x0 + strip.shape[1] + 3, yy)], fill=PAGE_SOFT)
            draw.text((x0 + strip.shape[1] + 6, yy), tick_label(v, step), font=fonts.label, fill=PAGE_INK,
                      anchor="lm")
    return np.asarray(im)


def draw_bars(draw: Any, box: tuple[int, int, int, int], v: np.ndarray, names: list[str] | None,
               fonts: Fonts, top: float | None = None) -> None:
    """A small bar chart of ``v`` in ``box`` (axis up to at least ``top``), the top three values named."""
    x0, y0, x1, y1 = box
    v = np.nan_to_num(np.asarray(v, np.float64))
    n = len(v)
    lo, hi = min(0.0, float(v.min())), max(0.0, float(v.max()), top or 0.0)
    if hi == lo:
        hi = lo + 1.0
    text_w = round((x1 - x0) * 0.38)
    bx0, bx1 = x0, x1 - text_w
    by0, by1 = y0 + 4, y1 - 4

    def ypos(val: float) -> float:
        return by1 - (val - lo) / (hi - lo) * (by1 - by0)

    draw.rectangle([bx0, by0 - 2, bx1, by1 + 2], outline=PAGE_LINE)
    pitch = (bx1 - bx0 - 4) / n
    zero = ypos(0.0)
    largest = np.argsort(-v, kind="stable")[:3]
    for i, val in enumerate(v):
        xa = bx0 + 2 + i * pitch
        xb = xa + max(pitch * 0.8, 1) - 1
        colour = (0xD9, 0x5F, 0x02) if i == largest[0] else ((0x4C, 0x72, 0xB0) if val >= 0 else (0xC4, 0x4E, 0x52))
        ya, yb = sorted((ypos(float(val)), zero))
        draw.rectangle([round(xa), round(ya), round(max(xb, xa)), round(max(yb, ya))], fill=colour)
    draw.line([(bx0, zero), (bx1, zero)], fill=PAGE_SOFT)
    ty = y0 + 2
    for i in largest:
        name = names[i] if names and i < len(names) else f"#{i}"
        draw.text((bx1 + 10, ty), fit(fonts.label, f"{name}: {short_number(float(v[i]))}", text_w - 12),
                  font=fonts.label, fill=PAGE_INK)
        ty += line_height(fonts.label) + 2
