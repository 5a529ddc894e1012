"""render.reduce: one more tile summarising every channel — mean, max, or PCA as RGB (checked against numpy's SVD)."""

from __future__ import annotations

import numpy as np
import pytest

import cnnviz
from cnnviz.rendering.canvas import Raster, Text
from cnnviz.rendering.grid import stage_grid
from cnnviz.rendering.reduce import principal_components, summary


def correlated_maps(seed: int = 0) -> np.ndarray:
    """12 channels built from 3 hidden patterns with different strengths, plus a little noise."""
    rng = np.random.default_rng(seed)
    hidden = rng.normal(size=(20 * 24, 3)) * [5.0, 2.0, 1.0]
    mix = rng.normal(size=(3, 12))
    return (hidden @ mix + 0.05 * rng.normal(size=(480, 12)) + 3.0).reshape(20, 24, 12)


def test_pca_equals_numpys_svd():
    maps = correlated_maps()
    scores, explained = principal_components(maps, 3)
    x = maps.reshape(-1, 12) - maps.reshape(-1, 12).mean(axis=0)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    ref = u[:, :3] * s[:3]
    for k in range(3):  # a component is defined up to its sign
        got = scores.reshape(-1, 3)[:, k]
        sign = np.sign(got @ ref[:, k])
        np.testing.assert_allclose(got, sign * ref[:, k], rtol=1e-9, atol=1e-9 * np.abs(ref).max())
    np.testing.assert_allclose(explained, s[:3] ** 2 / (s ** 2).sum(), rtol=1e-9)
    assert explained[0] > explained[1] > explained[2] and explained.sum() > 0.99


def test_pca_of_fewer_than_three_channels_pads_with_zero():
    maps = correlated_maps()[:, :, :2]
    scores, explained = principal_components(maps, 3)
    assert (scores[:, :, 2] == 0).all() and explained[2] == 0
    _, rgb, name = summary(maps, "pca")
    assert rgb is not None and rgb.shape == (20, 24, 3) and (rgb[:, :, 2] == 0).all()
    assert name.startswith("PCA of 2 maps, R, G, B = components 1, 2, 3 (")


def test_the_pca_tile_is_the_components_as_rgb():
    maps = correlated_maps()
    _, rgb, _ = summary(maps, "pca")
    x = maps.reshape(-1, 12) - maps.reshape(-1, 12).mean(axis=0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    for k in range(3):
        ref = (u[:, k] * s[k]).reshape(20, 24)
        got = rgb[:, :, k].astype(float)
        # each colour is its component stretched over min..max (sign-free check: correlation ±1)
        r = np.corrcoef(got.ravel(), ref.ravel())[0, 1]
        assert abs(r) > 0.999
        assert got.min() == 0 and got.max() == 255


@pytest.mark.parametrize("mode, reduce", [("mean", np.mean), ("max", np.max)])
def test_mean_and_max_tiles_are_drawn_on_the_stage_scale(mode, reduce):
    img = np.random.default_rng(1).random((14, 16))
    cfg = {"stages": [{"type": "conv", "filters": [{"random": {"count": 6, "dist": "normal"}}]}],
           "render": {"reduce": mode, "normalize": "layer"}}
    config = cnnviz.load_config(cfg)
    layer = cnnviz.run(config, img)[0]
    pic = stage_grid(layer, config.render)
    texts = [t.text for t in pic.drawing.items if isinstance(t, Text)]
    assert texts[0].endswith("· 12×14×6") and f"{mode} of all" in texts
    assert any(f"the last tile: {mode} of 6 maps" in t for t in texts)
    tile = next(r for r in pic.drawing.items if isinstance(r, Raster) and r.name == "map 6")
    y = layer.output.astype(np.float64)
    ref = reduce(y, axis=2)
    lo, hi = float(y.min()), float(y.max())  # layer mode: the stage's one range
    expected = np.floor((ref - lo) / (hi - lo) * 246 + 0.5).astype(int)
    assert np.abs(tile.data.astype(int) - expected).max() <= 1


def test_reduce_none_and_one_channel_add_nothing():
    img = np.random.default_rng(2).random((10, 10))
    for cfg in ({"stages": [{"type": "conv", "filters": [{"random": {"count": 3}}]}]},
                {"stages": [{"type": "conv", "filters": [{"random": {"count": 1}}]}], "render": {"reduce": "pca"}}):
        config = cnnviz.load_config(cfg)
        layer = cnnviz.run(config, img)[0]
        names = [r.name for r in stage_grid(layer, config.render).drawing.items if isinstance(r, Raster)]
        assert [n for n in names if n.startswith("map ")] == [f"map {i}" for i in range(layer.output.shape[2])]


def test_reduce_is_a_checked_render_key(tmp_path):
    from tests.helpers import one_error

    assert one_error(tmp_path, "stages: [relu]\nrender: {reduce: median}\n") == (
        "x.yaml:2:18: render.reduce: must be one of none, mean, max, pca, not 'median' (did you mean 'mean'?)")
