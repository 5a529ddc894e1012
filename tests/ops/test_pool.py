"""pool2d, pool_output_size and global_pool against a slow window loop and hand-worked values."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnviz import ops
from tests.helpers import close

RNG = np.random.default_rng(20240611)


def slow_pool(x: np.ndarray, mode: str, size, stride, padding) -> np.ndarray:
    """Loop over windows, reducing only the real (unpadded) cells of each."""
    (kh, kw), (sh, sw), (ph, pw) = size, stride, padding
    h, w, c = x.shape
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    out = np.zeros((ho, wo, c))
    reductions: dict[str, Callable[..., Any]] = {"max": np.max, "min": np.min, "avg": np.mean}
    reduce = reductions[mode]
    for i in range(ho):
        for j in range(wo):
            r0, c0 = i * sh - ph, j * sw - pw
            cells = x[max(r0, 0) : min(r0 + kh, h), max(c0, 0) : min(c0 + kw, w), :]
            out[i, j] = reduce(cells.reshape(-1, c), axis=0)
    return out


X55 = np.arange(25, dtype=np.float64).reshape(5, 5, 1)


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("max", [[6, 8], [16, 18]]),
        ("avg", [[3, 5], [13, 15]]),
        ("min", [[0, 2], [10, 12]]),
    ],
)
def test_pool_odd_input_drops_last_row_and_column(mode, expected):
    out = ops.pool2d(X55, mode=mode, size=2)
    assert out.shape == (2, 2, 1)
    np.testing.assert_array_equal(out[:, :, 0], expected)


def test_pool_stride_different_from_size():
    x = np.arange(16.0).reshape(4, 4, 1)
    np.testing.assert_array_equal(ops.pool2d(x, size=3, stride=1)[:, :, 0], [[10, 11], [14, 15]])
    np.testing.assert_array_equal(ops.pool2d(X55, size=3, stride=2)[:, :, 0], [[12, 14], [22, 24]])
    np.testing.assert_array_equal(ops.pool2d(X55, mode="min", size=2, stride=1)[:, :, 0], X55[:4, :4, 0])
    # avg, size (2, 3), stride (1, 2): windows rows i..i+1, cols 2j..2j+2
    out = ops.pool2d(x, mode="avg", size=(2, 3), stride=(1, 2))
    expected = [
        (0 + 1 + 2 + 4 + 5 + 6) / 6,
        (4 + 5 + 6 + 8 + 9 + 10) / 6,
        (8 + 9 + 10 + 12 + 13 + 14) / 6,
    ]
    np.testing.assert_allclose(out[:, 0, 0], expected)
    assert out.shape == (3, 1, 1)


X33 = np.arange(1.0, 10.0).reshape(3, 3, 1)  # [[1 2 3] [4 5 6] [7 8 9]]


def test_pool_padding_hand_values():
    # padded to 5x5, windows rows {-1,0}, {1,2} and the same for columns
    avg = ops.pool2d(X33, mode="avg", size=2, padding=1)
    np.testing.assert_allclose(avg[:, :, 0], [[1.0, 2.5], [5.5, 7.0]])
    mn = ops.pool2d(X33, mode="min", size=2, padding=1)
    np.testing.assert_array_equal(mn[:, :, 0], [[1, 2], [4, 5]])  # never a padded 0
    mx = ops.pool2d(-X33, mode="max", size=2, padding=1)
    np.testing.assert_array_equal(mx[:, :, 0], [[-1, -2], [-4, -5]])  # never a padded 0
    np.testing.assert_array_equal(ops.pool2d(X33, size=2, padding=1)[:, :, 0], [[1, 3], [7, 9]])


def test_pool_padding_rectangular_stride_one():
    # size 3 stride 1 padding (1, 0) on 3x3: rows padded, columns not -> (3, 1)
    avg = ops.pool2d(X33, mode="avg", size=3, stride=1, padding=(1, 0))
    np.testing.assert_allclose(avg[:, 0, 0], [(1 + 2 + 3 + 4 + 5 + 6) / 6, 5.0, (4 + 5 + 6 + 7 + 8 + 9) / 6])


def test_numpycnn_odd_size_bug_not_reproduced():
    x = RNG.random((298, 449, 2)).astype(np.float32) + 0.5  # all positive
    out = ops.pool2d(x, size=2)
    assert out.shape == (149, 224, 2)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[-1, -1], x[296:298, 446:448].max(axis=(0, 1)))
    assert (out[:, -1] > 0).all() and (out[-1, :] > 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["max", "avg", "min"])
def test_pool_dtype_preserved(dtype, mode):
    x = RNG.standard_normal((7, 6, 3)).astype(dtype)
    out = ops.pool2d(x, mode=mode, size=(2, 3), stride=(2, 1), padding=(1, 1))
    assert out.dtype == dtype
    close(out, slow_pool(x.astype(np.float64), mode, (2, 3), (2, 1), (1, 1)), dtype)


@settings(max_examples=50, deadline=None)
@given(
    h=st.integers(1, 10),
    w=st.integers(1, 10),
    c=st.integers(1, 3),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    stride=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    mode=st.sampled_from(["max", "avg", "min"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_pool_property_vs_slow_loop(h, w, c, kh, kw, stride, padding, mode, seed):
    # padding at most half the window (as the config enforces): every window has a real cell
    padding = (min(padding[0], kh // 2), min(padding[1], kw // 2))
    strides = (kh, kw) if stride is None else stride
    if h + 2 * padding[0] < kh or w + 2 * padding[1] < kw:
        with pytest.raises(ValueError):
            ops.pool2d(np.zeros((h, w, c)), mode=mode, size=(kh, kw), stride=stride, padding=padding)
        return
    x = np.random.default_rng(seed).standard_normal((h, w, c))
    out = ops.pool2d(x, mode=mode, size=(kh, kw), stride=stride, padding=padding)
    assert out.shape[:2] == (
        ops.pool_output_size(h, kh, strides[0], padding[0]),
        ops.pool_output_size(w, kw, strides[1], padding[1]),
    )
    close(out, slow_pool(x, mode, (kh, kw), strides, padding))


def test_pool_output_size_hand_values():
    assert ops.pool_output_size(5, 2, 2, 0) == 2
    assert ops.pool_output_size(6, 2, 2, 0) == 3
    assert ops.pool_output_size(298, 2, 2, 0) == 149
    assert ops.pool_output_size(449, 2, 2, 0) == 224
    assert ops.pool_output_size(3, 2, 2, 1) == 2
    assert ops.pool_output_size(5, 3, 1, 1) == 5
    assert ops.pool_output_size(1, 2, 2, 0) == 0


def test_pool_invalid_arguments():
    with pytest.raises(ValueError):
        ops.pool2d(X55, mode="median")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ops.pool2d(X55, size=6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_global_pool(dtype):
    x = RNG.standard_normal((6, 7, 3)).astype(dtype)
    avg = ops.global_pool(x)
    mx = ops.global_pool(x, "max")
    assert avg.shape == mx.shape == (1, 1, 3)
    assert avg.dtype == mx.dtype == dtype
    for c in range(3):
        ch = x[:, :, c].astype(np.float64)
        assert math.isclose(float(avg[0, 0, c]), math.fsum(ch.ravel()) / ch.size, rel_tol=1e-6, abs_tol=1e-6)
        assert float(mx[0, 0, c]) == max(ch.ravel())


# ---------------------------------------------------------------------------
# ceil mode, asymmetric padding, count_pad


def slow_pool_full(x: np.ndarray, mode: str, size, stride, pads, ceil: bool, count_pad: bool) -> np.ndarray:
    """A loop over windows by the rules written out: ceil keeps a last window that starts before the
    trailing padding; max/min and a plain average see the real cells; count_pad divides by the cells
    inside the padded input (never past it)."""
    (kh, kw), (sh, sw), ((pt, pb), (pl, pr)) = size, stride, pads
    h, w, c = x.shape

    def count(n: int, k: int, s: int, before: int, after: int) -> int:
        span = n + before + after - k
        o = (math.ceil(span / s) if ceil else span // s) + 1
        if ceil and (o - 1) * s >= n + before:
            o -= 1
        return o

    ho, wo = count(h, kh, sh, pt, pb), count(w, kw, sw, pl, pr)
    out = np.zeros((ho, wo, c))
    for i in range(ho):
        for j in range(wo):
            r0, c0 = i * sh - pt, j * sw - pl
            cells = x[max(r0, 0):min(r0 + kh, h), max(c0, 0):min(c0 + kw, w), :].reshape(-1, c)
            if mode == "avg" and count_pad:
                inside = (min(r0 + kh, h + pb) - max(r0, -pt)) * (min(c0 + kw, w + pr) - max(c0, -pl))
                out[i, j] = cells.sum(axis=0) / inside
            else:
                out[i, j] = {"max": np.max, "min": np.min, "avg": np.mean}[mode](cells, axis=0)
    return out


def test_ceil_mode_by_hand():
    # 5 cells, windows of 2 every 2: floor keeps [0,1] [2,3]; ceil keeps [4] too, alone
    x = np.arange(5.0).reshape(1, 5, 1)
    assert ops.pool2d(x, size=(1, 2), ceil=True, mode="max").ravel().tolist() == [1, 3, 4]
    assert ops.pool2d(x, size=(1, 2), ceil=True, mode="avg").ravel().tolist() == [0.5, 2.5, 4.0]
    assert ops.pool_output_size(6, 3, 2, 1, ceil=True) == 4  # ceil(5 / 2) + 1 = 4: the last starts at 5 < 6 + 1
    assert ops.pool_output_size(4, 2, 2, 1, ceil=True) == 3  # ceil(4 / 2) + 1 = 3, but the 4th would start at 6


def test_count_pad_by_hand():
    x = np.ones((2, 2, 1))
    # 2×2 windows every 2 over a 1-padded 4×4: each window holds 1 real cell and 3 padded ones
    assert ops.pool2d(x, mode="avg", size=2, padding=1).ravel().tolist() == [1.0] * 4
    assert ops.pool2d(x, mode="avg", size=2, padding=1, count_pad=True).ravel().tolist() == [0.25] * 4


@pytest.mark.parametrize("mode", ["max", "avg", "min"])
@pytest.mark.parametrize("ceil", [False, True])
@pytest.mark.parametrize("count_pad", [False, True])
@pytest.mark.parametrize("pads", [((0, 0), (0, 0)), ((1, 0), (0, 1)), ((1, 1), (1, 1)), ((0, 1), (1, 0))])
def test_pool_ceil_pads_count_pad_vs_loop(mode, ceil, count_pad, pads):
    if count_pad and mode != "avg":
        return
    x = RNG.standard_normal((9, 8, 3))
    got = ops.pool2d(x, mode=mode, size=(3, 2), stride=(2, 3), padding=pads, ceil=ceil, count_pad=count_pad)
    close(got, slow_pool_full(x, mode, (3, 2), (2, 3), pads, ceil, count_pad))
