"""Tests for cnnviz.operations against independent references.

Every numerical expectation comes from SciPy (``correlate2d`` / ``convolve2d``),
``np.pad``, a slow explicit loop written here, or values worked out by hand;
never from the module's own earlier output.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.signal import convolve2d, correlate2d

from cnnviz import ops

RNG = np.random.default_rng(20240611)

TOL: dict[Any, float] = {np.float32: 1e-4, np.float64: 1e-9}


def close(actual: np.ndarray, expected: np.ndarray, dtype: Any = np.float64) -> None:
    """Compare at rtol = atol = 1e-4 for float32 and 1e-9 for float64."""
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=TOL[dtype], atol=TOL[dtype])


# ---------------------------------------------------------------------------
# Independent references


def slow_conv(
    x: np.ndarray,
    k: np.ndarray,
    pads: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0)),
    *,
    pad_mode: Any = "constant",
    pad_value: float = 0.0,
    stride: tuple[int, int] = (1, 1),
    dilation: tuple[int, int] = (1, 1),
    flip: bool = False,
    bias: np.ndarray | None = None,
    depthwise: bool = False,
) -> np.ndarray:
    """Direct loop over output rows, columns and kernel taps (float64)."""
    x = np.asarray(x, np.float64)
    k = np.asarray(k, np.float64)
    if flip:
        k = np.rot90(k, 2, axes=(1, 2))
    widths = (pads[0], pads[1], (0, 0))
    if pad_mode == "constant":
        xp = np.pad(x, widths, mode="constant", constant_values=pad_value)
    else:
        xp = np.pad(x, widths, mode=pad_mode)
    n, kh, kw, c = k.shape
    sh, sw = stride
    dh, dw = dilation
    ho = (xp.shape[0] - dh * (kh - 1) - 1) // sh + 1
    wo = (xp.shape[1] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((ho, wo, n * c if depthwise else n))
    for i in range(ho):
        for j in range(wo):
            for a in range(kh):
                for b in range(kw):
                    pix = xp[i * sh + a * dh, j * sw + b * dw, :]  # (C,)
                    if depthwise:
                        out[i, j, :] += (k[:, a, b, :] * pix).reshape(-1)  # index n*C + c
                    else:
                        out[i, j, :] += k[:, a, b, :] @ pix
    if bias is not None:
        out += np.repeat(np.asarray(bias, np.float64), c) if depthwise else bias
    return out


def scipy_conv(x: np.ndarray, k: np.ndarray, pads, *, flip: bool = False) -> np.ndarray:
    """Multi-channel correlation from SciPy 'full' output sliced per the SPEC's padding."""
    n, kh, kw, c = k.shape
    h, w, _ = x.shape
    (pt, pb), (pl, pr) = pads
    fn = convolve2d if flip else correlate2d
    out = np.zeros((h + pt + pb - kh + 1, w + pl + pr - kw + 1, n))
    for m in range(n):
        full = sum(fn(x[:, :, ch], k[m, :, :, ch], mode="full") for ch in range(c))
        # full[i] corresponds to a padding of (k-1) before; shift to `pt` before.
        r0, c0 = kh - 1 - pt, kw - 1 - pl
        out[:, :, m] = full[r0 : r0 + out.shape[0], c0 : c0 + out.shape[1]]
    return out


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


def dilate_kernel(k2: np.ndarray, dh: int, dw: int) -> np.ndarray:
    kh, kw = k2.shape
    out = np.zeros((dh * (kh - 1) + 1, dw * (kw - 1) + 1))
    out[::dh, ::dw] = k2
    return out


# ---------------------------------------------------------------------------
# conv_padding / conv_output_size


@pytest.mark.parametrize(
    "padding, kernel, dilation, expected",
    [
        ("valid", (3, 3), (1, 1), ((0, 0), (0, 0))),
        ("valid", (5, 2), (3, 2), ((0, 0), (0, 0))),
        ("same", (3, 3), (1, 1), ((1, 1), (1, 1))),
        ("same", (4, 4), (1, 1), ((1, 2), (1, 2))),
        ("same", (2, 5), (1, 1), ((0, 1), (2, 2))),
        ("same", (3, 2), (2, 3), ((2, 2), (1, 2))),
        ("same", (1, 1), (1, 1), ((0, 0), (0, 0))),
        ("full", (3, 4), (1, 1), ((2, 2), (3, 3))),
        ("full", (3, 2), (2, 5), ((4, 4), (5, 5))),
        (2, (3, 3), (1, 1), ((2, 2), (2, 2))),
        (0, (3, 3), (1, 1), ((0, 0), (0, 0))),
        ((1, 3), (3, 3), (1, 1), ((1, 1), (3, 3))),
    ],
)
def test_conv_padding_hand_values(padding, kernel, dilation, expected):
    assert ops.conv_padding(padding, kernel, dilation) == expected


