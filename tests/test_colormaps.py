"""The bundled colormap table: matplotlib's colours bit for bit, a fallback for other names, no matplotlib import."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.colors import ListedColormap

import cnnviz.colormaps as C
from cnnviz.colormaps import colormap_names, colormap_rgb, is_diverging, table_version
from cnnviz.errors import CnnvizError

ROOT = Path(__file__).resolve().parent.parent
SIZES = (2, 5, 247, 256, 1000)
#: matplotlib's colormaps at collection time (before any test registers one).
MPL_NAMES = sorted(colormaps)


def matplotlib_rgb(name: str, n: int) -> np.ndarray:
    return np.round(colormaps[name](np.linspace(0, 1, n))[:, :3] * 255).astype(np.uint8)


def same_matplotlib() -> bool:
    import matplotlib

    return matplotlib.__version__ == table_version()


STALE = (f"the bundled table was made with matplotlib {table_version() or '(none)'}; run "
         f"scripts/make_colormaps.py to remake it for the matplotlib installed")


def load_script():
    spec = importlib.util.spec_from_file_location("make_colormaps", ROOT / "scripts" / "make_colormaps.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", MPL_NAMES)
def test_every_matplotlib_colormap_is_matplotlibs_colours(name):
    for n in SIZES:
        got = colormap_rgb(name, n)
        assert got.shape == (n, 3) and got.dtype == np.uint8
        assert np.array_equal(got, matplotlib_rgb(name, n)), (name, n)


def test_the_table_has_every_matplotlib_colormap():
    if not same_matplotlib():
        pytest.skip(STALE)
    assert colormap_names() == tuple(sorted(MPL_NAMES))
    assert len(colormap_names()) > 150 and "RdBu_r" in colormap_names() and "berlin_r" in colormap_names()


def test_results_are_cached_and_read_only():
    a = colormap_rgb("viridis", 247)
    assert a is colormap_rgb("viridis", 247) and not a.flags.writeable
    with pytest.raises(ValueError):
        a[0, 0] = 1
    assert colormap_rgb("gray", 3).tolist() == [[0, 0, 0], [128, 128, 128], [255, 255, 255]]
    assert colormap_rgb("gray", 1).tolist() == [[0, 0, 0]] and colormap_rgb("gray", 0).shape == (0, 3)


def test_a_colormap_registered_at_run_time_comes_from_matplotlib():
    from cnnviz.config import load_config
    from cnnviz.rendering.palette import colormap_colors

    name = "cnnviz-test"
    assert name not in colormap_names()
    colormaps.register(ListedColormap([[0.1, 0.2, 0.3], [0.9, 0.5, 0.0], [0.3, 0.6, 0.91]], name=name))
    try:
        for n in SIZES:
            assert np.array_equal(colormap_rgb(name, n), matplotlib_rgb(name, n))
        # 3 colours: 0, .25 -> the first; .5 -> the second; .75, 1 -> the third (0.3 * 255 = 76.49999...)
        assert colormap_colors(name, 5).tolist() == [[26, 51, 76], [26, 51, 76], [230, 128, 0], [76, 153, 232],
                                                     [76, 153, 232]]
        assert load_config({"stages": ["relu"], "render": {"cmap": name}}).render["cmap"] == name
    finally:
        colormaps.unregister(name)
        colormap_rgb.cache_clear()
    assert name not in colormaps


def test_unknown_names():
    from cnnviz.config import load_config

    with pytest.raises(KeyError):
        colormap_rgb("no-such-colormap", 5)
    with pytest.raises(CnnvizError, match=r"unknown colormap 'magmaa' \(did you mean 'magma'\?\)"):
        load_config({"stages": ["relu"], "render": {"cmap": "magmaa"}})
    with pytest.raises(CnnvizError, match=r"unknown colormap 'zzzz'$"):
        load_config({"stages": ["relu"], "render": {"cmap": "zzzz"}})


def test_without_the_table_every_name_comes_from_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setattr(C, "TABLE", tmp_path / "missing.npz")
    caches = (C._index, C._lut, C.colormap_names, C.colormap_rgb)
    for f in caches:
        f.cache_clear()
    try:
        assert colormap_names() == () and table_version() == ""
        assert np.array_equal(colormap_rgb("RdBu_r", 247), matplotlib_rgb("RdBu_r", 247))
    finally:
        monkeypatch.undo()
        for f in caches:
            f.cache_clear()
    assert "viridis" in colormap_names()


def test_diverging():
    assert is_diverging("RdBu_r") and is_diverging("coolwarm") and is_diverging("berlin")
    assert not is_diverging("viridis") and not is_diverging("gray_r")
    from cnnviz.rendering import palette

    assert palette.is_diverging is is_diverging and palette.DIVERGING is C.DIVERGING


def test_a_png_run_does_not_import_matplotlib():
    if not same_matplotlib():
        pytest.skip(STALE)
    code = ("import sys, cnnviz; from cnnviz.rendering.palette import colormap_colors; "
            "colormap_colors('RdBu_r', 247); colormap_colors('viridis', 247); import cnnviz.config; "
            "cnnviz.load_config({'stages': ['relu'], 'render': {'cmap': 'magma'}}); "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


def test_the_shipped_table_is_current(tmp_path):
    """``scripts/make_colormaps.py`` run now writes the arrays that are shipped."""
    if not same_matplotlib():
        pytest.skip(STALE)
    made = load_script().write(tmp_path / "colormaps.npz")
    with np.load(made) as new, np.load(C.TABLE) as shipped:
        assert sorted(new.files) == sorted(shipped.files) == ["lut", "matplotlib_version", "names", "sizes"]
        for key in new.files:
            assert new[key].dtype == shipped[key].dtype, key
            assert np.array_equal(new[key], shipped[key]), key
        assert shipped["lut"].dtype == np.float64
    assert C.TABLE.stat().st_size < 1_000_000
