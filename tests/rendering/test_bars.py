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


def text_boxes(drawing):
    """Each Text item's box (x0, y0, x1, y1) from its size and anchor (Pillow's anchors: l/m/r, a/m/d/s)."""
    from cnnviz.rendering.canvas import Text, text_size

    boxes = []
    for t in drawing.items:
        if isinstance(t, Text):
            w, h = text_size(t.text, t.size, t.bold)
            ax = {"l": 0.0, "m": 0.5, "r": 1.0}[t.anchor[0]]
            ay = {"a": 0.0, "t": 0.0, "m": 0.5, "s": 0.8, "d": 1.0, "b": 1.0}[t.anchor[1]]
            boxes.append((t.text, t.x - ax * w, t.y - ay * h, t.x - ax * w + w, t.y - ay * h + h))
    return boxes


def test_no_two_texts_of_a_bar_chart_overlap():
    """tiny-cnn's logits once wrote '−0.252' over the name 'rocket': a negative bar's value needs room."""
    from cnnviz.rendering.bars import bar_chart

    values = np.array([-0.128, -0.0894, -0.0422, -0.252, -0.222])
    for labels in (["cat", "dog", "coffee", "rocket", "astronaut"], None):
        boxes = text_boxes(bar_chart(values, title="08 logits (dense) · 1×1×5", subtitle="5 units", labels=labels))
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                overlap = min(a[3], b[3]) - max(a[1], b[1]) > 1 and min(a[4], b[4]) - max(a[2], b[2]) > 1
                assert not overlap, (a, b)