@pytest.mark.parametrize("bad", ["bogus", "SAME", -1, (1, -2)])
def test_conv_padding_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        ops.conv_padding(bad, (3, 3), (1, 1))


@pytest.mark.parametrize(
    "args, expected",
    [
        ((5, 3, 0, 0, 1, 1), 3),
        ((5, 3, 1, 1, 1, 1), 5),
        ((7, 3, 0, 0, 2, 1), 3),
        ((8, 3, 0, 0, 2, 1), 3),
        ((8, 3, 1, 1, 2, 1), 4),
        ((7, 3, 0, 0, 1, 2), 3),
        ((10, 4, 1, 2, 3, 1), 4),
        ((1, 1, 0, 0, 1, 1), 1),
        ((2, 5, 0, 0, 1, 1), -2),
        ((3, 3, 0, 0, 1, 2), -1),
    ],
)
def test_conv_output_size_hand_values(args, expected):
    assert ops.conv_output_size(*args) == expected


def test_same_keeps_size_for_stride_one_even_and_odd_kernels():
    for n, k, d in itertools.product(range(1, 12), range(1, 7), range(1, 4)):
        (before, after), _ = ops.conv_padding("same", (k, 1), (d, 1))
        assert before + after == d * (k - 1)
        assert before == (d * (k - 1)) // 2
        assert ops.conv_output_size(n, k, before, after, 1, d) == n


def test_same_conv_keeps_shape_for_even_kernel():
    x = RNG.standard_normal((9, 8, 2))
    k = RNG.standard_normal((3, 4, 2, 2))
    assert ops.conv2d(x, k, padding="same").shape == (9, 8, 3)


# ---------------------------------------------------------------------------
# conv2d against SciPy


KERNEL_SHAPES = [(3, 3), (2, 2), (4, 4), (2, 5), (1, 1), (5, 3)]


@pytest.mark.parametrize("padding", ["valid", "same", "full"])
@pytest.mark.parametrize("kshape", KERNEL_SHAPES)
@pytest.mark.parametrize("flip", [False, True])
def test_conv_single_channel_vs_scipy(padding, kshape, flip):
    x = RNG.standard_normal((11, 14, 1))
    k = RNG.standard_normal((2, *kshape, 1))
    pads = ops.conv_padding(padding, kshape, (1, 1))
    out = ops.conv2d(x, k, padding=padding, flip=flip)
    close(out, scipy_conv(x, k, pads, flip=flip))


@pytest.mark.parametrize("padding", ["valid", "same", "full"])
@pytest.mark.parametrize("kshape", KERNEL_SHAPES)
@pytest.mark.parametrize("channels", [3, 8, 24])
def test_conv_multichannel_sum_vs_scipy(padding, kshape, channels):
    # 24 channels x kw >= 2 exercises the channel-last gather, fewer the channels-first one.
    x = RNG.standard_normal((10, 13, channels))
    k = RNG.standard_normal((4, *kshape, channels))
    pads = ops.conv_padding(padding, kshape, (1, 1))
    close(ops.conv2d(x, k, padding=pads), scipy_conv(x, k, pads))
    close(ops.conv2d(x, k, padding=pads, flip=True), scipy_conv(x, k, pads, flip=True))


def test_conv_same_even_kernel_is_not_scipy_centring():
    # SciPy 'same' puts the extra padding row/column before; the SPEC puts it after.
    x = RNG.standard_normal((6, 7, 1))
    k2 = RNG.standard_normal((2, 2))
    out = ops.conv2d(x, k2[None, :, :, None], padding="same")[:, :, 0]
    xp = np.pad(x[:, :, 0], ((0, 1), (0, 1)))
    close(out, correlate2d(xp, k2, mode="valid"))


def test_conv_bias():
    x = RNG.standard_normal((7, 9, 2))
    k = RNG.standard_normal((3, 3, 2, 2))
    bias = np.array([0.5, -2.0, 10.0])
    pads = ((0, 0), (0, 0))
    expected = scipy_conv(x, k, pads) + bias
    close(ops.conv2d(x, k, bias=bias), expected)
    close(ops.conv2d(x, k, bias=np.zeros(3)), scipy_conv(x, k, pads))


