"""conv_padding, conv_output_size and conv2d against SciPy, np.pad and a slow explicit loop."""

# Every numerical expectation here and in the other tests/ops files comes from SciPy
# (``correlate2d`` / ``convolve2d``), ``np.pad``, a slow explicit loop written in the test, or values
# worked out by hand; never from the module's own earlier output.

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.signal import convolve2d, correlate2d

from cnnviz import ops
from tests.helpers import close

RNG = np.random.default_rng(20240611)


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
# groups and the 1×1 path


def slow_grouped(x: np.ndarray, k: np.ndarray, groups: int, **kwargs: Any) -> np.ndarray:
    """Each group by the plain slow loop on its slice of channels and kernels, joined."""
    c, n = x.shape[2], k.shape[0]
    d, m = c // groups, n // groups
    bias = kwargs.pop("bias", None)
    parts = [slow_conv(x[:, :, g * d:(g + 1) * d], k[g * m:(g + 1) * m],
                       bias=None if bias is None else bias[g * m:(g + 1) * m], **kwargs) for g in range(groups)]
    return np.concatenate(parts, axis=2)


@pytest.mark.parametrize("c, n, groups", [(4, 6, 2), (6, 6, 3), (6, 6, 6), (3, 6, 3), (8, 16, 8)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grouped_conv_vs_slow_loop(c, n, groups, dtype):
    x = RNG.standard_normal((13, 11, c)).astype(dtype)
    k = RNG.standard_normal((n, 3, 2, c // groups))
    b = RNG.standard_normal(n)
    kwargs: dict[str, Any] = dict(stride=(2, 1), dilation=(1, 2), bias=b)
    pads = ((1, 2), (0, 1))
    got = ops.conv2d(x, k, padding=pads, groups=groups, **kwargs)
    assert got.dtype == dtype
    close(got, slow_grouped(x, k, groups, pads=pads, **kwargs), dtype)


def test_depthwise_style_groups_by_hand():
    """groups = channels: each kernel sees its own channel only (MobileNet's depthwise conv)."""
    x = np.zeros((3, 3, 2))
    x[:, :, 0], x[:, :, 1] = 1.0, 10.0
    k = np.ones((2, 3, 3, 1))
    k[1] *= 2
    out = ops.conv2d(x, k, groups=2)
    assert out.reshape(-1).tolist() == [9.0, 180.0]  # 9 · 1 and 9 · 10 · 2: no mixing of channels


def test_one_by_one_conv_is_a_matrix_product():
    x = RNG.standard_normal((9, 7, 5))
    k = RNG.standard_normal((4, 1, 1, 5))
    close(ops.conv2d(x, k), np.einsum("hwc,nc->hwn", x, k[:, 0, 0, :]))
    close(ops.conv2d(x, k, stride=2), np.einsum("hwc,nc->hwn", x[::2, ::2], k[:, 0, 0, :]))
    close(ops.conv2d(x, k, stride=(3, 2), bias=np.arange(4.0)),
          np.einsum("hwc,nc->hwn", x[::3, ::2], k[:, 0, 0, :]) + np.arange(4.0))


def test_groups_that_do_not_divide_are_refused():
    x = np.zeros((4, 4, 6))
    with pytest.raises(ValueError, match="groups 4 must divide the 6 channels and the 4 kernels"):
        ops.conv2d(x, np.zeros((4, 3, 3, 1)), groups=4)
    with pytest.raises(ValueError, match="kernel depth 2 does not match the input's 6 channels in 2 groups"):
        ops.conv2d(x, np.zeros((4, 3, 3, 2)), groups=2)
