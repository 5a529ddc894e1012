"""grid_shape and compose_grid: rows and columns, gaps, upscaling."""

from __future__ import annotations

import numpy as np

from cnnviz.rendering.layout import compose_grid, grid_shape


def test_compose_grid_shapes_and_upscale():
    tiles = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    out = compose_grid(tiles, 2, 3)
    assert out.shape == (2 * 2, 3 * 3)
    out = compose_grid(tiles, 2, 3, scale=4, gap=2, fill=250)
    assert out.shape == (2 * 8 + 2, 3 * 12 + 2 * 2)
    assert (out[:8, 14:26] == np.kron(tiles[:, :, 1], np.ones((4, 4), np.uint8))).all()
    assert (out[10:, 28:] == 250).all()  # the sixth cell is empty


def test_grid_shape_near_square_and_columns():
    assert grid_shape(64) == (8, 8)
    assert grid_shape(1) == (1, 1)
    rows, cols = grid_shape(10)
    assert rows * cols >= 10 and abs(rows - cols) <= 1
    assert grid_shape(12, columns=5) == (3, 5)
    assert grid_shape(3, columns=10) == (1, 3)
