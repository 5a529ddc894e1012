"""rendering.fit: no picture longer than max_size, whatever its fixed parts (SPEC §3)."""

from __future__ import annotations

import json

import numpy as np

from cnnviz.rendering.canvas import Drawing, Raster, Text
from cnnviz.rendering.fit import fit_drawing
from tests.helpers import ROOT, cli, read_rgb


def test_every_picture_fits_a_small_max_size_at_a_high_dpi(tmp_path):
    """At dpi 300 a bar chart's plot alone is 1860 pixels wide; with max_size 400 every file is at most 400."""
    r = cli("run", str(ROOT / "configs" / "tiny-cnn.yaml"), "astronaut", "--dpi", "300", "--set",
            "render.max_size=400", "-o", str(tmp_path))
    assert r.exit_code == 0, r.output
    files = json.loads((tmp_path / "manifest.json").read_text())["files"]
    sizes = {f: read_rgb(tmp_path / f).shape[:2] for f in files if f.endswith(".png")}
    assert len(sizes) == 13 and max(max(s) for s in sizes.values()) <= 400, sizes


def test_a_map_shrunk_to_fit_is_area_averaged_not_thinned():
    """Rows alternating 0 and 200: dropping rows would keep one of them; averaging gives 100 everywhere."""
    data = np.zeros((100, 100), np.uint8)
    data[1::2] = 200
    d = Drawing(1000, 500, 100, [Raster(0, 0, 1000, 500, data, np.zeros((256, 3), np.uint8), "map 0"),
                                  Text(10, 10, "title", 20)])
    out = fit_drawing(d, 100)
    assert (out.width, out.height) == (100, 50)
    r = out.rasters[0]
    assert (r.w, r.h) == (100, 50) and r.data.shape[0] <= 50 and (r.data == 100).all()
    assert fit_drawing(out, 100) is out  # already fits: unchanged
    assert next(i for i in out.items if isinstance(i, Text)).size == 2
