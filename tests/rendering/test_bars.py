"""Bar charts for vector stages (global_pool, dense, softmax), with labels."""

from __future__ import annotations

import numpy as np

from tests.helpers import read_rgb


def test_bar_charts_for_vectors(rendered):
    out, config, x, layers, files = rendered
    for name in ("04_global_pool1.png", "05_dense1.png", "06_softmax1.png"):
        rgb = read_rgb(out / name)
        # 3 values -> about 750 pixels wide at 100 dpi, a 28-pixel row each
        assert 700 <= rgb.shape[1] <= 800 and 180 <= rgb.shape[0] <= 260
        assert (rgb != 255).any(axis=2).mean() > 0.02  # something is drawn
    # softmax after a labelled dense uses the dense stage's labels
    assert list(layers[5].stage.labels or []) == ["cat", "dog", "owl"]
    assert list(layers[4].stage.labels or []) == ["cat", "dog", "owl"]
    assert layers[3].stage.labels is None


def test_bar_chart_shows_labels():
    from cnnviz.rendering.bars import bar_chart
    from cnnviz.rendering.canvas import rasterize

    def chart(*args, **kwargs):
        return rasterize(bar_chart(*args, **kwargs))[0]

    plain = chart(np.array([0.1, 0.7, 0.2]), title="t", probabilities=True)
    named = chart(np.array([0.1, 0.7, 0.2]), title="t", labels=["a much longer name", "b", "c"],
                  probabilities=True)
    assert plain.shape[0] == named.shape[0] and plain.dtype == np.uint8
    assert not np.array_equal(plain, named)
    many = chart(np.linspace(-1, 1, 80))
    assert many.shape[1] > plain.shape[1]  # vertical bars, a wide chart
