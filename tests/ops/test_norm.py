"""lrn, standardize and minmax against a channel loop and hand-worked values."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from cnnviz import ops
from tests.helpers import close

RNG = np.random.default_rng(20240611)


def slow_lrn(x: np.ndarray, size: int, alpha: float, beta: float, k: float) -> np.ndarray:
    c = x.shape[2]
    out = np.empty_like(x, dtype=np.float64)
    for ch in range(c):
        lo, hi = max(0, ch - size // 2), min(c - 1, ch + (size - 1) // 2)
        s = sum(x[:, :, j].astype(np.float64) ** 2 for j in range(lo, hi + 1))
        out[:, :, ch] = x[:, :, ch] / (k + alpha / size * s) ** beta
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size, channels", [(5, 7), (4, 6), (1, 3), (3, 1), (9, 4), (2, 5)])
def test_lrn_vs_channel_loop(dtype, size, channels):
    x = (RNG.standard_normal((5, 6, channels)) * 4).astype(dtype)
    out = ops.lrn(x, size=size, alpha=0.5, beta=0.75, k=1.5)
    assert out.dtype == dtype
    close(out, slow_lrn(x, size, 0.5, 0.75, 1.5), dtype)
    close(ops.lrn(x), slow_lrn(x, 5, 1e-4, 0.75, 2.0), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standardize_hand_values(dtype):
    x = np.zeros((2, 2, 2), dtype=dtype)
    x[:, :, 0] = [[1, 2], [3, 4]]
    x[:, :, 1] = 7.0  # constant channel
    out = ops.standardize(x)
    assert out.dtype == dtype
    d = math.sqrt(1.25 + 1e-5)  # mean 2.5, population variance 1.25
    close(out[:, :, 0], np.array([[-1.5, -0.5], [0.5, 1.5]]) / d, dtype)
    np.testing.assert_array_equal(out[:, :, 1], 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_minmax_hand_values(dtype):
    x = np.zeros((2, 3, 3), dtype=dtype)
    x[:, :, 0] = [[-2, 0, 2], [4, 6, -2]]
    x[:, :, 1] = 5.0  # constant channel -> 0
    x[:, :, 2] = [[0, 0, 0], [0, 0, 1]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            out = ops.minmax(x)
    assert out.dtype == dtype
    close(out[:, :, 0], np.array([[0, 0.25, 0.5], [0.75, 1, 0]]), dtype)
    np.testing.assert_array_equal(out[:, :, 1], 0)
    np.testing.assert_array_equal(out[:, :, 2], [[0, 0, 0], [0, 0, 1]])
