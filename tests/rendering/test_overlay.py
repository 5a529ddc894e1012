"""Overlays (SPEC §8): each cell's colour on exactly its jump × jump block of the input, blended over it."""

from __future__ import annotations

import json

import numpy as np

import cnnviz
from cnnviz.rendering.overlay import ALPHA, UNCOVERED, overlay_cmap
from tests.helpers import read_rgb


def delta(k: int) -> list[list[float]]:
    a = np.zeros((k, k))
    a[k // 2, k // 2] = 1.0
    return a.tolist()


def overlay_of(tmp_path, stages, image, **render):
    cfg = {"dtype": "float64", "stages": stages,
           "render": {"overlay": True, "labels": False, "colorbar": False, **render}}
    layers = cnnviz.run(cfg, image)
    cnnviz.render(cfg, layers, tmp_path, image=image)
    return layers, json.loads((tmp_path / "manifest.json").read_text())


def tile(rgb: np.ndarray, h: int, w: int) -> np.ndarray:
    """The one tile of an unlabelled one-map overlay, back at the input's resolution (it is zoomed by an integer)."""
    ink = np.argwhere((rgb != 255).any(axis=2))
    (y0, x0), (y1, x1) = ink.min(0), ink.max(0)
    box = rgb[y0 + 1:y1, x0 + 1:x1]  # inside the 1-pixel frame
    zy, zx = box.shape[0] // h, box.shape[1] // w
    assert zy == zx >= 1 and box.shape[:2] == (h * zy, w * zx), (box.shape, h, w)
    return box[::zy, ::zx]


def test_a_hot_cell_lands_on_its_block_not_where_a_stretch_would_put_it(tmp_path):
    """One bright pixel at (9, 13) through a 3×3 delta conv with stride 2, padding [[0,1],[0,1]]: the map's hot
    cell is (4, 6) (centred on input 1 + 2·4 = 9, 1 + 2·6 = 13), its 2×2 block pixels 8..9 × 12..13.
    A bilinear stretch of the 8×8 map over 16×16 would centre it on (8.5, 12.5) with a blurred 3×3 footprint."""
    img = np.full((16, 16), 0.2)
    img[9, 13] = 1.0
    stages = [{"type": "conv", "filters": [delta(3)], "stride": 2, "padding": [[0, 1], [0, 1]]}]
    layers, manifest = overlay_of(tmp_path, stages, img)
    assert layers[0].output.shape == (8, 8, 1) and layers[0].output[4, 6, 0] == 1.0
    assert manifest["stages"][0]["files"] == ["01_conv1.png", "overlay_01_conv1.png", "filters_01_conv1.png"]
    t = tile(read_rgb(tmp_path / "overlay_01_conv1.png"), 16, 16).astype(int)
    hot = (t == t.reshape(-1, 3).max(axis=0)).all(axis=2) & (t.sum(axis=2) > t.sum(axis=2).min() + 60)
    got = {tuple(p) for p in np.argwhere(hot)}
    assert got <= {(8, 12), (8, 13), (9, 12), (9, 13)} and (9, 13) in got  # the block, and nothing else
    # the bright input pixel lightens its own heat colour: (9, 13) at least as light as the rest of the block
    # every other covered pixel is one colour (the map is 0.2 elsewhere, its minimum)


def test_pixels_no_cell_reaches_are_the_input_faded_and_the_rest_blended(tmp_path):
    """A valid 5×5 conv leaves a 2-pixel border no cell reaches: it shows the input faded towards white,
    0.45·bg + 0.55; inside, the colour of a constant map on a grey colormap's overlay (inferno) blended 60 %."""
    img = np.full((12, 14), 0.4)
    layers, _ = overlay_of(tmp_path, [{"type": "conv", "filters": [np.ones((5, 5)).tolist()]}], img)
    t = tile(read_rgb(tmp_path / "overlay_01_conv1.png"), 12, 14).astype(int)
    faded = round((UNCOVERED * 0.4 + (1 - UNCOVERED)) * 255)
    border = np.ones((12, 14), bool)
    border[2:10, 2:12] = False
    assert (np.abs(t[border] - faded) <= 1).all()
    inside = t[2:10, 2:12].reshape(-1, 3)
    assert (inside == inside[0]).all()  # one value, one colour
    from cnnviz.rendering.palette import colormap_colors
    colors = colormap_colors("inferno", 247).astype(float)
    expected = (1 - ALPHA) * 0.4 * 255 + ALPHA * colors  # some level of inferno, blended
    assert np.abs(expected - inside[0]).max(axis=1).min() <= 1.5


def test_zero_under_a_diverging_overlay_leaves_the_input_as_it_is(tmp_path):
    """Centred scales fade with |value|: a ReLU's zeros are not coloured at all (the input shows through)."""
    rng = np.random.default_rng(0)
    img = rng.random((10, 10))
    stages = [{"type": "conv", "filters": [[[1, 0, -1], [2, 0, -2], [1, 0, -1]]], "padding": 1}, "relu"]
    layers, _ = overlay_of(tmp_path, stages, img, cmap="RdBu_r")
    t = tile(read_rgb(tmp_path / "overlay_02_relu1.png"), 10, 10).astype(int)
    zero = layers[1].output[:, :, 0] == 0
    assert zero.any() and (~zero).any()
    grey = np.round(img * 255).astype(int)
    assert (np.abs(t[zero] - grey[zero][:, None]) <= 1).all()
    assert (np.abs(t[~zero] - grey[~zero][:, None]).max(axis=1) > 1).any()


def test_the_strongest_maps_are_shown_and_vectors_have_no_overlay(tmp_path):
    from cnnviz.rendering.overlay import background_rgb, overlay_picture
    from cnnviz.rendering.scale import stage_scale

    rng = np.random.default_rng(1)
    img = rng.random((20, 20))
    stages = [{"type": "conv", "filters": [{"random": {"count": 9, "dist": "normal"}}]},
              {"type": "dense", "units": 3}]
    layers, manifest = overlay_of(tmp_path, stages, img, overlay_maps=3, labels=True)
    assert manifest["stages"][1]["files"] == ["02_dense1.png"]  # a vector has no place on the image
    assert "overlay_01_conv1.png" in manifest["files"]
    y = layers[0].output
    strongest = sorted(np.argsort(-(y.astype(np.float64) ** 2).sum(axis=(0, 1)))[:3].tolist())
    ps = layers[0].stage
    d = overlay_picture(y, background_rgb(img), stage_scale(y), start=ps.start, jump=ps.jump,
                        receptive_field=ps.receptive_field, title="t", count=3)
    shown = [int(r.name.split()[-1]) for r in d.rasters if r.name.startswith("overlay ")]
    assert shown == strongest


def test_overlay_cmap():
    assert overlay_cmap("gray") == "inferno" and overlay_cmap("Greys_r") == "inferno"
    assert overlay_cmap("viridis") == "viridis"


def test_run_overlay_writes_one_per_spatial_stage_in_every_format(tmp_path):
    from tests.helpers import cli

    digits = str(__import__("pathlib").Path(__file__).resolve().parents[2] / "configs" / "digits.yaml")
    image = digits.replace("digits.yaml", "digits/3.png")
    for fmt in ("png", "svg"):
        out = tmp_path / fmt
        r = cli("run", digits, image, "--overlay", "--format", fmt, "-o", str(out))
        assert r.exit_code == 0, r.output
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["render"]["overlay"] is True
        overlays = sorted(f for f in manifest["files"] if f.startswith("overlay_"))
        assert overlays == [f"overlay_0{i}_{n}.{fmt}" for i, n in
                            enumerate(["conv1", "bn1", "relu1", "conv2", "relu2", "pool"], start=1)]
        assert all((out / f).stat().st_size > 0 for f in overlays)


def test_the_overview_gets_an_overlay_row_of_the_last_stages(tmp_path):
    from cnnviz.rendering.writer import render

    img = np.random.default_rng(3).random((24, 24))
    stages = [{"type": "conv", "filters": [{"random": {"count": 2}}]}, "relu", {"type": "pool", "size": 2},
              {"type": "dense", "units": 2}]
    cfg = {"stages": stages, "render": {"overlay": True}}
    layers = cnnviz.run(cfg, img)
    render(cfg, layers, tmp_path / "with", image=img)
    render({"stages": stages}, layers, tmp_path / "without", image=img)
    a, b = read_rgb(tmp_path / "with" / "overview.png"), read_rgb(tmp_path / "without" / "overview.png")
    assert a.shape[1] >= b.shape[1] and a.shape[0] > b.shape[0] + 24  # one more row, of input-sized tiles
    assert np.array_equal(a[:b.shape[0] - 40, :b.shape[1]], b[:b.shape[0] - 40])  # the rows above are unchanged
