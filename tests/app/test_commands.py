"""The commands behind the CLI: run (several images), validate (what the config fixes, --image)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.helpers import NUMPYCNN, cli


def test_several_images_the_one_that_does_not_fit_is_named(tmp_path):
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(tmp_path / "tiny.png")
    r = cli("run", NUMPYCNN, "chelsea", str(tmp_path / "tiny.png"), "-o", str(tmp_path / "o"))
    assert r.exit_code == 1
    assert r.stderr == (f"Error: {tmp_path / 'tiny.png'}: {NUMPYCNN}:18:5: stages[5]: pool stage 'pool2': "
                        "window 2×2 is larger than its padded input 1×1\n")
    assert not (tmp_path / "o").exists()


def test_validate_finds_kernel_depth_when_color_fixes_the_channels(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("input: {color: gray}\nstages:\n  - type: conv\n    filters: [[[[1, 0, 0]]]]\n")
    r = cli("validate", str(cfg))
    assert r.exit_code == 1
    assert r.stderr == f"Error: {cfg}:4:15: stages[0].filters[0]: kernel depth 3 does not match the input's 1 channel\n"
    cfg.write_text("stages:\n  - type: conv\n    filters: [[[[1, 0, 0]]]]\n")  # keep: channels unknown
    assert cli("validate", str(cfg)).exit_code == 0
    r = cli("validate", str(cfg), "--image", "camera")  # a gray image fixes them
    assert r.exit_code == 1 and "kernel depth 3 does not match the input's 1 channel" in r.stderr
    r = cli("validate", str(cfg), "--image", "coffee")
    assert r.exit_code == 0 and r.stdout == f"{cfg}: ok\n"


def test_validate_does_not_judge_dense_widths_it_cannot_know(tmp_path):
    np.save(tmp_path / "w.npy", np.ones((2, 10)))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("input: {color: gray}\nstages:\n  - {type: dense, units: 2, weights: {file: w.npy}}\n")
    assert cli("validate", str(cfg)).exit_code == 0
    r = cli("validate", str(cfg), "--image", "camera")
    assert r.exit_code == 1 and "weights have 10 columns but the input has 512×512×1 = 262144 values" in r.stderr
