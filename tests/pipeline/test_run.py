"""Running stacks through the Python API: shapes, values against SciPy, dtypes, kernels, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, signal

import cnnviz
from cnnviz.config import load_config
from cnnviz.errors import CnnvizError
from cnnviz.pipeline import plan
from tests.helpers import ROOT


def test_numpycnn_shapes_on_chelsea():
    config = cnnviz.load_config(ROOT / "configs" / "numpycnn.yaml")
    image = cnnviz.load_image("chelsea", config)
    assert image.shape == (300, 451, 1) and image.dtype == np.float32
    layers = cnnviz.run(config, image)
    assert [layer.output.shape for layer in layers] == [
        (298, 449, 2), (298, 449, 2), (149, 224, 2),
        (145, 220, 3), (145, 220, 3), (72, 110, 3),
        (66, 104, 1), (66, 104, 1), (33, 52, 1),
    ]
    assert [layer.name for layer in layers][:4] == ["edges", "relu1", "pool1", "conv2"]
    assert [layer.type for layer in layers][:3] == ["conv", "relu", "pool"]
    assert all(layer.output.dtype == np.float32 for layer in layers)
    # plan agrees with what running produced, before running anything
    assert [p.output_shape for p in plan(config, image.shape)] == [layer.output.shape for layer in layers]


def test_first_layer_against_scipy():
    config = cnnviz.load_config(ROOT / "configs" / "numpycnn.yaml")
    image = cnnviz.load_image("chelsea", config)
    layers = cnnviz.run(config, image)
    k0 = np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], float)
    expected = signal.correlate2d(image[:, :, 0].astype(np.float64), k0, mode="valid")
    np.testing.assert_allclose(layers[0].output[:, :, 0], expected, rtol=1e-4, atol=1e-4)
    relu = np.maximum(layers[0].output, 0)
    np.testing.assert_array_equal(layers[1].output, relu)
    pooled = relu[:298, :448].reshape(149, 2, 224, 2, 2).max(axis=(1, 3))
    np.testing.assert_array_equal(layers[2].output, pooled)


def test_float64_end_to_end():
    config = load_config({"dtype": "float64", "input": {"color": "gray"},
                          "stages": [{"type": "conv", "filters": [{"preset": "laplacian"}]}, "tanh"]})
    layers = cnnviz.run(config, "camera")
    assert all(layer.output.dtype == np.float64 for layer in layers)
    image = cnnviz.load_image("camera", config)
    lap = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float)
    expected = np.tanh(signal.correlate2d(image[:, :, 0], lap, mode="valid"))
    np.testing.assert_allclose(layers[1].output[:, :, 0], expected, rtol=1e-9, atol=1e-12)


def test_2d_kernel_is_summed_over_channels_and_3d_must_match():
    x = np.random.default_rng(1).random((12, 10, 3))
    k = np.array([[1.0, -2.0], [0.5, 3.0]])
    cfg = load_config({"dtype": "float64", "stages": [{"type": "conv", "filters": [k.tolist()]}]})
    out = cnnviz.run(cfg, x)[0].output[:, :, 0]
    expected = sum(signal.correlate2d(x[:, :, c], k, mode="valid") for c in range(3))
    np.testing.assert_allclose(out, expected, rtol=1e-9)

    k3 = np.random.default_rng(2).random((3, 3, 3))
    cfg3 = load_config({"dtype": "float64", "stages": [{"type": "conv", "filters": [k3.tolist()]}]})
    out3 = cnnviz.run(cfg3, x)[0].output[:, :, 0]
    expected3 = sum(signal.correlate2d(x[:, :, c], k3[:, :, c], mode="valid") for c in range(3))
    np.testing.assert_allclose(out3, expected3, rtol=1e-9)

    with pytest.raises(CnnvizError) as info:
        cnnviz.run(cfg3, x[:, :, :1])
    assert str(info.value) == "stages[0].filters[0]: kernel depth 3 does not match the input's 1 channel"


def test_kernel_depth_error_names_file_line_column(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("input: {color: gray}\nstages:\n  - type: conv\n    filters:\n"
                 "      - [[[1, 1, 1]], [[1, 1, 1]]]\n")
    cfg = load_config(p)
    with pytest.raises(CnnvizError) as info:
        cnnviz.run(cfg, "camera")
    assert str(info.value) == (f"{p}:5:9: stages[0].filters[0]: kernel depth 3 does not match "
                               "the input's 1 channel")


def test_mixed_kernel_sizes_are_centred():
    x = np.random.default_rng(3).random((20, 20, 1))
    cfg = load_config({"dtype": "float64", "stages": [{"type": "conv", "padding": "same", "filters": [
        {"preset": "sobel_x"}, {"preset": "gaussian", "size": 5, "sigma": 1.0}]}]})
    out = cnnviz.run(cfg, x)[0].output
    sob = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)
    expected = ndimage.correlate(x[:, :, 0], sob, mode="constant")
    np.testing.assert_allclose(out[:, :, 0], expected, atol=1e-9)


def test_depthwise_and_bias():
    x = np.random.default_rng(4).random((9, 8, 2))
    k = [[1.0, 2.0], [3.0, 4.0]]
    cfg = load_config({"dtype": "float64", "stages": [
        {"type": "conv", "depthwise": True, "bias": [1.0, -1.0], "filters": [k, {"preset": "identity"}]}]})
    out = cnnviz.run(cfg, x)[0].output
    assert out.shape == (7, 6, 4)
    kk = np.pad(np.array(k), ((0, 1), (0, 1)))  # 2x2 centred in 3x3: extra row/col at the end
    for c in range(2):
        np.testing.assert_allclose(out[:, :, c], signal.correlate2d(x[:, :, c], kk, "valid") + 1.0)
        np.testing.assert_allclose(out[:, :, 2 + c], x[1:-1, 1:-1, c] - 1.0)


def test_dense_softmax_and_global_pool():
    x = np.random.default_rng(5).random((4, 3, 2))
    w = np.random.default_rng(6).standard_normal((3, 24))
    cfg = load_config({"dtype": "float64", "stages": [
        {"type": "dense", "units": 3, "bias": [0.1, 0.2, 0.3], "labels": ["a", "b", "c"]}, "softmax"]})
    planned = plan(cfg, x.shape)
    assert planned[0].output_shape == (1, 1, 3) and planned[0].param_count == 3 * 24 + 3
    layers = cnnviz.run(cfg, x)
    wts = planned[0].weights
    assert wts.shape == (3, 24)
    logits = wts @ x.reshape(-1) + np.array([0.1, 0.2, 0.3])
    # same seed, same weights in a fresh plan
    np.testing.assert_array_equal(plan(cfg, x.shape)[0].weights, wts)
    np.testing.assert_allclose(layers[0].output.reshape(-1), logits, rtol=1e-9)
    e = np.exp(logits - logits.max())
    np.testing.assert_allclose(layers[1].output.reshape(-1), e / e.sum(), rtol=1e-9)
    del w
    g = cnnviz.run(load_config({"stages": [{"type": "global_pool", "mode": "max"}]}), x)[0].output
    np.testing.assert_allclose(g.reshape(-1), x.max(axis=(0, 1)), rtol=1e-6)


def test_dense_weights_from_file(tmp_path):
    w = np.arange(2 * 12, dtype=float).reshape(2, 12) / 10
    np.save(tmp_path / "w.npy", w)
    p = tmp_path / "d.yaml"
    p.write_text("dtype: float64\nstages:\n  - {type: dense, units: 2, weights: {file: w.npy}}\n")
    x = np.random.default_rng(7).random((2, 3, 2))
    out = cnnviz.run(load_config(p), x)[0].output
    np.testing.assert_allclose(out.reshape(-1), w @ x.reshape(-1), rtol=1e-12)
    with pytest.raises(CnnvizError) as info:
        plan(load_config(p), (3, 3, 2))
    assert str(info.value) == (f"{p}:3:38: stages[0].weights: dense stage 'dense1': weights have 12 columns "
                               "but the input has 3×3×2 = 18 values")


def test_run_accepts_plain_arrays():
    cfg = load_config({"stages": ["relu"]})
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = cnnviz.run(cfg, a)[0].output
    assert out.shape == (3, 4, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, :, 0], a / 255.0, rtol=1e-6)


def test_an_output_is_dropped_when_its_last_consumer_has_run():
    """Streaming a graph: the runner holds an output only until the last stage that takes it has run."""
    import gc
    import weakref

    from cnnviz.pipeline.run import execute

    config = load_config("""
