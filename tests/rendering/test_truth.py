"""SPEC §3 "Pictures tell the truth": each rule read back from the pictures' pixels and text.

Every rule is a check function that reads a picture; each is shown passing on
what cnnviz draws and failing on a picture doctored to break the rule, so
that the checks are known to be able to fail.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from PIL import Image

import cnnviz
from cnnviz.formatting import short_number
from cnnviz.rendering.canvas import Drawing, Raster, Text, rasterize
from cnnviz.rendering.filters import GAP_COLOUR, filter_figure
from cnnviz.rendering.grid import render_grid, stage_grid
from cnnviz.rendering.palette import LEVELS, colormap_colors
from cnnviz.rendering.scale import area_average, stage_scale
from tests.helpers import ROOT

RNG = np.random.default_rng(11)
MID = LEVELS // 2


def texts(d: Drawing) -> list[str]:
    return [i.text for i in d.items if isinstance(i, Text)]


def maps_of(d: Drawing) -> dict[int, Raster]:
    return {int(r.name.split()[-1]): r for r in d.rasters if r.name.startswith("map ")}


def colorbar(d: Drawing) -> Raster:
    return next(r for r in d.rasters if r.name == "colorbar")


def signed_maps() -> np.ndarray:
    x = RNG.standard_normal((20, 24, 4)).cumsum(0)
    x[..., 1] *= 3
    return x.astype(np.float32)


# ---------------------------------------------------------------------------
# 1. A tile's range label is its data's own min … max.


def range_labels_are_the_data(d: Drawing, maps: np.ndarray, shown: np.ndarray) -> bool:
    found = texts(d)
    return all(f"{short_number(float(maps[:, :, c].min()))} … {short_number(float(maps[:, :, c].max()))}" in found
               for c in shown)


@pytest.mark.parametrize("normalize, cmap", [("map", "RdBu_r"), ("layer", "RdBu_r"), ("map", "gray"),
                                             ("layer", "viridis")])
def test_range_labels_are_the_data_not_the_scale(normalize, cmap):
    maps = signed_maps()
    pic = render_grid(maps, cmap=cmap, normalize=normalize, center=cmap == "RdBu_r")
    assert range_labels_are_the_data(pic.drawing, maps, pic.indices)
    # the scale differs from the data (centred, shared): the colorbar or subtitle shows the scale
    if normalize == "layer":
        assert pic.colorbar == (pytest.approx(float(pic.scale.lo[0])), pytest.approx(float(pic.scale.hi[0])))
    # a picture labelled with its colour limits instead fails the check
    lo, hi = pic.scale.lo[0], pic.scale.hi[0]
    doctored = dataclasses.replace(pic.drawing, items=[
        dataclasses.replace(i, text=f"{short_number(float(lo))} … {short_number(float(hi))}")
        if isinstance(i, Text) and " … " in i.text else i for i in pic.drawing.items])
    assert not range_labels_are_the_data(doctored, maps, pic.indices)


def test_clipped_scale_is_said_and_labels_stay_the_data():
    maps = signed_maps()
    maps[3, 4, 0] = 50.0  # one extreme cell
    from cnnviz.pipeline.run import Layer

    layer = Layer(1, "x", "relu", maps, None, 0.0)
    pic = stage_grid(layer, {**cnnviz.config.RENDER_DEFAULTS, "clip": 99.0})
    assert range_labels_are_the_data(pic.drawing, maps, pic.indices)
    assert "50" in " ".join(texts(pic.drawing))
    assert any("clipped at the 99th percentile" in t for t in texts(pic.drawing))
    assert pic.scale.hi[0] < 50  # the colours ignore the outlier


# ---------------------------------------------------------------------------
# 2. Diverging colormap, all values >= 0: the positive half only, its colorbar that half.


def uses_half(d: Drawing, half: str) -> bool:
    bar = colorbar(d).data
    tiles = np.concatenate([r.data.ravel() for r in maps_of(d).values()])
    used = np.concatenate([bar.ravel(), tiles])
    return bool((used >= MID).all()) if half == "positive" else bool((used <= MID).all())


@pytest.mark.parametrize("half", ["positive", "negative"])
def test_a_one_signed_stage_uses_half_the_colormap(half):
    maps = np.abs(signed_maps()) * (1 if half == "positive" else -1)
    maps[:, :, 2] = 0.0  # a dead channel
    pic = render_grid(maps, cmap="RdBu_r", center=True)
    assert pic.scale.half == half and uses_half(pic.drawing, half)
    # 0 is the centre colour: the dead channel's tile is all centre
    assert (maps_of(pic.drawing)[2].data == MID).all()
    bar = colorbar(pic.drawing).data[:, 0]
    assert (bar[-1] if half == "positive" else bar[0]) == MID  # the bar ends at the centre colour, 0
    # the pixels: the centre of RdBu_r is near white, and no blue (negative) colour appears for a positive stage
    px, pal = pic.pixels, pic.palette
    rgb = pal[px]
    blue = colormap_colors("RdBu_r")[:MID - 2] if half == "positive" else colormap_colors("RdBu_r")[MID + 2:]
    assert not np.isin(rgb.reshape(-1, 3).view([("", np.uint8)] * 3), blue.view([("", np.uint8)] * 3)).any()
    # a stage with both signs fails the check: it needs both halves
    mixed = render_grid(signed_maps(), cmap="RdBu_r", center=True)
    assert mixed.scale.half is None and not uses_half(mixed.drawing, half)


# ---------------------------------------------------------------------------
# 3. A constant map is drawn in the colour its value has; rounding noise is not contrast.


def tile_is_one_colour(d: Drawing, channel: int, index: int) -> bool:
    return bool((maps_of(d)[channel].data == index).all())


def test_zeros_on_a_centred_scale_are_the_centre_colour():
    maps = signed_maps()
    maps[:, :, 0] = 0.0
    pic = render_grid(maps, cmap="RdBu_r", center=True)
    assert tile_is_one_colour(pic.drawing, 0, MID)
    assert not tile_is_one_colour(pic.drawing, 1, MID)  # a map with contrast fails it
    # the zeros' colour, in the PNG's own pixels, is the colormap's centre (not its darkest end)
    top, left, bottom, right = pic.layout.tile_box(list(pic.indices).index(0))
    colours = np.unique(pic.palette[pic.pixels[top:bottom, left:right]].reshape(-1, 3), axis=0)
    assert colours.tolist() == [colormap_colors("RdBu_r")[MID].tolist()]


def test_a_constant_map_in_map_mode_takes_its_colour_on_the_stage_range():
    maps = np.stack([np.linspace(0, 1, 64).reshape(8, 8), np.full((8, 8), 0.75)], axis=2)
    pic = render_grid(maps, cmap="gray", normalize="map")
    expected = round(0.75 * (LEVELS - 1))
    assert tile_is_one_colour(pic.drawing, 1, expected)  # 0.75 on the stage's 0 … 1, not the darkest


def test_rounding_noise_on_a_flat_image_is_drawn_flat(tmp_path):
    """edges.yaml on a flat image: float32 rounding leaves up to ~5e-7 in some maps; drawn flat, at 0's colour."""
    flat = np.full((48, 48), 0.7)
    config = cnnviz.load_config(ROOT / "configs" / "edges.yaml")
    layers = cnnviz.run(config, flat)
    noise = np.abs(layers[0].output).max(axis=(0, 1))
    assert (noise < 1e-6).all() and (noise > 0).sum() >= 3  # rounding, not a signal
    cnnviz.render(config, layers, tmp_path, image=cnnviz.load_image(flat, config))
    with Image.open(tmp_path / "01_edges.png") as im:
        px = np.asarray(im)
    pic = stage_grid(layers[0], config.render, reference=0.7)
    for j in range(8):
        top, left, bottom, right = pic.layout.tile_box(j)
        assert (px[top:bottom, left:right] == MID).all(), j
    # measured against the maps alone, the noise would be stretched to the full range: the check catches it
    raw = stage_grid(layers[0], config.render, reference=0.0)
    assert not all(tile_is_one_colour(raw.drawing, c, MID) for c in range(8))


