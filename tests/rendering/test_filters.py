"""The filters picture of conv stages, and render.filters."""

from __future__ import annotations

import numpy as np

import cnnviz
from cnnviz.rendering.writer import render
from tests.helpers import read_rgb, small_run


def test_filters_picture_for_conv_stages(tmp_path):
    config, x, layers = small_run(
        [{"type": "conv", "filters": [{"random": {"count": 2, "size": 3}}]},
         {"type": "conv", "filters": [{"random": {"count": 3, "size": 9}}]}],
        image=np.random.default_rng(0).random((24, 24, 3)),
        render_opts={"overview": False},
    )
    files = render(config, layers, tmp_path)
    names = {f.name for f in files}
    assert {"filters_01_conv1.png", "filters_02_conv2.png"} <= names
    a = read_rgb(tmp_path / "filters_01_conv1.png")
    assert a.shape[0] > 100 and a.shape[1] > 300
    # 3-channel kernels on an RGB input get a colour column; deeper 3-channel kernels do not
    from cnnviz.rendering.filters import filter_figure

    k = layers[0].stage.kernels
    assert k.shape == (2, 3, 3, 3)
    assert filter_figure(k, as_colour=True).width > filter_figure(k, as_colour=False).width
    # render.filters: false skips them; render.overview: false skipped the overview
    assert "overview.png" not in names
    config2 = cnnviz.load_config({**config.data, "render": {"filters": False, "overview": False}})
    files = render(config2, layers, tmp_path / "nofilters")
    assert not [f for f in files if f.name.startswith("filters_")]
