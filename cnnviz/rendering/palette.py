"""Colours: colormaps sampled into palettes, diverging colormaps and centring, the page's own colours.

Palette layout of a grid PNG: indices ``0 .. LEVELS-1`` (``LEVELS = 247``,
odd so that the middle index is exactly the colormap's centre) are the
colormap sampled at ``linspace(0, 1, LEVELS)``; the last nine indices are
the page's own colours (background, text, frames).  The colormaps come
from :mod:`cnnviz.colormaps` (a bundled table: no matplotlib).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..colormaps import DIVERGING, colormap_rgb, is_diverging

__all__ = [
    "LEVELS", "BACKGROUND", "INK", "SOFT", "FRAME", "WHITE", "INK_RGB", "SOFT_RGB", "FRAME_RGB",
    "PAGE_INK", "PAGE_SOFT", "PAGE_LINE", "DIVERGING", "is_diverging", "resolve_center", "colormap_colors",
    "grid_palette",
]

#: Colormap levels in a grid's palette (odd: index ``LEVELS // 2`` is the centre).
LEVELS = 247
#: Palette index of the page background (white).
BACKGROUND = LEVELS
#: Palette indices of dark text, from faint to full (anti-aliasing steps).
INK = (LEVELS + 1, LEVELS + 2, LEVELS + 3, LEVELS + 4)
#: Palette indices of grey (secondary) text, from faint to full.
SOFT = (LEVELS + 5, LEVELS + 6, LEVELS + 7)
#: Palette index of tile frames.
FRAME = LEVELS + 8

WHITE = np.array([255, 255, 255])
INK_RGB = np.array([0x1F, 0x1F, 0x1F])
SOFT_RGB = np.array([0x5F, 0x5F, 0x5F])
FRAME_RGB = np.array([0xC8, 0xC8, 0xC8])

def resolve_center(center: str, cmap: str) -> bool:
    """``center`` (``auto`` | ``zero`` | ``none``) -> whether maps are centred on zero.

    ``auto`` centres when ``cmap`` is diverging.  Centred means zero maps to the
    colormap's middle colour, for every map (a non-negative map then uses the
    upper half only), so colours mean the same thing in every tile.
    """
    if center == "zero":
        return True
    if center == "none":
        return False
    return is_diverging(cmap)


def colormap_colors(cmap: str, n: int = LEVELS) -> np.ndarray:
    """The matplotlib colormap ``cmap`` sampled at ``linspace(0, 1, n)``: (n, 3) uint8, read-only.

    From the bundled table (:mod:`cnnviz.colormaps`); matplotlib is imported
    only for a colormap the table does not have.
    """
    return colormap_rgb(cmap, n)


def _ramp(rgb: np.ndarray, steps: int) -> np.ndarray:
    a = np.arange(1, steps + 1)[:, None] / steps
    return np.round(WHITE * (1 - a) + rgb * a)


@lru_cache(maxsize=64)
def grid_palette(cmap: str) -> np.ndarray:
    """The palette of a grid PNG: (256, 3) uint8, read-only (one array per colormap, shared).

    Rows ``0 .. LEVELS-1`` are :func:`colormap_colors` ``(cmap, LEVELS)``, then
    the background, the text ramps and the frame colour.
    """
    out = np.concatenate([
        colormap_colors(cmap, LEVELS),
        WHITE[None],
        _ramp(INK_RGB, len(INK)),
        _ramp(SOFT_RGB, len(SOFT)),
        FRAME_RGB[None],
    ]).astype(np.uint8)
    out.flags.writeable = False
    return out

#: Colours of the RGB pages (input, overview): text, secondary text, lines.
PAGE_INK = (0x1F, 0x1F, 0x1F)
PAGE_SOFT = (0x5F, 0x5F, 0x5F)
PAGE_LINE = (0xC8, 0xC8, 0xC8)
