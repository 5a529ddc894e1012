"""Diverging colormaps and centring on zero."""

from __future__ import annotations

import numpy as np

from cnnviz.io.pngio import write_png
from cnnviz.rendering.grid import render_grid
from cnnviz.rendering.palette import LEVELS, colormap_colors, is_diverging, resolve_center
from tests.helpers import read_indexed


def test_centred_on_zero_under_diverging_cmap(tmp_path):
    assert is_diverging("RdBu_r") and is_diverging("coolwarm") and is_diverging("seismic")
    assert not is_diverging("viridis") and not is_diverging("gray")
    assert resolve_center("auto", "RdBu") and not resolve_center("auto", "magma")
    assert resolve_center("zero", "magma") and not resolve_center("none", "RdBu")
    m = np.zeros((9, 9, 2), np.float32)
    m[:, :, 0] = np.linspace(-1, 3, 81).reshape(9, 9)
    m[0, 0, 0] = 0.0
    m[:, :, 1] = np.linspace(0, 2, 81).reshape(9, 9)  # non-negative map
    pic = render_grid(m, cmap="RdBu_r", normalize="map", center=True, scale=4)
    path = write_png(tmp_path / "c.png", pic.pixels, pic.palette)
    idx, pal = read_indexed(path)
    middle = colormap_colors("RdBu_r", LEVELS)[LEVELS // 2]
    from matplotlib import colormaps

    assert (middle == np.round(np.array(colormaps["RdBu_r"](0.5)[:3]) * 255)).all()
    for j in range(2):
        top, left, _, _ = pic.layout.tile_box(j)
        assert idx[top, left] == LEVELS // 2 and (pal[idx[top, left]] == middle).all()  # value 0 -> middle colour
    assert np.allclose(pic.lo, [-3, -2]) and np.allclose(pic.hi, [3, 2])
    # not centred: 0 is the lowest colour of the non-negative map
    pic = render_grid(m, cmap="RdBu_r", normalize="map", center=False, scale=4)
    top, left, _, _ = pic.layout.tile_box(1)
    assert pic.pixels[top, left] == 0
