"""Filter pictures: a conv stage's kernels, each at its own size, on a diverging scale, values written in.

* Each kernel is drawn at its own size with one cell size for all, so a 3×3
  Sobel beside a 9×9 LoG is a third as wide (not padded to 9×9); a dilated
  kernel is drawn over its whole footprint with its gaps.
* Each kernel has its own scale centred on zero (``filter_scale: kernel``),
  or the stage shares one (``filter_scale: stage``).
* Kernels up to 7×7 have their values written in each cell.
* 2-D kernels (the same on every channel) are one panel each; 3-D kernels are a
  row each, a column per channel (named R, G, B when the channels are still
  the image's), plus a column showing each as a colour.
* Each panel is labelled by where its kernel came from (``sobel_x``,
  ``gabor θ=45° λ=6``, ``random normal``, a file name).

No matplotlib: the picture is a :class:`~cnnviz.rendering.canvas.Drawing`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..formatting import times
from .canvas import INK_COLOUR, SOFT_COLOUR, Drawing, Raster, Rect, text_size
from .grid import colorbar_items, text_unit, wrap
from .layout import grid_shape
from .palette import LEVELS, colormap_colors, grid_palette
from .scale import Scale, normalize_maps

__all__ = ["filter_figure", "draw_filter_figure", "format_weight", "own_kernels", "GAP_COLOUR"]

#: The colour of a dilated kernel's gaps (cells no weight touches).
GAP_COLOUR = (0xEC, 0xEC, 0xEC)
#: Largest kernel side whose values are written in.
VALUES_UP_TO = 7


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


def own_kernels(kernels: np.ndarray, shapes: Sequence[tuple[int, int]] | None) -> list[np.ndarray]:
    """Each kernel of (N, kh, kw, C) cut back to its own (kh_i, kw_i) (the padding was centred)."""
    K = np.asarray(kernels, np.float64)
    n, kh, kw = K.shape[:3]
    out = []
    for i in range(n):
        h, w = shapes[i] if shapes is not None and i < len(shapes) else (kh, kw)
        t, left = (kh - h) // 2, (kw - w) // 2
        out.append(K[i, t:t + h, left:left + w])
    return out


_CACHE: dict[tuple[Any, ...], Drawing] = {}
_CACHE_SIZE = 32


def filter_figure(kernels: np.ndarray, **options: Any) -> Drawing:
    """:func:`draw_filter_figure`, remembering the last few results (``watch`` redraws the same kernels)."""
    k = np.ascontiguousarray(kernels)
    key = (hashlib.sha1(k.tobytes()).hexdigest(), k.shape, str(k.dtype),
           repr(sorted((name, repr(v)) for name, v in options.items())))
    d = _CACHE.get(key)
    if d is None:
        d = draw_filter_figure(k, **options)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = d
    return d


def _footprint(K: np.ndarray, dil: tuple[int, int], q: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """(fh, fw, 3) RGB of one channel of a kernel over its dilated footprint: taps coloured, gaps grey."""
    h, w = K.shape[:2]
    fh, fw = (h - 1) * dil[0] + 1, (w - 1) * dil[1] + 1
    out = np.empty((fh, fw, 3), np.uint8)
    out[:] = GAP_COLOUR
    out[::dil[0], ::dil[1]] = colors[q]
    return out


def draw_filter_figure(
    kernels: np.ndarray,
    *,
    shapes: Sequence[tuple[int, int]] | None = None,
    names: Sequence[str] | None = None,
    dilation: tuple[int, int] = (1, 1),
    title: str = "",
    subtitle: str = "",
    cmap: str = "RdBu_r",
    filter_scale: str = "kernel",
    max_kernels: int = 64,
    max_channels: int = 8,
    channel_names: Sequence[str] | None = None,
    as_colour: bool | None = None,
    dpi: int = 100,
    max_size: int = 4096,
) -> Drawing:
    """A conv stage's kernels (see the module docstring).

    Parameters
    ----------
    kernels : array (N, kh, kw, C)
        As :class:`~cnnviz.stages.PlannedStage` holds them (2-D kernels
        repeated over C; padded, centred, to the largest).
    shapes : list of (kh, kw), optional
        Each kernel's own size (``PlannedStage.kernel_shapes``).
    names : list of str, optional
        Each kernel's source.
    dilation : (dh, dw)
        Drawn over the dilated footprint, gaps in :data:`GAP_COLOUR`.
    title, subtitle : str
        Both empty: no header (``labels: false``).
    cmap : str
        A diverging colormap; 0 is its centre.
    filter_scale : {'kernel', 'stage'}
        Each kernel its own ``±max |kernel|``, or one for all.
    max_kernels, max_channels : int
        The first this many kernels, and channels of each.
    channel_names : list of str, optional
        Column headers for 3-D kernels (``R``, ``G``, ``B``); default ``ch 0``, ...
    as_colour : bool, optional
        Add a column showing 3-channel kernels as colours [when C is 3].
    dpi, max_size : int

    Returns
    -------
    Drawing
    """
    if dpi != 100:  # laid out at dpi 100, then scaled as a whole
        return draw_filter_figure(kernels, shapes=shapes, names=names, dilation=dilation, title=title,
                                  subtitle=subtitle, cmap=cmap, filter_scale=filter_scale, max_kernels=max_kernels,
                                  max_channels=max_channels, channel_names=channel_names, as_colour=as_colour,
                                  dpi=100, max_size=max(1, math.floor(max_size * 100 / dpi))).scaled(dpi)
    K = np.asarray(kernels, np.float64)
    if K.ndim == 3:
        K = K[..., None]
    n_all, _, _, c_all = K.shape
    own = own_kernels(K[:max_kernels], shapes)
    nk = len(own)
    shared = c_all == 1 or bool(np.all(K[..., :1] == K))
    chans = 1 if shared else min(c_all, max_channels)
    colour = (not shared) and c_all == 3 and (as_colour is None or as_colour)
    panels = chans + (1 if colour else 0)
    k = dpi / 100
    mags = [float(np.max(np.abs(a))) if a.size else 0.0 for a in own]
    stage_m = max(mags, default=0.0) or 1.0
    scale_m = [stage_m if filter_scale == "stage" else (m or 1.0) for m in mags]
    colors = colormap_colors(cmap, LEVELS)
    dil = (max(1, int(dilation[0])), max(1, int(dilation[1])))
    foot = [((a.shape[0] - 1) * dil[0] + 1, (a.shape[1] - 1) * dil[1] + 1) for a in own]
    longest = max((max(f) for f in foot), default=1)
    small = [max(a.shape[:2]) <= VALUES_UP_TO for a in own]  # the kernels whose values are written in
    write_values = any(small) and nk * chans <= 64
    labels = [f"{i} · {names[i]}" if names is not None and i < len(names) else str(i) for i in range(nk)]
    header = bool(title or subtitle)
    vsize = round(15 * k)
    decimals = [max(0, 1 - math.floor(math.log10(m))) for m in scale_m]
    if write_values:
        widest = max((text_size(format_weight(float(x), decimals[i]), vsize)[0]
                      for i, a in enumerate(own) if small[i] for x in set(a[..., :chans].ravel().tolist())), default=1)
        cell = max(round(30 * k), math.ceil(widest / 0.8))
        if longest * cell > 660 * k:  # a very big kernel beside small ones: no values rather than a huge panel
            write_values = False
    if not write_values:
        cell = max(1, math.ceil((96 if nk * panels <= 64 else 64) * k / longest))
        cell = min(cell, max(1, math.floor(256 * k / longest)))

    def arrange(cell: int, unit: int) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, str, str]],
                                                int, int, int]:
        """Panel boxes (kernel, panel, y, x), labels (x, y, text, anchor), width, height, header height."""
        lsize = round(unit * 0.85)
        lh = text_size("Ag", lsize)[1]
        boxes: list[tuple[int, int, int, int]] = []
        texts: list[tuple[int, int, str, str]] = []
        if shared:
            g = round(14 * k)
            head = lh + round(4 * k)
            slot_w = max(max(f[1] for f in foot) * cell, max(text_size(t, lsize)[0] for t in labels))
            slot_h = max(f[0] for f in foot) * cell
            rows, cols = grid_shape(nk, aspect=slot_w / (slot_h + head))
            # each column as wide, and each row as tall, as its own largest kernel (and label)
            widths = [max([foot[i][1] * cell for i in range(c, nk, cols)]
                         + [text_size(labels[i], lsize)[0] for i in range(c, nk, cols)]) for c in range(cols)]
            heights = [max(foot[i][0] * cell for i in range(r * cols, min(nk, (r + 1) * cols))) for r in range(rows)]
            xs = [sum(widths[:c]) + c * g for c in range(cols)]
            ys = [sum(heights[:r]) + r * (head + g) + head for r in range(rows)]
            for i in range(nk):
                r, c = divmod(i, cols)
                boxes.append((i, 0, ys[r], xs[c]))
                texts.append((xs[c], ys[r] - round(3 * k), labels[i], "ld"))
            return boxes, texts, sum(widths) + (cols - 1) * g, sum(heights) + rows * (head + g) - g, head
        g = max(round(8 * k), cell // 5)
        heads = [channel_names[p] if channel_names is not None and p < len(channel_names) else f"ch {p}"
                 for p in range(chans)] + (["colour"] if colour else [])
        col_w = max(max(f[1] for f in foot) * cell, max(text_size(t, lsize)[0] for t in heads) + round(4 * k))
        row_h = max(f[0] for f in foot) * cell
        head = lh + round(6 * k)
        side = max(text_size(t, lsize)[0] for t in labels) + round(12 * k)
        block_w = side + panels * (col_w + g) - g
        group_gap = round(28 * k)
        _, groups = grid_shape(nk, aspect=(block_w + group_gap) / (row_h + g))
        per = math.ceil(nk / groups)
        groups = math.ceil(nk / per)
        for gi in range(groups):
            x0 = gi * (block_w + group_gap)
            for p in range(panels):
                x = x0 + side + p * (col_w + g)
                texts.append((x + col_w // 2, head - round(4 * k), heads[p], "md"))
            for i in range(gi * per, min(nk, (gi + 1) * per)):
                y = head + (i - gi * per) * (row_h + g)
                texts.append((x0 + side - round(8 * k), y + foot[i][0] * cell // 2, labels[i], "rm"))
                for p in range(panels):
                    boxes.append((i, p, y, x0 + side + p * (col_w + g)))
        return boxes, texts, groups * (block_w + group_gap) - group_gap, head + per * (row_h + g) - g, head

    while True:
        _, _, comp_w, _, _ = arrange(cell, round(13 * k))
        unit = text_unit(comp_w, k)
        boxes, texts, comp_w, comp_h, head = arrange(cell, unit)
        margin = max(round(8 * k), round(unit * 1.3))
        shown = f" · {nk} of {n_all} shown" if nk < n_all else ""
        bar_w = round(unit * 1.0)
        cb_total = round(unit * 1.6) + bar_w + round(unit * 0.85 * 7)
        tsize, ssize = round(unit * 1.3), round(unit * 0.95)
        sub_parts = [subtitle] if subtitle else []
        if header and not shared and c_all > chans:
            sub_parts.append(f"channels 0–{chans - 1} of {c_all}")
        if header:
            sub_parts.append(f"{cmap}, each kernel its own scale ±max |kernel|, 0 at the centre"
                             if filter_scale != "stage" else f"{cmap}, one scale for the stage ±{stage_m:.3g}, "
                             "0 at the centre")
            if dil != (1, 1):
                sub_parts.append(f"dilation {times(*dil)}: grey cells are gaps")
        avail = max(comp_w + cb_total, round(unit * 24))
        sub_lines = wrap(sub_parts, ssize, avail) if header else []
        top = margin
        if header:
            top += text_size("Ag", tsize, True)[1] + round(unit * 0.3) + len(sub_lines) * text_size("Ag", ssize)[1] \
                + round(unit * 0.6)
        width = max(margin + comp_w + cb_total + margin,
                    2 * margin + (text_size(title + shown, tsize, True)[0] if header else 0),
                    2 * margin + max((text_size(x, ssize)[0] for x in sub_lines), default=0))
        cb_h = max(comp_h - head, round(unit * 6))
        height = top + max(comp_h, head + cb_h) + margin
        if max(width, height) <= max_size or cell == 1:
            break
        write_values = False
        cell = max(1, cell * max_size // max(width, height))
    d = Drawing(width, height, dpi, title=title)
    if header:
        d.text(margin, margin, title + shown, tsize, INK_COLOUR, bold=True)
        y = margin + text_size("Ag", tsize, True)[1] + round(unit * 0.3)
        for line in sub_lines:
            d.text(margin, y, line, ssize, SOFT_COLOUR)
            y += text_size("Ag", ssize)[1]
    lsize = round(unit * 0.85)
    for x, y, text, anchor in texts:
        d.text(margin + x, top + y, text, lsize, SOFT_COLOUR, anchor=anchor)
    for i, p, y, x in boxes:
        a = own[i]
        fh, fw = foot[i]
        px, py = margin + x, top + y
        if p < chans:
            q = normalize_maps(a[:, :, p:p + 1], -scale_m[i], scale_m[i])[:, :, 0]
            rgb = _footprint(a[:, :, p], dil, q, colors)
        else:
            mk = mags[i] or 1.0
            rgb = _footprint(a[:, :, 0], dil, np.zeros(a.shape[:2], np.uint8), colors)
            rgb[::dil[0], ::dil[1]] = np.round(np.clip(0.5 + a / (2 * mk), 0, 1) * 255).astype(np.uint8)
        d.add(Raster(px, py, fw * cell, fh * cell, rgb, None, f"kernel {i}" + (f" channel {p}" if p < chans else "")))
        d.add(Rect(px - 1, py - 1, px + fw * cell + 1, py + fh * cell + 1, outline=(0xC8, 0xC8, 0xC8)))
        if write_values and small[i] and p < chans:
            lum = (rgb.astype(np.float64) / 255) @ np.array([0.2126, 0.7152, 0.0722])
            for r in range(a.shape[0]):
                for c in range(a.shape[1]):
                    yy, xx = r * dil[0], c * dil[1]
                    fill = (255, 255, 255) if lum[yy, xx] < 0.45 else INK_COLOUR
                    d.text(px + (xx + 0.5) * cell, py + (yy + 0.5) * cell,
                           format_weight(float(a[r, c, p]), decimals[i]), vsize, fill, anchor="mm")
    half = Scale(np.array([-stage_m]), np.array([stage_m]), 0, LEVELS - 1, np.array([-stage_m]),
                 np.array([stage_m]), np.array([-1]), "fixed" if filter_scale == "stage" else "map", True, None, None,
                 0.0)
    cb_x = margin + comp_w + round(unit * 1.6)
    colorbar_items(d, (top + head, cb_x, top + head + cb_h, cb_x + bar_w), half, grid_palette(cmap), unit, k,
                   noun="kernel")
    return d
