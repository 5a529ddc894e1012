"""Filter pictures: a conv stage's kernels on a diverging scale, values written in up to 7×7.

Drawn on a :class:`matplotlib.figure.Figure` with the Agg canvas
(never pyplot, so no global state and no GUI backend) and returned as RGB
arrays; :func:`cnnviz.rendering.render` writes them with
:func:`cnnviz.pngio.write_png` so they carry the same metadata as the grids.
matplotlib is imported inside the functions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .bars import INK, SOFT, figure_pixels
from .layout import grid_shape
from .palette import LEVELS, colormap_colors
from .scale import normalize_maps
from .text import font, font_unit, line_height, text_width

__all__ = ["filter_figure", "draw_filter_figure", "format_weight"]

def format_weight(v: float, decimals: int | None = None) -> str:
    """A kernel weight in a few characters.

    Integers are written exactly; other values with ``decimals`` decimals, or
    to 2 significant digits when ``decimals`` is None.  Leading zeros go
    (``.53``), the minus sign is a real one.

    >>> [format_weight(x) for x in (-1.0, 0.0625, -0.5312, 12.4, 3.77, 0.0751, 250.2)]
    ['−1', '.062', '−.53', '12', '3.8', '.075', '250']
    >>> [format_weight(x, 1) for x in (-3.77, 0.0072, -0.04, 0.5)]
    ['−3.8', '0', '0', '.5']
    """
    if not math.isfinite(v):
        return str(v)
    if v == round(v) and abs(v) < 1e4:
        return str(round(v)).replace("-", "−")
    a = abs(v)
    if decimals is not None:
        s = f"{v:.{decimals}f}"
        if "." in s:
            s = s.rstrip("0").rstrip(".")
        if s == "-0":
            s = "0"
    elif a >= 100:
        s = f"{v:.0f}"
    elif a < 1e-3:
        s = f"{v:.0e}"
        mant, exp = s.split("e")
        s = f"{mant}e{int(exp)}"
    else:
        s = f"{v:.2g}"
    if s.startswith("0."):
        s = s[1:]
    elif s.startswith("-0."):
        s = "-" + s[2:]
    return s.replace("-", "−")


_FILTER_CACHE: dict[tuple[Any, ...], np.ndarray] = {}
_FILTER_CACHE_SIZE = 32


def filter_figure(kernels: np.ndarray, **options: Any) -> np.ndarray:
    """:func:`draw_filter_figure`, remembering the last few results.

    A long-lived process (``cnnviz watch``) redraws the same kernels after
    every edit; drawing them takes most of a re-render, so identical kernels
    and options reuse the pixels drawn before.
    """
    import hashlib

    k = np.ascontiguousarray(kernels)
    key = (hashlib.sha1(k.tobytes()).hexdigest(), k.shape, str(k.dtype),
           tuple(sorted(options.items())))
    pixels = _FILTER_CACHE.get(key)
    if pixels is None:
        pixels = draw_filter_figure(k, **options)
        if len(_FILTER_CACHE) >= _FILTER_CACHE_SIZE:
            _FILTER_CACHE.pop(next(iter(_FILTER_CACHE)))
        _FILTER_CACHE[key] = pixels
    return pixels


def draw_filter_figure(
    kernels: np.ndarray,
    *,
    title: str = "",
    subtitle: str = "",
    cmap: str = "RdBu_r",
    max_kernels: int = 64,
    max_channels: int = 8,
    as_colour: bool | None = None,
    dpi: int = 100,
) -> np.ndarray:
    """A conv stage's kernels on a diverging scale centred on zero.

    Parameters
    ----------
    kernels : array (N, kh, kw, C)
        As :class:`~cnnviz.pipeline.PlannedStage` holds them (2-D kernels are
        repeated over C; such kernels are drawn once).
    title, subtitle : str
        Both empty: no header (a bare picture).
    cmap : str
        A diverging colormap; one scale ``−m … m`` (``m`` the largest
        magnitude) for every kernel, with a colorbar.
    max_kernels, max_channels : int
        Draw at most this many kernels (the first ones) and channels each.
    as_colour : bool, optional
        Add a column showing each 3-channel kernel as an RGB colour patch
        (default: whenever C is 3; :func:`cnnviz.rendering.render` asks for it
        only when the channels are the image's red, green and blue).
    dpi : int

    Values are written in when the kernels are at most 7×7 and at most 64
    panels are drawn (more would be unreadable; the colours remain).

    Returns
    -------
    ndarray (H, W, 3) uint8
        Kernels that are the same on every channel (or have one channel): one
        panel each, near-square arrangement.  Otherwise a matrix, a row per
        kernel and a column per channel, plus a column showing 3-channel
        kernels as colour (each channel ``0.5 + k / (2·max|k|)``).  Kernels
        up to 7×7 have their values written in each cell.  The panels are
        composed and lettered as one array (Pillow) and pasted 1:1 into
        the figure, which draws the title and the colorbar.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from PIL import Image, ImageDraw


    K = np.asarray(kernels, np.float64)
    if K.ndim == 3:
        K = K[..., None]
    n_all, kh, kw, c_all = K.shape
    K = K[:max_kernels]
    nk = len(K)
    shared = c_all == 1 or bool(np.all(K[..., :1] == K))
    chans = 1 if shared else min(c_all, max_channels)
    colour = (not shared) and c_all == 3 and (as_colour is None or as_colour)
    panels = chans + (1 if colour else 0)
    m = float(np.max(np.abs(K))) if K.size else 0.0
    m = m if m > 0 and math.isfinite(m) else 1.0
    k = dpi / 100
    write_values = max(kh, kw) <= 7 and nk * chans <= 64
    # values to 2 significant digits of the largest magnitude (colour shows the rest)
    decimals = max(0, 1 - math.floor(math.log10(m)))
    vfont = font(round(15 * k))
    if write_values:
        widest = max(text_width(vfont, format_weight(float(x), decimals)) for x in np.unique(K[..., :chans]))
        cell = max(round(30 * k), math.ceil(widest / 0.8))
    else:
        target = 96 if nk * panels <= 64 else 64
        cell = max(1, math.ceil(target * k / max(kh, kw)))
    ph, pw = kh * cell, kw * cell

    def arrange(label_font: Any) -> tuple[list, list, int, int, int]:
        """Panel positions (kernel, panel, y, x), labels (x, y, text, anchor), size, header height."""
        lh = line_height(label_font)
        boxes: list[tuple[int, int, int, int]] = []
        labels: list[tuple[int, int, str, str]] = []
        if shared:
            g = round(14 * k)
            head = lh + round(4 * k)
            rows, cols = grid_shape(nk, aspect=pw / (ph + head))
            for i in range(nk):
                r, c = divmod(i, cols)
                y, x = r * (head + ph + g) + head, c * (pw + g)
                boxes.append((i, 0, y, x))
                labels.append((x, y - round(3 * k), str(i), "ld"))
            return boxes, labels, rows * (head + ph + g) - g, cols * (pw + g) - g, head
        # a row per kernel, a column per channel; a long list wraps into groups side by side
        g = max(round(6 * k), cell // 5)
        head = lh + round(6 * k)
        side = text_width(label_font, str(max(nk - 1, 0))) + round(12 * k)
        block_w = side + panels * (pw + g) - g
        group_gap = round(28 * k)
        _, groups = grid_shape(nk, aspect=(block_w + group_gap) / (ph + g))
        per = math.ceil(nk / groups)
        groups = math.ceil(nk / per)
        for gi in range(groups):
            x0 = gi * (block_w + group_gap)
            for p in range(panels):
                x = x0 + side + p * (pw + g)
                labels.append((x + pw // 2, head - round(4 * k), f"ch {p}" if p < chans else "as colour", "md"))
            for i in range(gi * per, min(nk, (gi + 1) * per)):
                y = head + (i - gi * per) * (ph + g)
                labels.append((x0 + side - round(8 * k), y + ph // 2, str(i), "rm"))
                for p in range(panels):
                    boxes.append((i, p, y, x0 + side + p * (pw + g)))
        return boxes, labels, head + per * (ph + g) - g, groups * (block_w + group_gap) - group_gap, head

    # text grows with the picture, like the grids' (legible when it is shrunk onto a slide)
    _, _, _, comp_w, _ = arrange(font(round(13 * k)))
    unit = font_unit(comp_w, dpi)
    label_font = font(round(unit * 0.85))
    boxes, labels, comp_h, comp_w, head = arrange(label_font)
    comp = np.full((comp_h, comp_w, 3), 255, np.uint8)
    colors = colormap_colors(cmap, LEVELS)
    q = normalize_maps(K[..., :chans], -m, m)  # (nk, kh, kw, chans)
    values: list[tuple[float, float, str, tuple[int, int, int]]] = []
    for i, p, y, x in boxes:
        if p < chans:
            rgb = colors[q[i, :, :, p]]
        else:
            mk = float(np.max(np.abs(K[i]))) or 1.0
            rgb = np.round(np.clip(0.5 + K[i] / (2 * mk), 0, 1) * 255).astype(np.uint8)
        comp[y:y + ph, x:x + pw] = np.repeat(np.repeat(rgb, cell, axis=0), cell, axis=1)
        if write_values and p < chans:
            lum = (rgb.astype(np.float64) / 255) @ np.array([0.2126, 0.7152, 0.0722])
            for a in range(kh):
                for b in range(kw):
                    text = format_weight(float(K[i, a, b, p]), decimals)
                    fill = (255, 255, 255) if lum[a, b] < 0.45 else (0x1F, 0x1F, 0x1F)
                    values.append((x + (b + 0.5) * cell, y + (a + 0.5) * cell, text, fill))
    im = Image.fromarray(comp)
    draw = ImageDraw.Draw(im)
    for x, y, text, anchor in labels:
        draw.text((x, y), text, font=label_font, fill=(0x5F, 0x5F, 0x5F), anchor=anchor)
    if values:
        for x, y, text, fill in values:
            draw.text((x, y), text, font=vfont, fill=fill, anchor="mm")
    comp = np.asarray(im)
    # the figure: the composite 1:1, a title, a colorbar
    shown = f" · {nk} of {n_all} shown" if nk < n_all else ""
    sub = subtitle
    header = bool(title or subtitle)  # neither: a bare picture (``labels: false``)
    if header and not shared and c_all > chans:
        sub = (sub + " · " if sub else "") + f"channels 0–{chans - 1} of {c_all}"
    if header:
        sub = (sub + " · " if sub else "") + f"{cmap}, 0 at the centre"
    tpx, spx, cbpx = round(unit * 1.3), round(unit * 0.95), round(unit * 0.85)
    tfont, sfont = font(tpx, True), font(spx)
    left, bottom = round(unit * 1.3), round(unit * 1.3)
    top = left + line_height(tfont) + (line_height(sfont) + round(unit * 0.3) if sub else 0) + round(unit * 0.6)
    if not header:
        top = left
        shown = ""
    cb_gap, cb_w, cb_text = round(unit * 1.6), round(unit * 1.0), round(cbpx * 4.5)
    W = max(left + comp_w + cb_gap + cb_w + cb_text,
            2 * left + max(text_width(tfont, title + shown), text_width(sfont, sub)))
    cb_h = max(comp_h - head, round(unit * 6))
    H = top + max(comp_h, head + cb_h) + bottom
    pt = 72 / dpi
    fig = Figure(figsize=((W + 0.01) / dpi, (H + 0.01) / dpi), dpi=dpi)  # exactly W × H pixels
    if header:
        fig.text(left / W, 1 - left / H, title + shown, ha="left", va="top", fontsize=tpx * pt,
                 fontweight="bold", color=INK)
    if sub:
        fig.text(left / W, 1 - (left + line_height(tfont) + round(unit * 0.3)) / H, sub, ha="left", va="top",
                 fontsize=spx * pt, color=SOFT)
    cax = fig.add_axes(((left + comp_w + cb_gap) / W, 1 - (top + head + cb_h) / H, cb_w / W, cb_h / H))
    fig.colorbar(ScalarMappable(norm=Normalize(-m, m), cmap=cmap), cax=cax)
    cax.tick_params(labelsize=cbpx * pt, colors=SOFT)
    pixels = figure_pixels(fig)
    # paste the composite 1:1 (much faster than letting matplotlib resample it)
    pixels[top:top + comp_h, left:left + comp_w] = comp
    return pixels
