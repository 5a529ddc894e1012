"""Planning and running stacks: shapes, seeds, kernels, the Python API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage, signal

import cnnviz
from cnnviz.config import load_config
from cnnviz.errors import CnnvizError
from cnnviz.pipeline import plan

ROOT = Path(__file__).resolve().parents[2]


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


def test_receptive_field_and_counts():
    cfg = load_config(ROOT / "configs" / "numpycnn.yaml")
    p = plan(cfg, (300, 451, 1))
    assert [s.receptive_field[0] for s in p] == [3, 3, 4, 12, 12, 14, 38, 38, 42]
    assert [s.jump[0] for s in p] == [1, 1, 2, 2, 2, 4, 4, 4, 8]
    assert p[0].param_count == 2 * 9 + 2
    assert p[3].param_count == 3 * 25 * 2 + 3
    assert p[0].macs == 298 * 449 * 2 * 9
    assert p[3].macs == 145 * 220 * 3 * 25 * 2


def test_run_accepts_plain_arrays():
    cfg = load_config({"stages": ["relu"]})
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = cnnviz.run(cfg, a)[0].output
    assert out.shape == (3, 4, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, :, 0], a / 255.0, rtol=1e-6)
