"""dense against an explicit flatten-and-sum, and softmax: values, stability, dtypes."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from cnnviz import ops
from tests.helpers import close

RNG = np.random.default_rng(20240611)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_vs_explicit_flatten(dtype):
    h, w, c, units = 3, 4, 2, 5
    x = RNG.standard_normal((h, w, c)).astype(dtype)
    weights = RNG.standard_normal((units, h * w * c)).astype(dtype)
    bias = RNG.standard_normal(units).astype(dtype)
    flat = np.array([x[i, j, k] for i in range(h) for j in range(w) for k in range(c)], dtype=np.float64)
    expected = np.array(
        [sum(weights[u, t] * flat[t] for t in range(flat.size)) + bias[u] for u in range(units)],
        dtype=np.float64,
    )
    out = ops.dense(x, weights, bias)
    assert out.shape == (1, 1, units) and out.dtype == dtype
    close(out.ravel(), expected, dtype)
    close(ops.dense(x, weights).ravel(), expected - bias, dtype)


def test_dense_rejects_wrong_width():
    with pytest.raises(ValueError):
        ops.dense(np.zeros((2, 2, 2)), np.zeros((3, 7)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax(dtype):
    x = np.array([0.0, math.log(3.0)], dtype=dtype).reshape(1, 1, 2)
    close(ops.softmax(x).ravel(), np.array([0.25, 0.75]), dtype)
    big = np.array([1000.0, 1001.0, 1002.0, -5000.0], dtype=dtype).reshape(1, 1, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            out = ops.softmax(big)
    assert out.dtype == dtype
    e = [math.exp(v) for v in (0, 1, 2)]
    close(out.ravel(), np.array([*(v / sum(e) for v in e), 0.0]), dtype)
    maps = RNG.standard_normal((4, 5, 6)).astype(dtype) * 50
    s = ops.softmax(maps)
    assert s.shape == maps.shape and s.dtype == dtype
    close(s.sum(axis=-1), np.ones((4, 5)), dtype)
    assert (s >= 0).all()