# ---------------------------------------------------------------------------
# 4. dpi scales the whole figure.


def scaled_copy(d100: Drawing, d300: Drawing, factor: float = 3.0) -> bool:
    """The dpi-300 drawing is the dpi-100 one at ``factor`` times: size, every raster box, every text size."""
    if abs(d300.width - factor * d100.width) > 3 * factor or abs(d300.height - factor * d100.height) > 3 * factor:
        return False
    r1, r3 = d100.rasters, d300.rasters
    if len(r1) != len(r3):
        return False
    for a, b in zip(r1, r3, strict=True):
        if abs(b.w - factor * a.w) > factor or abs(b.x - factor * a.x) > 2 * factor:
            return False
    t1, t3 = [i for i in d100.items if isinstance(i, Text)], [i for i in d300.items if isinstance(i, Text)]
    return len(t1) == len(t3) and all(abs(b.size - factor * a.size) <= factor for a, b in zip(t1, t3, strict=True))


def test_dpi_300_is_the_dpi_100_figure_at_three_times():
    maps = signed_maps()
    a = render_grid(maps, cmap="viridis", dpi=100, title="t", subtitle="s")
    b = render_grid(maps, cmap="viridis", dpi=300, title="t", subtitle="s")
    assert scaled_copy(a.drawing, b.drawing)
    # the pixels too: the dpi-300 picture averaged 3×3 is close to the dpi-100 one, maps exactly
    big = b.palette[b.pixels].astype(np.float64)
    h, w = (min(a.pixels.shape[0], big.shape[0] // 3), min(a.pixels.shape[1], big.shape[1] // 3))
    small = big[:h * 3, :w * 3].reshape(h, 3, w, 3, 3).mean(axis=(1, 3))
    top, left, bottom, right = a.layout.tile_box(0)
    assert np.abs(small[top:bottom, left:right] - a.palette[a.pixels][top:bottom, left:right]).max() <= 1
    # --scale alone is not --dpi: text stays the same size when only the maps zoom
    c = render_grid(maps, cmap="viridis", dpi=100, scale=a.layout.scale * 3, title="t", subtitle="s")
    assert not scaled_copy(a.drawing, c.drawing)


def test_dpi_scales_filters_bars_input_and_overview(tmp_path):
    config = cnnviz.load_config({"input": {"color": "rgb", "resize": [32, 40]}, "seed": 1, "stages": [
        {"type": "conv", "padding": "same", "filters": [{"preset": "sobel_x"}, {"random": {"count": 2}}]},
        "relu", {"type": "pool"}, "global_pool", {"type": "dense", "units": 3, "labels": ["a", "b", "c"]},
        "softmax"]})
    from cnnviz.app.session import Session

    one = Session(config, "coffee").render(tmp_path / "a").drawings
    config3 = cnnviz.config.apply_overrides(config, ["render.dpi=300"])
    three = Session(config3, "coffee").render(tmp_path / "b").drawings
    for stem in ("00_input", "filters_01_conv1", "06_softmax1", "overview", "02_relu1"):
        assert scaled_copy(one[stem], three[stem]), stem


# ---------------------------------------------------------------------------
# 5. No picture is longer than max_size; maps are area-averaged, and it says so.


def test_many_big_maps_fit_max_size_shrunk_by_area_averaging():
    maps = RNG.random((200, 180, 12)).astype(np.float32)
    pic = render_grid(maps, cmap="gray", max_size=600, title="t", subtitle="s")
    assert max(pic.pixels.shape) <= 600
    n = pic.layout.shrink
    assert n >= 2 and any(f"shown at 1:{n}" in t for t in texts(pic.drawing))
    # every tile is the area average of its map (no row dropped), coloured on the map's own range
    for c in pic.indices:
        mean = area_average(maps[:, :, c:c + 1].astype(np.float64), n)[:, :, 0]
        lo, hi = maps[:, :, c].min(), maps[:, :, c].max()
        expected = np.clip(np.floor((mean - lo) / (hi - lo) * (LEVELS - 1) + 0.5), 0, LEVELS - 1)
        got = maps_of(pic.drawing)[int(c)].data
        assert got.shape == (-(-200 // n), -(-180 // n))
        assert np.abs(got.astype(int) - expected).max() <= 1
    # dropping rows instead (every n-th row) would not be the average: the check tells them apart
    dropped = maps[::n, ::n, 0]
    assert np.abs(dropped - area_average(maps[:, :, :1], n)[:, :, 0][:dropped.shape[0], :dropped.shape[1]]).max() > 0.1


def test_more_maps_than_fit_show_the_strongest_and_say_so():
    maps = RNG.random((64, 64, 256)).astype(np.float32)
    maps[:, :, 200] *= 9  # the strongest
    pic = render_grid(maps, cmap="gray", max_size=300, heading=lambda shown, total: f"{shown} of {total} shown")
    assert max(pic.pixels.shape) <= 300 and len(pic.indices) < 64
    assert 200 in pic.indices and pic.drawing.title == f"{len(pic.indices)} of 256 shown"


# ---------------------------------------------------------------------------
# 6. The overview: one pixel scale, channel numbers, the strongest maps.


def test_overview_rows_share_one_pixel_scale(tmp_path):
    config = cnnviz.load_config({"input": {"color": "gray", "resize": [60, 80]}, "stages": [
        {"type": "conv", "filters": [{"preset": "sobel_x"}, {"preset": "sobel_y"}, [[1]], [[-1]], [[0.5]],
                                     [[2]], [[3]]]},
        {"type": "pool", "size": 2}, {"type": "pool", "size": 3}]})
    from cnnviz.app.session import Session

    d = Session(config, "camera").render(tmp_path).drawings["overview"]
    rows: dict[str, list[Raster]] = {}
    for r in d.rasters:
        if " map " in r.name:
            rows.setdefault(r.name.split(" map ")[0], []).append(r)
    inp = rows["00 input"][0]
    conv, pool, pool3 = rows["01 conv1"], rows["02 pool1"], rows["03 pool2"]
    per_pixel = inp.w / 80
    assert conv[0].w == round(78 * per_pixel) and pool[0].w == round(39 * per_pixel)
    assert pool3[0].w == round(13 * per_pixel)  # a map a third the size looks a third the size
    # the five strongest of the seven conv maps, by energy, each numbered by its channel
    out = cnnviz.run(config, "camera")[0].output
    energy = (out.astype(np.float64) ** 2).sum(axis=(0, 1))
    strongest = sorted(np.argsort(-energy)[:5].tolist())
    assert [int(r.name.split()[-1]) for r in conv] == strongest
    assert all(str(c) in texts(d) for c in strongest)


# ---------------------------------------------------------------------------
# 7. Filter pictures.


def test_kernels_drawn_at_their_own_size_with_names_and_values():
    config = cnnviz.load_config({"stages": [{"type": "conv", "padding": "same", "filters": [
        {"preset": "sobel_x"}, {"preset": "log", "size": 9, "sigma": 1.4}, {"preset": "gabor", "theta": 45,
                                                                             "wavelength": 6}]}]})
    (ps,) = cnnviz.plan(config, (32, 32, 1))
    d = filter_figure(ps.kernels, shapes=ps.kernel_shapes, names=ps.kernel_names, title="t", subtitle="s")
    panels = [r for r in d.rasters if r.name.startswith("kernel")]
    widths = [r.w for r in panels]
    assert widths[1] == 3 * widths[0]  # 9×9 beside 3×3: three times as wide, not padded
    assert panels[0].data.shape[:2] == (3, 3) and panels[1].data.shape[:2] == (9, 9)
    t = texts(d)
    assert "0 · sobel_x" in t and "1 · log σ=1.4" in t and any(x.startswith("2 · gabor θ=45° λ=6") for x in t)
    assert t.count("−2") == 1 and t.count("2") == 1  # sobel_x's values written in (a 3×3), once each
    # a padded drawing would fail: same widths
    padded = filter_figure(ps.kernels, names=ps.kernel_names)
    assert len({r.w for r in padded.rasters if r.name.startswith("kernel")}) == 1


def test_dilated_kernel_shows_its_gaps_and_rgb_channels_are_named():
    k = np.arange(1, 10, dtype=float).reshape(1, 3, 3, 1) - 5
    d = filter_figure(k, dilation=(2, 2))
    (panel,) = [r for r in d.rasters if r.name.startswith("kernel")]
    assert panel.data.shape[:2] == (5, 5)
    gaps = np.all(panel.data == GAP_COLOUR, axis=2)
    assert gaps[1::2].all() and gaps[:, 1::2].all() and not gaps[::2, ::2].any()
    rgb = RNG.standard_normal((2, 3, 3, 3))
    t = texts(filter_figure(rgb, channel_names=("R", "G", "B"), as_colour=True))
    assert {"R", "G", "B", "colour"} <= set(t)


@pytest.mark.parametrize("filter_scale", ["kernel", "stage"])
def test_filter_scale_kernel_or_stage(filter_scale):
    k = np.stack([np.eye(3) * 10, np.eye(3) * 0.1])[..., None]
    d = filter_figure(k, filter_scale=filter_scale)
    panels = [r for r in d.rasters if r.name.startswith("kernel")]
    darkest = colormap_colors("RdBu_r")[-1].tolist()
    reaches = [any((px == darkest).all() for px in p.data.reshape(-1, 3)) for p in panels]
    assert reaches == ([True, True] if filter_scale == "kernel" else [True, False])


# ---------------------------------------------------------------------------
# 8. Grid tiles named by their kernel's source.


def test_grid_tiles_carry_their_kernel_source(tmp_path):
    config = cnnviz.load_config({"input": {"color": "gray"}, "stages": [
        {"type": "conv", "filters": [{"preset": "sobel_x"}, {"preset": "scharr_y"}, {"random": {"count": 1,
                                                                                                  "dist": "he"}}]},
        "abs"]})
    layers = cnnviz.run(config, "camera")
    conv = stage_grid(layers[0], config.render)
    assert [t for t in texts(conv.drawing) if re.match(r"\d · ", t)] == ["0 · sobel_x", "1 · scharr_y", "2 · random he"]
    # a plain index only, without the names, fails
    bare = stage_grid(layers[0], config.render, tile_names=[""] * 3)
    assert not [t for t in texts(bare.drawing) if re.match(r"\d · ", t)]


def test_scale_of_a_stage_matches_the_grid():
    maps = signed_maps()
    sc = stage_scale(maps, "layer", center=True)
    pic = render_grid(maps, normalize="layer", center=True, cmap="RdBu_r")
    assert np.array_equal(sc.lo, pic.scale.lo) and np.array_equal(sc.hi, pic.scale.hi)
    assert rasterize(pic.drawing)[1] is not None  # a palette picture
