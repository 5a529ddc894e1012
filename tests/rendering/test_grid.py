"""The pictures, manifest and arrays that ``render`` writes (SPEC §3).

Images are compared by pixels and properties, never by bytes: a grid PNG is
read back, its palette indices mapped through its palette, and the tiles
(found with the layout that ``render_grid`` exposes) compared with an
independent colormapping of the maps.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

import cnnviz
from cnnviz.errors import CnnvizError
from cnnviz.pipeline.run import Layer
from cnnviz.io.pngio import atomic_write, read_png_metadata, write_png
from cnnviz.rendering.grid import grid_title, render_grid, stage_grid
from cnnviz.rendering.layout import auto_scale, compose_grid, grid_shape
from cnnviz.rendering.palette import LEVELS, colormap_colors, is_diverging, resolve_center
from cnnviz.rendering.scale import normalize_maps, run_range, select_maps, value_limits
from cnnviz.rendering.writer import render

# ---------------------------------------------------------------------------
# helpers


def read_indexed(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A palette PNG -> (indices (H, W) uint8, palette (256, 3) uint8)."""
    with Image.open(path) as im:
        assert im.mode == "P"
        idx = np.asarray(im).copy()
        pal = np.array(im.getpalette(), np.uint8).reshape(-1, 3)
    return idx, pal


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


def expected_rgb(values: np.ndarray, lo: float, hi: float, cmap: str) -> np.ndarray:
    """Independent reference: quantise to LEVELS steps, then matplotlib's colormap."""
    from matplotlib import colormaps

    t = np.clip((values.astype(np.float64) - lo) / (hi - lo), 0, 1)
    t = np.round(t * (LEVELS - 1)) / (LEVELS - 1)
    return np.round(colormaps[cmap](t)[..., :3] * 255).astype(np.uint8)


def tile_pixels(rgb: np.ndarray, pic, j: int) -> np.ndarray:
    """The j-th tile of a grid picture, reduced back to map resolution."""
    top, left, bottom, right = pic.layout.tile_box(j)
    s = pic.layout.scale
    return rgb[top:bottom:s, left:right:s]