stages:
  - {type: conv, name: a, filters: [[[1]]]}
  - {type: relu, name: b}
  - {type: relu, name: c}
  - {type: add, inputs: [a, c]}
""")
    x = np.random.default_rng(0).random((6, 6, 1)).astype(np.float32)
    stages = plan(config, x.shape)
    refs = {}
    gen = execute(stages, x)
    for layer in gen:
        refs[layer.name] = weakref.ref(layer.output)
        del layer
        gc.collect()
        alive = {name for name, r in refs.items() if r() is not None}
        if "c" in refs and "add1" not in refs:
            assert alive == {"a", "c"}  # a is kept for the add; b is gone after c
    gc.collect()
    assert all(r() is None for name, r in refs.items() if name != "add1")


def test_streaming_estimate_counts_a_branch_alive_until_its_join():
    from cnnviz.pipeline.memory import estimate_memory

    chain = load_config({"stages": [{"type": "conv", "name": "a", "filters": [[[1]]]}, "relu", "relu", "relu"]})
    branch = load_config({"stages": [{"type": "conv", "name": "a", "filters": [[[1]]]}, "relu", "relu",
                                     {"type": "add", "inputs": ["a", "relu2"]}]})
    shape = (100, 100, 1)
    one = 100 * 100 * 4
    assert estimate_memory(plan(chain, shape), shape, keep=False) == 2 * one
    assert estimate_memory(plan(branch, shape), shape, keep=False) == 3 * one  # a, relu2 and the sum
