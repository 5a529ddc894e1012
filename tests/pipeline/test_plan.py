"""Planning a stack before any pixel: seeded kernels, size errors, receptive fields and counts."""

from __future__ import annotations

import numpy as np
import pytest

import cnnviz
from cnnviz.config import load_config
from cnnviz.errors import CnnvizError
from cnnviz.pipeline import plan
from tests.helpers import ROOT


def test_random_filters_are_seeded_and_stage_local():
    def stack(first_count: int, seed: int = 0) -> list[np.ndarray]:
        cfg = load_config({"seed": seed, "stages": [
            {"type": "conv", "filters": [{"random": {"count": first_count, "size": 3}}]},
            "relu",
            {"type": "conv", "filters": [{"random": {"count": 2, "size": 5}}, {"random": {"count": 1, "size": 3}}]},
        ]})
        return [p.kernels for p in plan(cfg, (32, 32, 1)) if p.kernels is not None]

    a, b = stack(4), stack(4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = stack(5)  # editing stage 0 changes its channels ...
    np.testing.assert_array_equal(a[0], c[0][:4])
    # ... the later stage's kernels for the first input channels are unaffected by stage 0's count,
    # because each stage draws from its own (seed, position, entry) stream.
    d = stack(4, seed=1)
    assert not np.allclose(a[0], d[0])


def test_random_stage_does_not_depend_on_other_stages():
    base = [{"type": "conv", "filters": [{"random": {"count": 2, "size": 3}}]},
            {"type": "conv", "filters": [{"random": {"count": 2, "size": 3}}]}]
    edited = [{"type": "conv", "filters": [[[1, 2], [3, 4]], [[0, 1], [1, 0]]]}, base[1]]
    k1 = plan(load_config({"stages": base}), (10, 10, 1))[1].kernels
    k2 = plan(load_config({"stages": edited}), (10, 10, 1))[1].kernels
    np.testing.assert_array_equal(k1, k2)


def test_kernel_larger_than_input_is_an_error_before_running(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("stages:\n  - {type: pool, size: 4}\n  - type: conv\n    filters: [{random: {size: 9}}]\n")
    with pytest.raises(CnnvizError) as info:
        plan(load_config(p), (20, 20, 1))
    assert str(info.value) == (f"{p}:3:5: stages[1]: conv stage 'conv1': kernel 9×9 is larger than "
                               "its padded input 5×5")
    with pytest.raises(CnnvizError) as info:
        plan(load_config({"stages": [{"type": "pool", "size": [3, 30]}]}), (20, 20, 1))
    assert str(info.value) == "stages[0]: pool stage 'pool1': window 3×30 is larger than its padded input 20×20"
    with pytest.raises(CnnvizError) as info:
        plan(load_config({"stages": [{"type": "conv", "dilation": 4, "filters": [{"preset": "box"}]}]}),
             (8, 8, 1))
    assert str(info.value) == ("stages[0]: conv stage 'conv1': kernel 3×3 dilated to 9×9 is larger than "
                               "its padded input 8×8")


def test_bias_count_error():
    with pytest.raises(CnnvizError) as info:
        plan(load_config({"stages": [{"type": "conv", "bias": [1, 2, 3], "filters": [[[1]], [[2]]]}]}),
             (4, 4, 1))
    assert str(info.value) == "stages[0].bias: 3 biases given for 2 filters"


def test_receptive_field_and_counts():
    cfg = load_config(ROOT / "configs" / "numpycnn.yaml")
    p = plan(cfg, (300, 451, 1))
    assert [s.receptive_field[0] for s in p] == [3, 3, 4, 12, 12, 14, 38, 38, 42]
    assert [s.jump[0] for s in p] == [1, 1, 2, 2, 2, 4, 4, 4, 8]
    assert p[0].param_count == 2 * 9 + 2
    assert p[3].param_count == 3 * 25 * 2 + 3
    assert p[0].macs == 298 * 449 * 2 * 9
    assert p[3].macs == 145 * 220 * 3 * 25 * 2


def test_geometry_follows_the_graph_and_a_join_takes_the_largest_field():
    """A ResNet-style block: a 3×3 stride-2 branch and a strided 1×1 shortcut, joined by add."""
    config = cnnviz.load_config("""
stages:
  - {type: conv, name: c1, padding: 1, stride: 2, filters: [{random: {count: 2, size: 3}}]}
  - {type: conv, name: c2, padding: 1, filters: [{random: {count: 2, size: 3}}]}
  - {type: conv, name: short, inputs: input, stride: 2, filters: [{random: {count: 2, size: 1}}]}
  - {type: add, inputs: [c2, short]}
""")
    ps = {p.name: p for p in plan(config, (16, 16, 1))}
    # by hand: c1 field 3, jump 2, start 1 - 1 = 0; c2 field 3 + 2·2 = 7, jump 2, start 0 + (1 - 1)·2 = 0
    assert (ps["c1"].receptive_field, ps["c1"].jump, ps["c1"].start) == ((3, 3), (2, 2), (0.0, 0.0))
    assert (ps["c2"].receptive_field, ps["c2"].jump, ps["c2"].start) == ((7, 7), (2, 2), (0.0, 0.0))
    assert (ps["short"].receptive_field, ps["short"].jump, ps["short"].start) == ((1, 1), (2, 2), (0.0, 0.0))
    assert ps["add1"].receptive_field == (7, 7) and ps["add1"].sources == (2, 3)


def test_summary_lists_the_inputs_of_a_graph():
    from cnnviz.app.summary import format_summary, summary_rows

    config = cnnviz.load_config({"stages": ["relu", {"type": "add", "inputs": ["input", "relu1"]}]})
    text = format_summary(summary_rows(plan(config, (8, 8, 1)), (8, 8, 1), "x", 4))
    header, _, _, _, add = text.splitlines()[:5]
    assert "inputs" in header.split() and "input, relu1" in add
