"""Stages that branch and join: inputs:, add, mul, concat, against numpy written out in the test."""

from __future__ import annotations

import numpy as np
import pytest

import cnnviz

RNG = np.random.default_rng(5)
X = RNG.random((12, 14, 3))

RESIDUAL = """
dtype: float64
stages:
  - {type: conv, name: a, padding: same, filters: [[[0, 1, 0], [1, -4, 1], [0, 1, 0]]]}
  - {type: conv, name: b, inputs: input, filters: [[[2]]]}
  - {type: add, name: sum, inputs: [a, b]}
  - {type: global_pool, name: gp, inputs: a}
  - {type: mul, name: scaled, inputs: [b, gp]}
  - {type: concat, name: cat, inputs: [sum, scaled, input]}
"""


def test_residual_squeeze_excitation_and_concat():
    config = cnnviz.load_config(RESIDUAL)
    out = {la.name: la.output for la in cnnviz.run(config, X)}
    from scipy.ndimage import correlate

    lap = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float)
    a = sum(correlate(X[:, :, c], lap, mode="constant") for c in range(3))[:, :, None]
    b = 2 * X.sum(axis=2, keepdims=True)
    np.testing.assert_allclose(out["a"], a, atol=1e-12)
    np.testing.assert_allclose(out["sum"], a + b, atol=1e-12)
    gp = a.mean(axis=(0, 1), keepdims=True)
    np.testing.assert_allclose(out["scaled"], b * gp, atol=1e-12)  # (1, 1, C) broadcast over H × W
    np.testing.assert_allclose(out["cat"], np.concatenate([a + b, b * gp, X], axis=2), atol=1e-12)
    assert out["cat"].shape == (12, 14, 5)


def test_an_h_w_1_input_broadcasts_over_channels():
    config = cnnviz.load_config({"dtype": "float64", "stages": [
        {"type": "conv", "name": "mask", "filters": [[[1]]]},
        {"type": "mul", "inputs": ["input", "mask"]}]})
    out = cnnviz.run(config, X)[1].output
    np.testing.assert_allclose(out, X * X.sum(axis=2, keepdims=True))


@pytest.mark.parametrize("stage, message", [
    ("{type: add, inputs: [input, p]}",
     "stages[1].inputs: add stage 'add1': 12×14×3 (input), 6×7×3 (p) do not join: inputs must have one shape, "
     "or be (1, 1, C) or (H, W, 1) to broadcast"),
    ("{type: concat, inputs: [input, p]}",
     "stages[1].inputs: concat stage 'concat1': 12×14×3 (input), 6×7×3 (p) do not join: concat needs one "
     "height × width"),
])
def test_shapes_that_do_not_join_name_both_stages(stage, message):
    config = cnnviz.load_config(f"stages:\n  - {{type: pool, name: p}}\n  - {stage}\n")
    with pytest.raises(cnnviz.CnnvizError) as info:
        cnnviz.plan(config, X.shape)
    assert str(info.value).split(": ", 2)[-1] == message.split(": ", 1)[-1]
    assert str(info.value).startswith("<string>:3:")


@pytest.mark.parametrize("text, message", [
    ("  - {type: add, inputs: [input, later]}\n  - {type: relu, name: later}\n",
     "<string>:2:33: stages[0].inputs[1]: add stage 'add1' takes 'later', which comes after it (stages[1]); "
     "a stage takes earlier stages only"),
    ("  - {type: add, name: me, inputs: [input, me]}\n",
     "<string>:2:43: stages[0].inputs[1]: add stage 'me' takes itself as an input"),
    ("  - relu\n  - {type: add, inputs: [input, relu]}\n",
     "<string>:3:33: stages[1].inputs[1]: add stage 'add1' takes 'relu', which is no stage's name "
     "(did you mean 'relu1'?)"),
    ("  - {type: concat}\n",
     "<string>:2:5: stages[0]: concat stage 'concat1' joins two or more inputs: name them with inputs: [a, b]"),
    ("  - {type: concat, inputs: input}\n",
     "<string>:2:28: stages[0].inputs: concat stage 'concat1' joins two or more inputs: name them with "
     "inputs: [a, b]"),
    ("  - {type: relu, inputs: [input, input]}\n",
     "<string>:2:26: stages[0].inputs: relu stage 'relu1' takes one input, not 2"),
    ("  - {type: relu, name: input}\n",
     "<string>:2:24: stages[0].name: the name 'input' is reserved for the image (in 'inputs:')"),
    ("  - {type: relu, inputs: [3]}\n", "<string>:2:27: stages[0].inputs[0]: must be a string, not 3"),
])
def test_graph_mistakes_are_one_line_naming_the_stages(text, message):
    with pytest.raises(cnnviz.CnnvizError) as info:
        cnnviz.load_config("stages:\n" + text)
    assert str(info.value) == message


def test_a_plain_stack_has_each_stage_take_the_previous():
    config = cnnviz.load_config({"stages": ["relu", "abs", {"type": "pool"}]})
    assert [ps.sources for ps in cnnviz.plan(config, X.shape)] == [(0,), (1,), (2,)]
    assert all(st.inputs is None for st in config.stages)
    explicit = cnnviz.load_config({"stages": ["relu", {"type": "abs", "inputs": "input"}]})
    assert [ps.sources for ps in cnnviz.plan(explicit, X.shape)] == [(0,), (0,)]
    assert explicit.resolved()["stages"][1]["inputs"] == ["input"]
