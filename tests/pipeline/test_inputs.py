"""The image a stack sees: limits checked at the shape after input.resize, before resizing; its memory counted."""

from __future__ import annotations

import time

import cnnviz
import cnnviz.io.images
from tests.helpers import cli


def test_resize_over_the_pixel_limit_is_refused_before_resizing(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("input: {resize: 20000}\nstages: [relu]\n")
    t0 = time.perf_counter()
    r = cli("run", str(cfg), "chelsea", "-o", str(tmp_path / "o"))
    assert time.perf_counter() - t0 < 5
    assert r.exit_code == 1
    assert r.stderr == ("Error: chelsea: input.resize to 20000×13304 = 266,080,000 pixels is more than the limit "
                        "of 100,000,000\n")
    assert not (tmp_path / "o").exists()
    cfg.write_text("input: {resize: [65536, 65536]}\nstages: [relu]\n")
    r = cli("validate", str(cfg))
    assert r.exit_code == 1
    assert r.stderr == (f"Error: {cfg}:1:17: input.resize: 65536×65536 = 4,294,967,296 pixels is more than the "
                        "limit of 100,000,000\n")


def test_memory_estimate_counts_the_resize(tmp_path):
    config = cnnviz.load_config({"input": {"resize": 4000}, "stages": ["relu"]})
    from cnnviz.app.session import Session

    s = Session(config, "chelsea")
    assert s.shape == (2661, 4000, 3)
    need = s.check(keep=True)
    assert need >= 2661 * 4000 * 3 * (4 + 4 + 8)  # input, output, and resizing's float64 result