def smooth_maps(h: int, w: int, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((h, w, n)).cumsum(0).cumsum(1)
    return (x / np.abs(x).max()).astype(np.float32)


def small_run(stages: list, image: np.ndarray | None = None, render_opts: dict | None = None):
    config = cnnviz.load_config({"seed": 3, "stages": stages, "render": render_opts or {}})
    if image is None:
        image = np.random.default_rng(1).random((24, 30))
    x = cnnviz.load_image(image, config)
    return config, x, cnnviz.run(config, x)


# ---------------------------------------------------------------------------
# building blocks


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


# ---------------------------------------------------------------------------
# render(): files, metadata, manifest, arrays


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    stages = [
        {"type": "conv", "name": "edges", "filters": [{"preset": "sobel_x"}, {"preset": "sobel_y"}]},
        "relu",
        {"type": "pool", "size": 2},
        "global_pool",
        {"type": "dense", "units": 3, "labels": ["cat", "dog", "owl"]},
        "softmax",
    ]
    config, x, layers = small_run(stages, render_opts={"cmap": "RdBu_r", "normalize": "layer"})
    files = render(config, layers, out, image=x, image_name="noise", save_arrays=True, config_path="cfg.yaml")
    return out, config, x, layers, files


def test_render_writes_every_file(rendered):
    out, config, x, layers, files = rendered
    names = [f.name for f in files]
    assert names[0] == "00_input.png" and names[-1] == "manifest.json"
    for want in ["01_edges.png", "filters_01_edges.png", "02_relu1.png", "03_pool1.png",
                 "04_global_pool1.png", "05_dense1.png", "06_softmax1.png", "overview.png", "activations.npz"]:
        assert want in names
    assert all(f.exists() for f in files)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_png_metadata_round_trip(rendered):
    out, config, x, layers, files = rendered
    from cnnviz.rendering.manifest import jsonable as _jsonable

    for f in files:
        if f.suffix != ".png":
            continue
        md = read_png_metadata(f)
        assert md["version"] == cnnviz.__version__
        assert md["image"] == "noise"
        assert yaml.safe_load(md["config"]) == _jsonable(config.resolved())
    assert read_png_metadata(out / "01_edges.png")["stage"] == "01_edges"
    assert read_png_metadata(out / "01_edges.png")["title"].startswith("01 edges (conv)")


def test_read_png_metadata_refuses_foreign_files(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "plain.png")
    with pytest.raises(CnnvizError, match="no cnnviz metadata"):
        read_png_metadata(tmp_path / "plain.png")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(CnnvizError):
        read_png_metadata(tmp_path / "x.txt")
    with pytest.raises(CnnvizError, match="not found"):
        read_png_metadata(tmp_path / "missing.png")


def test_manifest_contents(rendered):
    out, config, x, layers, files = rendered
    m = json.loads((out / "manifest.json").read_text())
    assert m["cnnviz_version"] == cnnviz.__version__
    assert m["config"] == {"path": "cfg.yaml", "sha256": config.sha256, "name": None, "description": None}
    assert m["image"]["name"] == "noise" and m["image"]["shape"] == list(x.shape)
    resolved = config.resolved()
    assert len(m["stages"]) == len(layers)
    for st, layer in zip(m["stages"], layers, strict=True):
        y = layer.output
        assert st["index"] == layer.index and st["name"] == layer.name and st["type"] == layer.type
        assert st["output_shape"] == list(y.shape)
        assert st["min"] == pytest.approx(float(y.min()))
        assert st["max"] == pytest.approx(float(y.max()))
        assert st["mean"] == pytest.approx(float(y.astype(np.float64).mean()))
        assert st["milliseconds"] == pytest.approx(layer.seconds * 1000, abs=1e-3)
        entry = {k: v for k, v in resolved["stages"][layer.index - 1].items() if k not in ("type", "name")}
        assert st["params"] == json.loads(json.dumps(entry))
        assert st["files"] and all((out / f).is_file() for f in st["files"])
    assert m["stages"][0]["files"] == ["01_edges.png", "filters_01_edges.png"]
    assert m["stages"][4]["params"]["labels"] == ["cat", "dog", "owl"]
    listed = set(m["files"])
    on_disk = {p.name for p in out.iterdir()} - {"manifest.json"}
    assert listed == on_disk


def test_activations_npz(rendered):
    out, config, x, layers, files = rendered
    with np.load(out / "activations.npz") as z:
        assert list(z.keys()) == [f"{la.index:02d}_{la.name}" for la in layers]
        for layer in layers:
            a = z[f"{layer.index:02d}_{layer.name}"]
            assert a.shape == layer.output.shape and a.ndim == 3
            assert np.array_equal(a, layer.output)


def test_bar_charts_for_vectors(rendered):
    out, config, x, layers, files = rendered
    for name in ("04_global_pool1.png", "05_dense1.png", "06_softmax1.png"):
        rgb = read_rgb(out / name)
        # 3 values -> about 7.5 × (1.45 + 0.28·3) inches at 100 dpi
        assert 700 <= rgb.shape[1] <= 800 and 200 <= rgb.shape[0] <= 260
        assert (rgb != 255).any(axis=2).mean() > 0.02  # something is drawn
    # softmax after a labelled dense uses the dense stage's labels
    assert list(layers[5].stage.labels or []) == ["cat", "dog", "owl"]
    assert list(layers[4].stage.labels or []) == ["cat", "dog", "owl"]
    assert layers[3].stage.labels is None


def test_bar_chart_shows_labels():
    from cnnviz.rendering.bars import bar_chart

    plain = bar_chart(np.array([0.1, 0.7, 0.2]), title="t", probabilities=True)
    named = bar_chart(np.array([0.1, 0.7, 0.2]), title="t", labels=["a much longer name", "b", "c"],
                      probabilities=True)
    assert plain.shape[0] == named.shape[0] and plain.dtype == np.uint8
    assert not np.array_equal(plain, named)
    many = bar_chart(np.linspace(-1, 1, 80))
    assert many.shape[1] > plain.shape[1]  # vertical bars, a wide chart


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
    assert filter_figure(k, as_colour=True).shape[1] > filter_figure(k, as_colour=False).shape[1]
    # render.filters: false skips them; render.overview: false skipped the overview
    assert "overview.png" not in names
    config2 = cnnviz.load_config({**config.data, "render": {"filters": False, "overview": False}})
    files = render(config2, layers, tmp_path / "nofilters")
    assert not [f for f in files if f.name.startswith("filters_")]


def test_rerun_removes_only_stale_stage_files(tmp_path):
    stages3 = [{"type": "conv", "filters": [[[1.0, -1.0]]]}, "relu", {"type": "pool", "size": 2}]
    config, x, layers = small_run(stages3, render_opts={"overview": False})
    render(config, layers, tmp_path, image=x, save_arrays=True)
    assert (tmp_path / "03_pool1.png").exists() and (tmp_path / "activations.npz").exists()
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "07_mine.png").write_bytes(b"not listed by any manifest")
    config2, x2, layers2 = small_run(stages3[:2], render_opts={"overview": False})
    files = render(config2, layers2, tmp_path, image=x2)
    names = {p.name for p in tmp_path.iterdir()}
    assert "03_pool1.png" not in names and "activations.npz" not in names
    assert {"notes.txt", "07_mine.png", "00_input.png", "01_conv1.png", "02_relu1.png",
            "filters_01_conv1.png", "manifest.json"} <= names
    assert {f.name for f in files} == names - {"notes.txt", "07_mine.png"}


def test_rerun_ignores_a_hostile_manifest(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    (tmp_path / "manifest.json").write_text(json.dumps({"files": ["keep.txt", "../escape.png", "/etc/passwd"]}))
    config, x, layers = small_run(["relu"], render_opts={"overview": False})
    render(config, layers, tmp_path)
    assert (tmp_path / "keep.txt").exists()


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.png"
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write(b"half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write(b"new")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_synthetic_layers_and_many_stages(tmp_path):
    """Layers built by hand (no planned stage) render; 100+ stages widen NN."""
    config = cnnviz.load_config({"stages": ["relu"] * 101, "render": {"overview": False}})
    y = smooth_maps(6, 7, 2)
    layers = [Layer(i + 1, f"relu{i + 1}", "relu", y, None, 0.001) for i in range(101)]
    files = render(config, layers, tmp_path)
    assert files[0].name == "001_relu1.png" and (tmp_path / "101_relu101.png").exists()


def test_import_does_not_load_matplotlib():
    code = "import sys, cnnviz.rendering.writer, cnnviz.io.pngio; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_description_reaches_manifest(tmp_path):
    import json

    import cnnviz

    cfg = cnnviz.load_config({"description": "two edge filters", "input": {"resize": 32},
                              "stages": [{"type": "conv", "filters": [{"preset": "sobel_x"}]}]})
    cnnviz.render(cfg, cnnviz.run(cfg, "camera"), tmp_path, image_name="camera")
    assert json.loads((tmp_path / "manifest.json").read_text())["config"]["description"] == "two edge filters"


def test_cnnviz_render_is_the_function_even_after_the_module_is_imported():
    import cnnviz
    import cnnviz.rendering.writer

    assert callable(cnnviz.render) and cnnviz.render is cnnviz.rendering.writer.render