@pytest.mark.parametrize("pad_mode", ["constant", "reflect", "symmetric", "edge", "wrap"])
@pytest.mark.parametrize("padding", [((1, 2), (2, 1)), ((3, 0), (0, 3)), "same", "full"])
def test_conv_pad_modes_vs_np_pad(pad_mode, padding):
    x = RNG.standard_normal((8, 9, 2))
    k = RNG.standard_normal((2, 3, 4, 2))
    pads = ops.conv_padding(padding, (3, 4), (1, 1)) if isinstance(padding, str) else padding
    kwargs = {"constant_values": 1.5} if pad_mode == "constant" else {}
    xp = np.pad(x, (*pads, (0, 0)), mode=pad_mode, **kwargs)
    expected = np.stack(
        [sum(correlate2d(xp[:, :, c], k[n, :, :, c], mode="valid") for c in range(2)) for n in range(2)],
        axis=-1,
    )
    out = ops.conv2d(x, k, padding=padding, pad_mode=pad_mode, pad_value=1.5)
    close(out, expected)


@pytest.mark.parametrize("stride", [(2, 2), (3, 1), (1, 2), (2, 3)])
def test_conv_stride_is_subsampled_correlation(stride):
    x = RNG.standard_normal((13, 12, 1))
    k = RNG.standard_normal((3, 3, 2, 1))
    full = scipy_conv(x, k, ((0, 0), (0, 0)))
    out = ops.conv2d(x, k, stride=stride)
    close(out, full[:: stride[0], :: stride[1]])
    close(out, slow_conv(x, k, stride=stride))


@pytest.mark.parametrize("dilation", [(2, 2), (3, 1), (1, 2), (2, 3)])
def test_conv_dilation_is_zero_inserted_kernel(dilation):
    x = RNG.standard_normal((14, 15, 1))
    k2 = RNG.standard_normal((3, 2))
    out = ops.conv2d(x, k2[None, :, :, None], dilation=dilation)[:, :, 0]
    close(out, correlate2d(x[:, :, 0], dilate_kernel(k2, *dilation), mode="valid"))


@pytest.mark.parametrize("channels", [1, 5, 30])
def test_conv_stride_dilation_padding_vs_slow_loop(channels):
    x = RNG.standard_normal((15, 17, channels))
    k = RNG.standard_normal((3, 3, 4, channels))
    kwargs: dict[str, Any] = dict(
        stride=(2, 3), dilation=(2, 1), pad_mode="reflect", flip=True, bias=np.arange(3.0)
    )
    pads = ops.conv_padding("same", (3, 4), (2, 1))
    out = ops.conv2d(x, k, padding="same", **kwargs)
    close(out, slow_conv(x, k, pads, **kwargs))


def test_conv_depthwise_channel_order():
    x = RNG.standard_normal((9, 10, 3))
    k = RNG.standard_normal((2, 3, 2, 3))
    bias = np.array([1.0, -3.0])
    out = ops.conv2d(x, k, depthwise=True, bias=bias)
    assert out.shape == (7, 9, 6)
    for n in range(2):
        for c in range(3):
            expected = correlate2d(x[:, :, c], k[n, :, :, c], mode="valid") + bias[n]
            close(out[:, :, n * 3 + c], expected)


def test_conv_depthwise_with_stride_dilation_padding_vs_slow_loop():
    x = RNG.standard_normal((12, 11, 4))
    k = RNG.standard_normal((3, 3, 3, 4))
    bias = np.array([1.0, 2.0, 3.0])
    kwargs: dict[str, Any] = dict(stride=(2, 1), dilation=(1, 2), pad_mode="edge", flip=True, bias=bias)
    pads = ((2, 1), (0, 3))
    close(
        ops.conv2d(x, k, padding=pads, depthwise=True, **kwargs),
        slow_conv(x, k, pads, depthwise=True, **kwargs),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [1, 4, 40])
@pytest.mark.parametrize("depthwise", [False, True])
def test_conv_dtype_preserved_and_accurate(dtype, channels, depthwise):
    x = RNG.standard_normal((12, 13, channels)).astype(dtype)
    k = RNG.standard_normal((3, 3, 3, channels)).astype(dtype)
    out = ops.conv2d(x, k, padding="same", depthwise=depthwise)
    assert out.dtype == dtype
    pads = ops.conv_padding("same", (3, 3), (1, 1))
    close(out, slow_conv(x, k, pads, depthwise=depthwise), dtype)


def test_conv_integer_input_computed_in_float64():
    x = np.arange(20).reshape(4, 5, 1)
    k = np.ones((1, 2, 2, 1))
    out = ops.conv2d(x, k)
    assert out.dtype == np.float64
    close(out[:, :, 0], correlate2d(x[:, :, 0].astype(float), np.ones((2, 2)), mode="valid"))


