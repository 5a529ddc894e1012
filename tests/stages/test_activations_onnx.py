"""clip, hardsigmoid and hardswish against hand-written formulas and hand-worked values (ONNX's definitions)."""

from __future__ import annotations

import numpy as np
import pytest

import cnnviz

X = np.array([-7.0, -3.0, -1.5, -0.25, 0.0, 0.25, 1.5, 2.5, 3.0, 6.0, 9.0]).reshape(1, -1, 1)


def run(stage: dict | str, x: np.ndarray = X) -> np.ndarray:
    return cnnviz.run(cnnviz.load_config({"dtype": "float64", "stages": [stage]}), x)[0].output


def test_clip_is_relu6_by_hand():
    y = run({"type": "clip", "min": 0, "max": 6})
    assert y.ravel().tolist() == [0, 0, 0, 0, 0, 0.25, 1.5, 2.5, 3.0, 6.0, 6.0]


def test_clip_with_one_bound():
    assert run({"type": "clip", "max": 1}).ravel().tolist() == [-7, -3, -1.5, -0.25, 0, 0.25, 1, 1, 1, 1, 1]
    assert run({"type": "clip", "min": -1}).min() == -1 and run({"type": "clip", "min": -1}).max() == 9
    np.testing.assert_array_equal(run("clip"), X)


def test_clip_min_above_max_is_an_error():
    with pytest.raises(cnnviz.CnnvizError) as info:
        cnnviz.load_config("stages:\n  - {type: clip, min: 2, max: 1}\n")
    assert str(info.value) == "<string>:2:31: stages[0].max: must be at least min (2), not 1"


def test_hardsigmoid_defaults_and_parameters():
    expected = np.maximum(0, np.minimum(1, 0.2 * X + 0.5))
    np.testing.assert_allclose(run("hardsigmoid"), expected, rtol=0, atol=1e-15)
    # by hand: 0.2 · 1.5 + 0.5 = 0.8; -7 and 9 saturate
    assert run("hardsigmoid").ravel()[[0, 6, 10]].tolist() == pytest.approx([0.0, 0.8, 1.0])
    y = run({"type": "hardsigmoid", "alpha": 0.5, "beta": 0.0})
    np.testing.assert_allclose(y, np.clip(0.5 * X, 0, 1), rtol=0, atol=1e-15)


def test_hardswish_is_x_relu6_x_plus_3_over_6():
    """PyTorch's definition, x · ReLU6(x + 3) / 6, written independently of ONNX's."""
    expected = X * np.minimum(np.maximum(X + 3, 0), 6) / 6
    np.testing.assert_allclose(run("hardswish"), expected, rtol=0, atol=1e-15)
    assert run("hardswish").ravel()[[1, 4, 8]].tolist() == [0.0, 0.0, 3.0]  # -3 -> 0, 0 -> 0, 3 -> 3


def test_float32_and_labels_pass_through():
    config = cnnviz.load_config({"stages": [{"type": "dense", "units": 2, "labels": ["a", "b"]}, "hardswish",
                                            {"type": "clip", "min": 0}]})
    layers = cnnviz.run(config, np.ones((3, 3)))
    assert all(la.output.dtype == np.float32 for la in layers)
    assert [la.stage.labels for la in layers] == [("a", "b")] * 3
