"""render_grid and stage_grid: tile pixels, order and count, k of n shown, upscaling."""

# Images are compared by pixels and properties, never by bytes: a grid PNG is read back, its palette
# indices mapped through its palette, and the tiles (found with the layout that ``render_grid``
# exposes) compared with an independent colormapping of the maps.

from __future__ import annotations

import numpy as np

from cnnviz.io.pngio import read_png_metadata, write_png
from cnnviz.rendering.grid import render_grid, stage_grid
from cnnviz.rendering.layout import auto_scale
from cnnviz.rendering.palette import LEVELS, colormap_colors
from cnnviz.rendering.scale import normalize_maps
from cnnviz.rendering.writer import render
from tests.helpers import expected_rgb, read_indexed, small_run, smooth_maps, tile_pixels


def test_grid_pixels_are_the_colormapped_maps(tmp_path):
    maps = smooth_maps(20, 30, 5)
    maps[:, :, 2] *= 7.0  # different ranges per map
    pic = render_grid(maps, title="t", cmap="viridis", normalize="map", scale=3)
    path = write_png(tmp_path / "g.png", pic.pixels, pic.palette)
    idx, pal = read_indexed(path)
    assert idx.shape == pic.pixels.shape
    rgb = pal[idx]
    for j in range(5):
        m = maps[:, :, j]
        want = expected_rgb(m, float(m.min()), float(m.max()), "viridis")
        got = tile_pixels(rgb, pic, j)
        assert got.shape == want.shape
        # at most one quantisation step of difference (float32 vs float64 rounding)
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 3
        assert (got == want).mean() > 0.99


def test_tile_count_and_order():
    n = 7
    maps = np.zeros((10, 12, n), np.float32) + np.arange(n, dtype=np.float32)  # map i is constant i
    pic = render_grid(maps, normalize="layer", cmap="magma", scale=2)
    assert pic.layout.n == n and list(pic.indices) == list(range(n))
    rgb = pic.palette[pic.pixels]
    colours = colormap_colors("magma", LEVELS)
    for j in range(n):
        tile = tile_pixels(rgb, pic, j)
        want = colours[round(j / (n - 1) * (LEVELS - 1))]
        assert (tile == want).all(), j
    # row-major placement: tile 1 right of tile 0, tile `cols` below tile 0
    t0, x0, _, _ = pic.layout.tile_box(0)
    t1, x1, _, _ = pic.layout.tile_box(1)
    tc, xc, _, _ = pic.layout.tile_box(pic.layout.cols)
    assert t1 == t0 and x1 > x0 and tc > t0 and xc == x0


def test_k_of_n_end_to_end(tmp_path):
    config, x, layers = small_run(
        [{"type": "conv", "filters": [{"random": {"count": 12, "size": 3}}]}],
        render_opts={"max_maps": 5, "overview": False, "filters": False},
    )
    render(config, layers, tmp_path, image=x, image_name="noise")
    y = layers[0].output
    energy = (y.astype(np.float64) ** 2).sum(axis=(0, 1))
    want = sorted(np.argsort(-energy)[:5])
    md = read_png_metadata(tmp_path / "01_conv1.png")
    assert md["title"].endswith("5 of 12 shown")
    pic = stage_grid(layers[0], config.render)
    assert list(pic.indices) == want and pic.title == md["title"]
    # the tiles hold those maps, in that order
    idx, pal = read_indexed(tmp_path / "01_conv1.png")
    for j, ch in enumerate(want):
        m = y[:, :, ch]
        assert (tile_pixels(pal[idx], pic, j) == expected_rgb(m, float(m.min()), float(m.max()), "gray")).mean() > 0.99


def test_integer_nearest_neighbour_upscaling():
    m = smooth_maps(12, 12, 1)
    pic = render_grid(m, cmap="gray", labels=False)
    s = pic.layout.scale
    assert s >= 8 and pic.layout.tile_h == 12 * s and s == auto_scale(12, 12)
    top, left, bottom, right = pic.layout.tile_box(0)
    tile = pic.pixels[top:bottom, left:right]
    q = normalize_maps(m, m.min(), m.max())[:, :, 0]
    assert (tile == np.kron(q, np.ones((s, s), np.uint8))).all()
    # big maps are never zoomed (so never resampled)
    assert auto_scale(300, 451) == 1
    big = render_grid(smooth_maps(200, 260, 2), cmap="gray")
    assert big.layout.scale == 1


def test_two_maps_that_fit_nowhere_at_full_size_still_end(tmp_path):
    """render_grid once looped forever when 2 or 3 maps did not fit max_size (0.7 × 2, rounded up, is 2):
    a 120×160 image, 2 kernels, max_size 256.  Run in a child process, so that a regression fails, not hangs."""
    import subprocess
    import sys

    code = ("import cnnviz, numpy as np; img = np.random.default_rng(0).random((120, 160)); "
            "cfg = {'stages': [{'type': 'conv', 'filters': [{'random': {'count': 2}}]}], "
            "'render': {'max_size': 256}}; "
            f"cnnviz.render(cfg, cnnviz.run(cfg, img), {str(tmp_path / 'out')!r}, image=img)")
    try:
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60, capture_output=True)
    except subprocess.TimeoutExpired:
        raise AssertionError("rendering two maps into max_size 256 did not end") from None
    from tests.helpers import read_rgb
    rgb = read_rgb(tmp_path / "out" / "01_conv1.png")
    assert max(rgb.shape[:2]) <= 256
