"""batchnorm: inference-mode batch normalization against its formula, with values from lists, numbers and files."""

from __future__ import annotations

import numpy as np
import pytest

import cnnviz

RNG = np.random.default_rng(7)
X = RNG.standard_normal((5, 6, 3))
MEAN, VAR = [0.5, -1.0, 2.0], [0.25, 4.0, 1e-3]
SCALE, SHIFT = [2.0, -0.5, 1.0], [0.1, 0.0, -3.0]


def expected(x, mean, var, scale=1.0, shift=0.0, eps=1e-5):
    return np.asarray(scale) * (x - np.asarray(mean)) / np.sqrt(np.asarray(var) + eps) + np.asarray(shift)


def run(stage: dict, x: np.ndarray = X, dtype: str = "float64") -> np.ndarray:
    return cnnviz.run(cnnviz.load_config({"dtype": dtype, "stages": [{"type": "batchnorm", **stage}]}), x)[0].output


def test_per_channel_lists():
    y = run({"mean": MEAN, "var": VAR, "scale": SCALE, "shift": SHIFT})
    np.testing.assert_allclose(y, expected(X, MEAN, VAR, SCALE, SHIFT), rtol=1e-12, atol=1e-12)


def test_one_number_for_every_channel_and_eps():
    y = run({"mean": 0.5, "var": 2.0, "eps": 0.5})
    np.testing.assert_allclose(y, (X - 0.5) / np.sqrt(2.5), rtol=1e-12)


def test_by_hand():
    """(3 − 1) / sqrt(3 + 1) · 2 + 1 = 3."""
    y = run({"mean": 1, "var": 3, "eps": 1, "scale": 2, "shift": 1}, np.full((1, 1, 1), 3.0))
    assert y.item() == 3.0


def test_float32_to_1e_5(tmp_path):
    y = run({"mean": MEAN, "var": VAR, "scale": SCALE, "shift": SHIFT}, X.astype(np.float32), "float32")
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, expected(X, MEAN, VAR, SCALE, SHIFT), rtol=1e-5, atol=1e-4)


def test_values_from_files(tmp_path):
    np.savez(tmp_path / "bn.npz", mean=np.array(MEAN), var=np.array(VAR))
    np.save(tmp_path / "scale.npy", np.array(SCALE))
    (tmp_path / "c.yaml").write_text(
        "dtype: float64\nstages:\n  - type: batchnorm\n    mean: {file: bn.npz, key: mean}\n"
        "    var: {file: bn.npz, key: var}\n    scale: {file: scale.npy}\n")
    layers = cnnviz.run(cnnviz.load_config(tmp_path / "c.yaml"), X)
    np.testing.assert_allclose(layers[0].output, expected(X, MEAN, VAR, SCALE), rtol=1e-12)
    # the resolved config names the files, not their numbers
    assert cnnviz.load_config(tmp_path / "c.yaml").resolved()["stages"][0]["mean"] == {"file": "bn.npz", "key": "mean"}


def test_wrong_channel_count_names_the_stage():
    config = cnnviz.load_config("stages:\n  - {type: batchnorm, mean: [0, 1], var: 1}\n")
    with pytest.raises(cnnviz.CnnvizError) as info:
        cnnviz.plan(config, (4, 4, 3))
    assert str(info.value) == "<string>:2:29: stages[0].mean: batchnorm stage 'batchnorm1': 2 values for 3 channels"


def test_negative_variance_is_refused():
    config = cnnviz.load_config("stages:\n  - {type: batchnorm, mean: 0, var: [1, -1]}\n")
    with pytest.raises(cnnviz.CnnvizError, match="var \\+ eps must be greater than 0 in every channel"):
        cnnviz.plan(config, (4, 4, 2))


@pytest.mark.parametrize("value, message", [
    ("'a'", "must be a number, a list of numbers (one per channel) or {file: PATH, key: NAME}"),
    ("{fle: x.npy}", "unknown key 'fle' (did you mean 'file'?)"),
])
def test_bad_values(value, message):
    with pytest.raises(cnnviz.CnnvizError) as info:
        cnnviz.load_config(f"stages:\n  - {{type: batchnorm, mean: {value}, var: 1}}\n")
    assert str(info.value).endswith(message)


def test_required_keys():
    with pytest.raises(cnnviz.ConfigErrors) as info:
        cnnviz.load_config({"stages": ["batchnorm"]})
    assert [e.message for e in info.value.errors] == ["missing required key 'mean'", "missing required key 'var'"]


def test_one_pass_and_in_place():
    """Folded to x · a + b: the streamed (in-place) result equals the kept one; parameters count scale and shift."""
    config = cnnviz.load_config({"stages": [{"type": "conv", "filters": [[[1]], [[2]]]},
                                            {"type": "batchnorm", "mean": [0, 1], "var": [1, 4]}]})
    x = X[:, :, :1].astype(np.float32)
    kept = cnnviz.run(config, x)
    streamed = list(cnnviz.pipeline.iter_run(config, x, inplace=True))
    np.testing.assert_array_equal(kept[1].output, streamed[1].output)
    assert kept[1].stage.param_count == 4
