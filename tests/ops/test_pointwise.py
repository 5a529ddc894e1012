"""The activations (relu, leaky_relu, abs, tanh, sigmoid): hand-worked values, dtypes, extremes."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from cnnviz import ops
from tests.helpers import close


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_hand_values_and_dtype(dtype):
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0], dtype=dtype).reshape(1, 5, 1)
    cases = {
        ops.relu: [0, 0, 0, 0.5, 3],
        ops.absolute: [2, 0.5, 0, 0.5, 3],
        ops.tanh: [math.tanh(v) for v in (-2, -0.5, 0, 0.5, 3)],
        ops.sigmoid: [1 / (1 + math.exp(-v)) for v in (-2, -0.5, 0, 0.5, 3)],
    }
    for fn, expected in cases.items():
        out = fn(x)
        assert out.dtype == dtype and out.shape == x.shape
        close(out.ravel(), np.array(expected), dtype)
    out = ops.leaky_relu(x, slope=0.1)
    assert out.dtype == dtype
    close(out.ravel(), np.array([-0.2, -0.05, 0, 0.5, 3]), dtype)
    close(ops.leaky_relu(x).ravel(), np.array([-0.02, -0.005, 0, 0.5, 3]), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_extremes_without_warnings(dtype):
    x = np.array([-1000.0, -100.0, 100.0, 1000.0], dtype=dtype).reshape(2, 2, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            out = ops.sigmoid(x)
    assert out.dtype == dtype
    assert out[0, 0, 0] == 0.0 and out[1, 1, 0] == 1.0
    assert np.all((out >= 0) & (out <= 1))
    assert out[0, 1, 0] < 1e-30 if dtype == np.float64 else out[0, 1, 0] < 1e-6
