"""The image a stack sees: limits checked at the shape after input.resize, before resizing; its memory counted."""

from __future__ import annotations

import time

import numpy as np
import pytest

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


def test_input_range_and_normalize_by_hand():
    from skimage.color import rgb2gray  # noqa: F401  (the gray path is covered elsewhere)

    image = np.array([[[0, 128, 255]]], np.uint8)  # one RGB pixel
    config = cnnviz.load_config({"dtype": "float64", "input": {
        "color": "rgb", "range": [0, 255], "normalize": {"mean": [10, 20, 30], "std": [2, 4, 5]}},
        "stages": ["relu"]})
    x = cnnviz.load_image(image, config)
    assert x.ravel().tolist() == pytest.approx([(0 - 10) / 2, (128 - 20) / 4, (255 - 30) / 5])
    one = cnnviz.load_config({"dtype": "float64", "input": {"range": [-1, 1], "normalize": {"mean": 0.5, "std": 2}},
                              "stages": ["relu"]})
    assert cnnviz.load_image(image, one).ravel().tolist() == pytest.approx(
        [((v / 255 * 2 - 1) - 0.5) / 2 for v in (0, 128, 255)])


@pytest.mark.parametrize("inp, message", [
    ("{range: [1, 0]}", "<string>:1:20: input.range[1]: high must be greater than low, not 0 ≤ 1"),
    ("{normalize: {mean: 0, std: 0}}", "<string>:1:35: input.normalize.std: must be greater than 0, not 0"),
    ("{normalize: {mean: 0, sd: 1}}", "<string>:1:30: input.normalize.sd: unknown key 'sd' (did you mean 'std'?)"),
])
def test_bad_range_and_normalize(inp, message):
    with pytest.raises(cnnviz.CnnvizError) as info:
        cnnviz.load_config(f"input: {inp}\nstages: [relu]\n")
    assert str(info.value) == message


def test_normalize_values_must_match_the_channels():
    config = cnnviz.load_config("input:\n  color: gray\n  normalize: {mean: [1, 2, 3], std: 1}\nstages: [relu]\n")
    with pytest.raises(cnnviz.CnnvizError) as info:
        cnnviz.load_image("camera", config)
    assert str(info.value) == "<string>:3:21: input.normalize.mean: 3 values for the input's 1 channel (camera)"
