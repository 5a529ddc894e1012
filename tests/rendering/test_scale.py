"""Which maps are shown and how values map to colours: select_maps, value_limits, normalize_maps, run_range."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.rendering.grid import grid_title, render_grid, stage_grid
from cnnviz.rendering.palette import LEVELS
from cnnviz.rendering.scale import normalize_maps, run_range, select_maps, value_limits
from cnnviz.rendering.writer import render
from tests.helpers import expected_rgb, read_indexed, small_run, tile_pixels


def test_select_maps_strongest_in_order_and_title():
    energies = [3.0, 0.5, 9.0, 1.0, 9.0, 0.0, 2.0, 7.0]
    maps = np.ones((4, 4, len(energies)), np.float32) * np.sqrt(np.array(energies, np.float32))
    maps[:, :, 1] *= -1  # sign does not matter, energy does
    idx = select_maps(maps, 4)
    assert list(idx) == [0, 2, 4, 7]
    assert list(select_maps(maps, 100)) == list(range(8))
    pic = render_grid(maps, max_maps=4, normalize="layer", cmap="gray", scale=1)
    assert list(pic.indices) == [0, 2, 4, 7] and pic.layout.n == 4
    title = grid_title(3, "conv2", "conv", (4, 4, 8), len(idx), 8)
    assert title == "03 conv2 (conv) · 4×4×8 · 4 of 8 shown"
    assert "shown" not in grid_title(3, "conv2", "conv", (4, 4, 8), 8, 8)


def test_normalize_map_layer_global_ranges():
    a = np.stack([np.linspace(-1, 2, 16).reshape(4, 4), np.linspace(0, 5, 16).reshape(4, 4)], axis=2)
    lo, hi = value_limits(a, "map")
    assert np.allclose(lo, [-1, 0]) and np.allclose(hi, [2, 5])
    lo, hi = value_limits(a, "layer")
    assert np.allclose(lo, [-1, -1]) and np.allclose(hi, [5, 5])
    lo, hi = value_limits(a, "global", global_range=(-3.0, 10.0))
    assert np.allclose(lo, -3) and np.allclose(hi, 10)
    lo, hi = value_limits(a, "layer", center=True)
    assert np.allclose(lo, -5) and np.allclose(hi, 5)
    # the colorbar of a layer-normalised grid spans exactly the data
    pic = render_grid(a, normalize="layer", cmap="gray")
    assert pic.colorbar == (pytest.approx(-1.0), pytest.approx(5.0))
    assert render_grid(a, normalize="map").colorbar is None
    assert render_grid(a, normalize="layer", colorbar=False).colorbar is None
    q = normalize_maps(a, lo=-1.0, hi=5.0)
    assert q.min() == 0 and q.max() == LEVELS - 1 and q.dtype == np.uint8


def test_global_normalisation_across_stages(tmp_path):
    x = np.linspace(0, 1, 20 * 24).reshape(20, 24)
    config, img, layers = small_run(
        [{"type": "conv", "filters": [[[1.0]]]}, {"type": "conv", "filters": [[[2.0]]]}],
        image=x,
        render_opts={"normalize": "global", "cmap": "gray", "overview": False, "filters": False},
    )
    render(config, layers, tmp_path)
    lo = min(float(la.output.min()) for la in layers)
    hi = max(float(la.output.max()) for la in layers)
    assert lo == pytest.approx(0) and hi == pytest.approx(2)
    assert run_range(layers) == (pytest.approx(lo), pytest.approx(hi))
    for layer in layers:
        y = layer.output
        pic = stage_grid(layer, config.render, global_range=run_range(layers))  # the layout render used
        idx, pal = read_indexed(tmp_path / f"{layer.index:02d}_{layer.name}.png")
        assert idx.shape == pic.pixels.shape
        tile = tile_pixels(pal[idx], pic, 0)
        assert (tile == expected_rgb(y[:, :, 0], lo, hi, "gray")).mean() > 0.99
        assert pic.colorbar == (pytest.approx(lo), pytest.approx(hi))
    # the first stage reaches only the middle of the shared scale
    pic = stage_grid(layers[0], config.render, global_range=run_range(layers))
    idx, _ = read_indexed(tmp_path / "01_conv1.png")
    top, left, bottom, right = pic.layout.tile_box(0)
    assert idx[top:bottom, left:right].max() == round(1.0 / 2.0 * (LEVELS - 1))