@pytest.mark.parametrize("channels_first_below", [0, 10**9])
def test_conv_many_blocks_both_gathers(monkeypatch, channels_first_below):
    # Force tiny blocks so the row-block loop (with a partial last block) runs.
    from cnnviz.ops import conv

    monkeypatch.setattr(conv, "PATCH_BLOCK_BYTES", 1)
    monkeypatch.setattr(conv, "PATCH_ROWS_MIN", 1)
    monkeypatch.setattr(conv, "ELEMENTWISE_BLOCK_BYTES", 1)
    monkeypatch.setattr(conv, "CHANNELS_FIRST_BELOW", channels_first_below)
    x = RNG.standard_normal((23, 9, 3))
    k = RNG.standard_normal((2, 4, 3, 3))
    kwargs: dict[str, Any] = dict(stride=(2, 1), dilation=(1, 2), bias=np.array([0.25, -1.0]))
    pads = ((1, 2), (3, 0))
    close(ops.conv2d(x, k, padding=pads, **kwargs), slow_conv(x, k, pads, **kwargs))
    close(
        ops.conv2d(x, k, padding=pads, depthwise=True, **kwargs),
        slow_conv(x, k, pads, depthwise=True, **kwargs),
    )


@pytest.mark.parametrize("channels", [1, 3, 20])
def test_conv_large_input_default_blocking_vs_scipy(channels):
    # Big enough for several default-sized blocks.
    x = RNG.standard_normal((300, 260, channels)).astype(np.float32)
    k = RNG.standard_normal((2, 3, 3, channels)).astype(np.float32)
    out = ops.conv2d(x, k, padding="same")
    assert out.dtype == np.float32
    pads = ops.conv_padding("same", (3, 3), (1, 1))
    close(out, scipy_conv(x.astype(np.float64), k.astype(np.float64), pads), np.float32)


def test_conv_invalid_arguments():
    x = np.zeros((5, 5, 2))
    with pytest.raises(ValueError):
        ops.conv2d(x, np.zeros((1, 3, 3, 3)))  # depth mismatch
    with pytest.raises(ValueError):
        ops.conv2d(x, np.zeros((1, 6, 3, 2)))  # kernel taller than input
    with pytest.raises(ValueError):
        ops.conv2d(x, np.zeros((1, 3, 3, 2)), dilation=3)  # dilated kernel 7 > 5
    with pytest.raises(ValueError):
        ops.conv2d(x, np.zeros((2, 3, 3, 2)), bias=np.zeros(3))
    with pytest.raises(ValueError):
        ops.conv2d(x, np.zeros((1, 3, 3, 2)), pad_mode="mirror")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ops.conv2d(x, np.zeros((1, 3, 3, 2)), stride=0)


PAD_SPECS = st.one_of(
    st.sampled_from(["valid", "same", "full"]),
    st.integers(0, 2),
    st.tuples(st.integers(0, 2), st.integers(0, 2)),
    st.tuples(
        st.tuples(st.integers(0, 3), st.integers(0, 3)),
        st.tuples(st.integers(0, 3), st.integers(0, 3)),
    ),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    c=st.integers(1, 4),
    n=st.integers(1, 3),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=PAD_SPECS,
    pad_mode=st.sampled_from(["constant", "reflect", "symmetric", "edge", "wrap"]),
    flip=st.booleans(),
    depthwise=st.booleans(),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv_property_vs_slow_loop(
    h, w, c, n, kh, kw, stride, dilation, padding, pad_mode, flip, depthwise, with_bias, seed
):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((h, w, c))
    k = rng.standard_normal((n, kh, kw, c))
    bias = rng.standard_normal(n) if with_bias else None
    if isinstance(padding, tuple) and isinstance(padding[0], tuple):
        pads = padding
    else:
        pads = ops.conv_padding(padding, (kh, kw), dilation)
    ho = ops.conv_output_size(h, kh, *pads[0], stride[0], dilation[0])
    wo = ops.conv_output_size(w, kw, *pads[1], stride[1], dilation[1])
    kwargs: dict[str, Any] = dict(
        pad_mode=pad_mode,
        pad_value=0.5,
        stride=stride,
        dilation=dilation,
        flip=flip,
        bias=bias,
        depthwise=depthwise,
    )
    if ho <= 0 or wo <= 0:
        with pytest.raises(ValueError):
            ops.conv2d(x, k, padding=padding, **kwargs)
        return
    out = ops.conv2d(x, k, padding=padding, **kwargs)
    assert out.shape == (ho, wo, n * c if depthwise else n)
    close(out, slow_conv(x, k, pads, **kwargs))


# ---------------------------------------------------------------------------
# Pooling


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
# Elementwise


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


# ---------------------------------------------------------------------------
# Normalisation


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


# ---------------------------------------------------------------------------
# Dense and softmax


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
