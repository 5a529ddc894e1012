"""The raster backend's text: each string's mask is exactly what ``ImageDraw.text`` draws."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cnnviz.rendering.canvas import INK_COLOUR, SOFT_COLOUR, Drawing, rasterize, text_mask, text_size
from cnnviz.rendering.text import font

TEXTS = ["", " ", "Ag", "0", "−0.5 … 1.2", "01 edges (conv) · 298×449×2", "gabor θ=45° λ=6", "+max |map|", "·",
         "sobel_x", "filters of 04 conv2 (conv) · 3 kernels", "R", "1.5e−3", "shown at 1:12"]


def drawn(text: str, size: int, bold: bool, anchor: str) -> tuple[np.ndarray, int, int]:
    """The text as ImageDraw draws it at its bounding box's corner (what text_mask once did)."""
    f = font(size, bold)
    left, top, right, bottom = f.getbbox(text, anchor=anchor)
    im = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(im).text((-left, -top), text, font=f, fill=255, anchor=anchor)
    return np.asarray(im), left, top


@pytest.mark.parametrize("size", [7, 11, 13, 17, 31, 44])
@pytest.mark.parametrize("bold", [False, True])
@pytest.mark.parametrize("anchor", ["la", "lm", "ra", "ls", "mm"])
def test_text_mask_is_what_imagedraw_draws(size, bold, anchor):
    for text in TEXTS:
        mask, left, top = text_mask(text, size, bold, anchor)
        want, wl, wt = drawn(text, size, bold, anchor)
        assert (left, top) == (wl, wt) and mask.shape == want.shape and np.array_equal(mask, want), text
        assert not mask.flags.writeable


def test_text_on_a_palette_picture_uses_its_colours_ramp():
    d = Drawing(120, 50)
    d.text(5, 5, "Ag 0.25", 17, INK_COLOUR)
    d.text(5, 28, "−1", 17, SOFT_COLOUR)  # below the first: no overlap
    px, palette = rasterize(d)
    assert palette is not None
    mask, ox, oy = text_mask("Ag 0.25", 17)
    region = px[5 + oy:5 + oy + mask.shape[0], 5 + ox:5 + ox + mask.shape[1]]
    from cnnviz.rendering.palette import BACKGROUND, INK

    q = (mask.astype(np.uint16) * len(INK) + 127) // 255
    assert np.array_equal(region[q == 0], np.full(int((q == 0).sum()), BACKGROUND, np.uint8))
    assert np.array_equal(region[q > 0], np.asarray(INK, np.uint8)[q[q > 0] - 1])
    assert text_size("Ag 0.25", 17) is text_size("Ag 0.25", 17)  # cached
