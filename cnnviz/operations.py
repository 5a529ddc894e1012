"""Pure NumPy array operations behind every cnnviz stage.

All feature maps are channel-last arrays of shape ``(H, W, C)``.  Every
operation preserves the floating dtype of its input (``float32`` in,
``float32`` out; ``float64`` in, ``float64`` out); integer or boolean input is
computed in ``float64``.  Nothing here loops over pixels in Python: loops run
over kernel taps, pooling-window offsets or blocks of output rows only.

Invalid arguments raise :class:`ValueError`.  They are programming errors:
user input is validated (and worded) before it reaches this module.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = [
    "Pair",
    "conv_padding",
    "conv_output_size",
    "conv2d",
    "pool_output_size",
    "pool2d",
    "global_pool",
    "relu",
    "leaky_relu",
    "sigmoid",
    "tanh",
    "absolute",
    "lrn",
    "standardize",
    "minmax",
    "dense",
    "softmax",
]

Pair = tuple[int, int]
PadSpec = str | int | tuple[int, int] | tuple[Pair, Pair]
PadMode = Literal["constant", "reflect", "symmetric", "edge", "wrap"]

#: Target size in bytes of the im2col patch matrix built per block of output
#: rows, and the range its number of rows (output pixels) is kept in.  About
#: 3 MB and 2k..32k rows keeps the gather in cache, each matrix product large
#: enough for BLAS to run near its peak, and the Python overhead per block
#: negligible (measured on the benchmark stack).
_PATCH_BLOCK_BYTES = 3 << 20
_PATCH_ROWS_MIN = 2048
_PATCH_ROWS_MAX = 32768

#: Size in bytes of the output block accumulated per step in the elementwise
#: (tap-loop) paths: depthwise convolution.
_ELEMENTWISE_BLOCK_BYTES = 1 << 20

#: Below this many contiguous elements per kernel row (``kw * C``) the patch
#: matrix is gathered channels-first (runs of a whole image row per copy)
#: instead of channel-last (runs of ``kw * C``).  Channel-last gives a slightly
#: faster matrix product; channels-first a much faster gather for few channels.
#: Measured (medians of 7): 1024²×1 → 16×3×3: 12 ms channels-first vs 28 ms
#: channel-last; 511²×16 → 32×3×3 (kw·C = 48): 25 vs 28 ms and 1023²×16 → 32×3×3:
#: 110 vs 151 ms in favour of channel-last, so the switch sits at 16.
_CHANNELS_FIRST_BELOW = 16

_PAD_MODES = ("constant", "reflect", "symmetric", "edge", "wrap")


# ---------------------------------------------------------------------------
# Helpers


def _float_array(x: np.ndarray) -> np.ndarray:
    """Return ``x`` as an array of a floating dtype (float input kept as is)."""
    a = np.asarray(x)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    return a


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    """Dtype used for arithmetic: float16 is computed in float32."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _pair(v: int | tuple[int, int] | list[int], name: str, minimum: int) -> Pair:
    """Normalise an int or a pair of ints to a pair, checking ``>= minimum``."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        p = (int(v), int(v))
    else:
        try:
            a, b = v  # type: ignore[misc]
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}") from None
        p = (int(a), int(b))
    if p[0] < minimum or p[1] < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {v!r}")
    return p


def _check_hwc(x: np.ndarray, name: str = "x") -> None:
    if x.ndim != 3:
        raise ValueError(f"{name} must have shape (H, W, C), got {x.shape}")


# ---------------------------------------------------------------------------
# Convolution


def conv_padding(
    padding: str | int | tuple[int, int], kernel_hw: Pair, dilation: Pair
) -> tuple[Pair, Pair]:
    """Resolve a padding specification to explicit per-side amounts.

    Parameters
    ----------
    padding : {'valid', 'same', 'full'} or int or (int, int)
        ``'valid'`` pads nothing.  ``'same'`` pads ``total = dilation*(k-1)``
        per axis, ``total // 2`` before and the rest after, so that a stride-1
        convolution keeps the input size (also for even kernels).  ``'full'``
        pads ``dilation*(k-1)`` on both sides.  An int pads all four sides by
        that amount; ``(ph, pw)`` pads ``ph`` above and below and ``pw`` left
        and right.
    kernel_hw : (int, int)
        Kernel height and width ``(kh, kw)``.
    dilation : (int, int)
        Dilation ``(dh, dw)``.

    Returns
    -------
    ((int, int), (int, int))
        ``((top, bottom), (left, right))``.

    Raises
    ------
    ValueError
        For an unknown mode or negative amounts.

    Examples
    --------
    >>> conv_padding('same', (4, 3), (1, 2))
    ((1, 2), (2, 2))
    """
    kh, kw = _pair(kernel_hw, "kernel_hw", 1)
    dh, dw = _pair(dilation, "dilation", 1)
    if isinstance(padding, str):
        th, tw = dh * (kh - 1), dw * (kw - 1)
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "same":
            return ((th // 2, th - th // 2), (tw // 2, tw - tw // 2))
        if padding == "full":
            return ((th, th), (tw, tw))
        raise ValueError(f"unknown padding {padding!r}; expected 'valid', 'same' or 'full'")
    ph, pw = _pair(padding, "padding", 0)
    return ((ph, ph), (pw, pw))


def conv_output_size(n: int, k: int, before: int, after: int, stride: int, dilation: int) -> int:
    """Output length of a convolution along one axis.

    Parameters
    ----------
    n : int
        Input length.
    k : int
        Kernel length.
    before, after : int
        Padding on either side.
    stride, dilation : int
        Step between output samples and between kernel taps.

    Returns
    -------
    int
        ``floor((n + before + after - dilation*(k-1) - 1) / stride) + 1``.
        May be zero or negative when the dilated kernel does not fit; the
        caller turns that into an error.

    Examples
    --------
    >>> conv_output_size(7, 3, 0, 0, 2, 1)
    3
    """
    return (n + before + after - dilation * (k - 1) - 1) // stride + 1


def _resolve_conv_padding(padding: PadSpec, kernel_hw: Pair, dilation: Pair) -> tuple[Pair, Pair]:
    """Accept either an explicit ``((t, b), (l, r))`` or anything :func:`conv_padding` takes."""
    if isinstance(padding, (str, int, np.integer)):
        return conv_padding(padding, kernel_hw, dilation)  # type: ignore[arg-type]
    try:
        first, second = padding  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ValueError(f"invalid padding {padding!r}") from None
    if isinstance(first, (int, np.integer)) and isinstance(second, (int, np.integer)):
        return conv_padding((int(first), int(second)), kernel_hw, dilation)
    tb = _pair(first, "padding", 0)
    lr = _pair(second, "padding", 0)
    return (tb, lr)


def _block_rows(bytes_per_row: int, total_rows: int, target: int) -> int:
    """Number of output rows per block so that a block is about ``target`` bytes."""
    return int(max(1, min(total_rows, target // max(1, bytes_per_row))))


def _patch_block_rows(taps: int, wo: int, ho: int, itemsize: int) -> int:
    """Output rows per im2col block: about ``_PATCH_BLOCK_BYTES`` of patches,
    with the patch count clamped to ``[_PATCH_ROWS_MIN, _PATCH_ROWS_MAX]``."""
    pixels = _PATCH_BLOCK_BYTES // max(1, taps * itemsize)
    pixels = min(max(pixels, _PATCH_ROWS_MIN), _PATCH_ROWS_MAX)
    return int(max(1, min(ho, pixels // wo)))


def conv2d(
    x: np.ndarray,
    kernels: np.ndarray,
    *,
    padding: PadSpec = ((0, 0), (0, 0)),
    pad_mode: PadMode = "constant",
    pad_value: float = 0.0,
    stride: int | Pair = (1, 1),
    dilation: int | Pair = (1, 1),
    flip: bool = False,
    bias: np.ndarray | None = None,
    depthwise: bool = False,
) -> np.ndarray:
    """2-D cross-correlation (or true convolution) of a channel-last image.

    Parameters
    ----------
    x : (H, W, C) ndarray
        Input feature maps.  A floating dtype is kept; other dtypes are
        computed in float64.
    kernels : (N, kh, kw, C) array_like
        ``N`` kernels spanning all ``C`` input channels (a 2-D kernel meant
        for every channel must already be broadcast over ``C``).  Cast to the
        dtype of ``x``.
    padding : ((int, int), (int, int)) or {'valid', 'same', 'full'} or int or (int, int), optional
        ``((top, bottom), (left, right))``, or any specification accepted by
        :func:`conv_padding`.  Default: no padding.
    pad_mode : {'constant', 'reflect', 'symmetric', 'edge', 'wrap'}, optional
        How padded cells are filled, with :func:`numpy.pad` semantics.
    pad_value : float, optional
        Fill value for ``pad_mode='constant'``.
    stride : int or (int, int), optional
        Step ``(sh, sw)`` between output samples.
    dilation : int or (int, int), optional
        Step ``(dh, dw)`` between kernel taps.
    flip : bool, optional
        If True, rotate each kernel by 180 degrees in its spatial axes, which
        makes the operation a true convolution.
    bias : (N,) array_like, optional
        Added to every output map of the corresponding kernel.
    depthwise : bool, optional
        If True, apply every kernel to every channel separately without
        summing over channels.

    Returns
    -------
    out : (H', W', N) ndarray, or (H', W', N*C) ndarray if ``depthwise``
        Same dtype as ``x``.  With ``xp`` the padded input and ``K`` the
        (possibly flipped) kernels::

            out[i, j, n] = sum_{a,b,c} xp[i*sh + a*dh, j*sw + b*dw, c] * K[n, a, b, c] + bias[n]

        and, when ``depthwise``, in kernel-major channel order::

            out[i, j, n*C + c] = sum_{a,b} xp[i*sh + a*dh, j*sw + b*dw, c] * K[n, a, b, c] + bias[n]

        ``H' = conv_output_size(H, kh, top, bottom, sh, dh)`` and likewise
        for ``W'``.

    Raises
    ------
    ValueError
        For mismatched shapes, unknown modes, or a dilated kernel that does
        not fit the padded input.

    Notes
    -----
    The sum is computed as block-wise im2col: for each block of output rows
    the patches are gathered (one strided copy) into a buffer of a few MB and
    multiplied with the ``(kh*kw*C, N)`` kernel matrix by one BLAS call that
    writes straight into the preallocated output.  The depthwise variant
    accumulates one kernel tap at a time, block by block.
    """
    x = _float_array(x)
    _check_hwc(x)
    out_dtype = x.dtype
    dtype = _compute_dtype(out_dtype)
    if x.dtype != dtype:
        x = x.astype(dtype)
    k = np.asarray(kernels, dtype=dtype)
    if k.ndim != 4:
        raise ValueError(f"kernels must have shape (N, kh, kw, C), got {k.shape}")
    n_k, kh, kw, kc = k.shape
    h, w, c = x.shape
    if kc != c:
        raise ValueError(f"kernel depth {kc} does not match the input's {c} channels")
    if n_k < 1 or kh < 1 or kw < 1:
        raise ValueError(f"empty kernels of shape {k.shape}")
    sh, sw = _pair(stride, "stride", 1)
    dh, dw = _pair(dilation, "dilation", 1)
    (pt, pb), (pl, pr) = _resolve_conv_padding(padding, (kh, kw), (dh, dw))
    if pad_mode not in _PAD_MODES:
        raise ValueError(f"unknown pad_mode {pad_mode!r}; expected one of {_PAD_MODES}")
    ho = conv_output_size(h, kh, pt, pb, sh, dh)
    wo = conv_output_size(w, kw, pl, pr, sw, dw)
    if ho <= 0 or wo <= 0:
        raise ValueError(
            f"kernel {kh}x{kw} (dilation {dh}x{dw}) does not fit the padded input "
            f"{h + pt + pb}x{w + pl + pr}"
        )
    b: np.ndarray | None = None
    if bias is not None:
        b = np.asarray(bias, dtype=dtype).reshape(-1)
        if b.shape != (n_k,):
            raise ValueError(f"bias must have shape ({n_k},), got {np.shape(bias)}")
        if not b.any():
            b = None
    if flip:
        k = k[:, ::-1, ::-1, :]

    geometry = (kh, kw, sh, sw, dh, dw, ho, wo)
    pads = ((pt, pb), (pl, pr))
    if depthwise:
        xp = _pad_hwc(x, pads, pad_mode, pad_value)
        out = _conv_depthwise(xp, k, b, geometry)
    elif kw * c < _CHANNELS_FIRST_BELOW:
        # Channels-first gather: each copy moves whole (strided) image rows.
        xt = _pad_hwc(x, pads, pad_mode, pad_value, channels_first=True)
        out = _conv_im2col_cf(xt, k, b, geometry)
    else:
        xp = _pad_hwc(x, pads, pad_mode, pad_value)
        out = _conv_im2col_cl(xp, k, b, geometry)
    return out if out.dtype == out_dtype else out.astype(out_dtype)


def _pad_hwc(
    x: np.ndarray,
    pads: tuple[Pair, Pair],
    mode: str,
    value: float,
    *,
    channels_first: bool = False,
) -> np.ndarray:
    """Pad the spatial axes of ``x`` (H, W, C); optionally return it as (C, H', W')."""
    if channels_first:
        x = x.transpose(2, 0, 1)
        widths = ((0, 0), pads[0], pads[1])
    else:
        widths = (pads[0], pads[1], (0, 0))
    if not any(pads[0]) and not any(pads[1]):
        return np.ascontiguousarray(x) if channels_first else x
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=value)
    return np.pad(x, widths, mode=mode)  # type: ignore[call-overload]


def _conv_im2col_cl(
    xp: np.ndarray, k: np.ndarray, b: np.ndarray | None, geometry: tuple[int, ...]
) -> np.ndarray:
    """im2col convolution gathering channel-last patches ``(rows, W', kh, kw, C)``."""
    kh, kw, sh, sw, dh, dw, ho, wo = geometry
    n_k, c = k.shape[0], k.shape[3]
    taps = kh * kw * c
    kmat = k.reshape(n_k, taps).T  # (kh*kw*C, N), rows ordered (a, b, c)
    out = np.empty((ho, wo, n_k), dtype=xp.dtype)
    rows = _patch_block_rows(taps, wo, ho, xp.itemsize)
    buf = np.empty(rows * wo * taps, dtype=xp.dtype)
    rs, cs, es = xp.strides
    # windows[i, j, a, b, c] = xp[i*sh + a*dh, j*sw + b*dw, c]; in bounds by
    # the output-size formula.  For dw == 1 the (b, c) axes are one contiguous run.
    windows = as_strided(
        xp,
        shape=(ho, wo, kh, kw, c),
        strides=(sh * rs, sw * cs, dh * rs, dw * cs, es),
        writeable=False,
    )
    for r0 in range(0, ho, rows):
        r = min(rows, ho - r0)
        patches = buf[: r * wo * taps].reshape(r, wo, kh, kw, c)
        np.copyto(patches, windows[r0 : r0 + r])
        block = out[r0 : r0 + r].reshape(r * wo, n_k)
        np.matmul(patches.reshape(r * wo, taps), kmat, out=block)
        if b is not None:
            block += b
    return out


def _conv_im2col_cf(
    xt: np.ndarray, k: np.ndarray, b: np.ndarray | None, geometry: tuple[int, ...]
) -> np.ndarray:
    """im2col convolution gathering channels-first patches ``(kh, kw, C, rows, W')``.

    ``xt`` is the padded input as (C, H, W).  Each copied run is an image row,
    which is much faster than gathering ``kw * C`` element runs when that is
    small (e.g. a single-channel input).
    """
    kh, kw, sh, sw, dh, dw, ho, wo = geometry
    n_k, c = k.shape[0], k.shape[3]
    taps = kh * kw * c
    kmat = k.reshape(n_k, taps).T  # (kh*kw*C, N), rows ordered (a, b, c)
    out = np.empty((ho, wo, n_k), dtype=xt.dtype)
    rows = _patch_block_rows(taps, wo, ho, xt.itemsize)
    buf = np.empty(rows * wo * taps, dtype=xt.dtype)
    cs, rs, es = xt.strides
    # windows[a, b, c, i, j] = xt[c, i*sh + a*dh, j*sw + b*dw]
    windows = as_strided(
        xt,
        shape=(kh, kw, c, ho, wo),
        strides=(dh * rs, dw * es, cs, sh * rs, sw * es),
        writeable=False,
    )
    for r0 in range(0, ho, rows):
        r = min(rows, ho - r0)
        patches = buf[: r * wo * taps].reshape(kh, kw, c, r, wo)
        np.copyto(patches, windows[:, :, :, r0 : r0 + r])
        block = out[r0 : r0 + r].reshape(r * wo, n_k)
        np.matmul(patches.reshape(taps, r * wo).T, kmat, out=block)
        if b is not None:
            block += b
    return out


def _conv_depthwise(
    xp: np.ndarray, k: np.ndarray, b: np.ndarray | None, geometry: tuple[int, ...]
) -> np.ndarray:
    """Depthwise convolution: every kernel on every channel, kernel-major output."""
    kh, kw, sh, sw, dh, dw, ho, wo = geometry
    n_k, c = k.shape[0], k.shape[3]
    out = np.empty((ho, wo, n_k, c), dtype=xp.dtype)
    rows = _block_rows(wo * n_k * c * xp.itemsize, ho, _ELEMENTWISE_BLOCK_BYTES)
    tmp = np.empty(rows * wo * n_k * c, dtype=xp.dtype)
    bias = None if b is None else b[:, None]  # (N, 1) broadcasts over (N, C)
    for r0 in range(0, ho, rows):
        r = min(rows, ho - r0)
        block = out[r0 : r0 + r]
        scratch = tmp[: r * wo * n_k * c].reshape(r, wo, n_k, c)
        first = True
        for a in range(kh):
            y0 = r0 * sh + a * dh
            src_rows = xp[y0 : y0 + sh * (r - 1) + 1 : sh]
            for bb in range(kw):
                x0 = bb * dw
                tap = src_rows[:, x0 : x0 + sw * (wo - 1) + 1 : sw, None, :]  # (r, W', 1, C)
                if first:
                    np.multiply(tap, k[:, a, bb, :], out=block)
                    first = False
                else:
                    np.multiply(tap, k[:, a, bb, :], out=scratch)
                    block += scratch
        if bias is not None:
            block += bias
    return out.reshape(ho, wo, n_k * c)


# ---------------------------------------------------------------------------
# Pooling


def pool_output_size(n: int, k: int, stride: int, pad: int) -> int:
    """Output length of a pooling along one axis (floor mode).

    Parameters
    ----------
    n : int
        Input length.
    k : int
        Window length.
    stride : int
        Step between windows.
    pad : int
        Padding on each side.

    Returns
    -------
    int
        ``floor((n + 2*pad - k) / stride) + 1``; windows that do not fit are
        dropped.  May be zero or negative when the window does not fit.

    Examples
    --------
    >>> pool_output_size(5, 2, 2, 0)
    2
    """
    return (n + 2 * pad - k) // stride + 1


def _window_counts(n: int, k: int, stride: int, pad: int, out: int) -> np.ndarray:
    """Number of real (unpadded) cells in each of ``out`` windows along one axis."""
    start = np.arange(out) * stride - pad
    return np.clip(np.minimum(start + k, n) - np.maximum(start, 0), 0, None)


def _reduce_taps(a: np.ndarray, k: int, stride: int, n_out: int, axis: int, combine: np.ufunc) -> np.ndarray:
    """``out[i] = combine over t < k of a[i*stride + t]`` along ``axis`` (0 or 1) -> new array."""

    def tap(t: int) -> np.ndarray:
        index = slice(t, t + stride * (n_out - 1) + 1, stride)
        return a[index] if axis == 0 else a[:, index]

    if k == 1:
        return tap(0).copy()
    out = combine(tap(0), tap(1))
    for t in range(2, k):
        combine(out, tap(t), out=out)
    return out


def pool2d(
    x: np.ndarray,
    *,
    mode: Literal["max", "avg", "min"] = "max",
    size: int | Pair = (2, 2),
    stride: int | Pair | None = None,
    padding: int | Pair = (0, 0),
) -> np.ndarray:
    """Max, average or min pooling of each channel, in floor mode.

    Parameters
    ----------
    x : (H, W, C) ndarray
        Input feature maps.
    mode : {'max', 'avg', 'min'}, optional
        Reduction over each window.
    size : int or (int, int), optional
        Window size ``(kh, kw)``.
    stride : int or (int, int), optional
        Step between windows; defaults to ``size``.
    padding : int or (int, int), optional
        ``(ph, pw)`` cells added on both sides of each axis.  Padded cells
        never win a max or min and are not counted in an average, which is
        the mean of the real cells in the window.

    Returns
    -------
    out : (H', W', C) ndarray
        ``H' = pool_output_size(H, kh, sh, ph)`` and likewise for ``W'``;
        windows that do not fit are dropped, never zero-filled.  Same dtype as
        ``x`` (average pooling of non-float input gives float64).  A window
        made only of padding (possible only when ``pad >= size``) gives 0.

    Raises
    ------
    ValueError
        For an unknown mode or a window that does not fit.
    """
    a = np.asarray(x)
    _check_hwc(a)
    if mode not in ("max", "avg", "min"):
        raise ValueError(f"unknown pool mode {mode!r}; expected 'max', 'avg' or 'min'")
    if mode == "avg":
        a = _float_array(a)
    kh, kw = _pair(size, "size", 1)
    sh, sw = _pair(size if stride is None else stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    h, w, c = a.shape
    ho = pool_output_size(h, kh, sh, ph)
    wo = pool_output_size(w, kw, sw, pw)
    if ho <= 0 or wo <= 0:
        raise ValueError(f"pool window {kh}x{kw} does not fit the padded input {h + 2 * ph}x{w + 2 * pw}")

    if ph or pw:
        if mode == "avg":
            fill: float | int = 0
        elif a.dtype.kind == "f":
            fill = -np.inf if mode == "max" else np.inf
        elif a.dtype.kind == "b":
            fill = mode == "min"
        else:
            info = np.iinfo(a.dtype)
            fill = info.min if mode == "max" else info.max
        ap = np.pad(a, ((ph, ph), (pw, pw), (0, 0)), mode="constant", constant_values=fill)
    else:
        ap = a

    # Separable reduction: over the window's rows first (kh passes over whole,
    # contiguous image rows), then over its columns (kw passes), which is both
    # fewer operations and faster memory access than kh*kw 2-D taps.
    combine: np.ufunc
    if mode == "max":
        combine = np.maximum
    elif mode == "min":
        combine = np.minimum
    else:
        combine = np.add
    col_reduced = _reduce_taps(ap, kh, sh, ho, 0, combine)
    out = _reduce_taps(col_reduced, kw, sw, wo, 1, combine)

    if ph or pw:
        counts_h = _window_counts(h, kh, sh, ph, ho)
        counts_w = _window_counts(w, kw, sw, pw, wo)
        counts = (counts_h[:, None] * counts_w[None, :])[:, :, None]
        if mode == "avg":
            out /= np.maximum(counts, 1).astype(out.dtype)
        elif not counts.all():
            out[np.broadcast_to(counts == 0, out.shape)] = 0
    elif mode == "avg":
        out /= out.dtype.type(kh * kw)
    return out


def global_pool(x: np.ndarray, mode: Literal["avg", "max"] = "avg") -> np.ndarray:
    """Reduce each channel to one value.

    Parameters
    ----------
    x : (H, W, C) ndarray
        Input feature maps.
    mode : {'avg', 'max'}, optional
        Mean or maximum over all pixels.

    Returns
    -------
    out : (1, 1, C) ndarray
        Same dtype as ``x`` (the mean is accumulated in float64).
    """
    a = _float_array(x)
    _check_hwc(a)
    if mode == "avg":
        return a.mean(axis=(0, 1), keepdims=True, dtype=np.float64).astype(a.dtype)
    if mode == "max":
        return a.max(axis=(0, 1), keepdims=True)
    raise ValueError(f"unknown global_pool mode {mode!r}; expected 'avg' or 'max'")


# ---------------------------------------------------------------------------
# Elementwise activations


def relu(x: np.ndarray) -> np.ndarray:
    """Rectified linear unit ``max(x, 0)``.

    Parameters
    ----------
    x : ndarray
        Any shape, typically (H, W, C).

    Returns
    -------
    ndarray
        Same shape and dtype as ``x``.
    """
    a = _float_array(x)
    return np.maximum(a, a.dtype.type(0))


def leaky_relu(x: np.ndarray, slope: float = 0.01) -> np.ndarray:
    """Leaky ReLU: ``x`` where positive, ``slope * x`` elsewhere.

    Parameters
    ----------
    x : ndarray
        Any shape, typically (H, W, C).
    slope : float, optional
        Slope for negative inputs.

    Returns
    -------
    ndarray
        Same shape and dtype as ``x``.
    """
    a = _float_array(x)
    return np.where(a > 0, a, a * a.dtype.type(slope))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-x))``, without overflow.

    Parameters
    ----------
    x : ndarray
        Any shape, typically (H, W, C).

    Returns
    -------
    ndarray
        Same shape and dtype as ``x``, in [0, 1].  Large ``|x|`` gives exactly
        0 or 1 and no floating-point warning.
    """
    a = _float_array(x)
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(a))  # in (0, 1]: never overflows
    one = a.dtype.type(1)
    denom = one + e
    return np.where(a >= 0, one / denom, e / denom)


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent.

    Parameters
    ----------
    x : ndarray
        Any shape, typically (H, W, C).

    Returns
    -------
    ndarray
        Same shape and dtype as ``x``.
    """
    return np.tanh(_float_array(x))


def absolute(x: np.ndarray) -> np.ndarray:
    """Absolute value.

    Parameters
    ----------
    x : ndarray
        Any shape, typically (H, W, C).

    Returns
    -------
    ndarray
        Same shape and dtype as ``x``.
    """
    return np.abs(_float_array(x))


# ---------------------------------------------------------------------------
# Normalisation


def lrn(
    x: np.ndarray, *, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0
) -> np.ndarray:
    """Local response normalisation across channels (AlexNet style).

    Parameters
    ----------
    x : (H, W, C) ndarray
        Input feature maps.
    size : int, optional
        Number of channels in the window.
    alpha, beta, k : float, optional
        Scale, exponent and additive constant.

    Returns
    -------
    out : (H, W, C) ndarray
        Same dtype as ``x``::

            out[..., c] = x[..., c] / (k + alpha/size * sum_j x[..., j]**2) ** beta

        with ``j`` from ``c - size//2`` to ``c + (size-1)//2``, clipped to the
        channels that exist.  The window sums come from a cumulative sum over
        channels accumulated in float64.
    """
    a = _float_array(x)
    _check_hwc(a)
    if size < 1:
        raise ValueError(f"lrn size must be at least 1, got {size}")
    c = a.shape[2]
    csum = np.zeros(a.shape[:2] + (c + 1,), dtype=np.float64)
    np.cumsum(np.square(a, dtype=np.float64), axis=2, out=csum[:, :, 1:])
    ch = np.arange(c)
    lo = np.maximum(ch - size // 2, 0)
    hi = np.minimum(ch + (size - 1) // 2, c - 1) + 1
    window = csum[:, :, hi] - csum[:, :, lo]
    denom = (k + (alpha / size) * window) ** beta
    return (a / denom).astype(a.dtype, copy=False)


def standardize(x: np.ndarray) -> np.ndarray:
    """Per-channel standardisation ``(x - mean) / sqrt(var + 1e-5)``.

    Parameters
    ----------
    x : (H, W, C) ndarray
        Input feature maps.

    Returns
    -------
    out : (H, W, C) ndarray
        Same dtype as ``x``; mean and (population) variance are taken over
        the pixels of each channel, accumulated in float64.
    """
    a = _float_array(x)
    _check_hwc(a)
    mean = a.mean(axis=(0, 1), dtype=np.float64)
    var = a.var(axis=(0, 1), dtype=np.float64)
    scale = 1.0 / np.sqrt(var + 1e-5)
    return ((a - mean.astype(a.dtype)) * scale.astype(a.dtype)).astype(a.dtype, copy=False)


def minmax(x: np.ndarray) -> np.ndarray:
    """Map each channel's min..max range linearly to 0..1.

    Parameters
    ----------
    x : (H, W, C) ndarray
        Input feature maps.

    Returns
    -------
    out : (H, W, C) ndarray
        Same dtype as ``x``, in [0, 1]; a constant channel becomes all 0.
    """
    a = _float_array(x)
    _check_hwc(a)
    lo = a.min(axis=(0, 1))
    span = a.max(axis=(0, 1)) - lo
    span = np.where(span > 0, span, a.dtype.type(1))
    return (a - lo) / span


# ---------------------------------------------------------------------------
# Dense and softmax


def dense(x: np.ndarray, weights: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """Fully connected layer on the flattened input.

    Parameters
    ----------
    x : (H, W, C) ndarray
        Input, flattened in (H, W, C) row-major order to ``H*W*C`` values.
    weights : (units, H*W*C) array_like
        Weight matrix; cast to the dtype of ``x``.
    bias : (units,) array_like, optional
        Added to the result.

    Returns
    -------
    out : (1, 1, units) ndarray
        ``weights @ x.ravel() + bias``, same dtype as ``x``.
    """
    a = _float_array(x)
    wts = np.asarray(weights, dtype=a.dtype)
    if wts.ndim != 2 or wts.shape[1] != a.size:
        raise ValueError(f"weights must have shape (units, {a.size}), got {wts.shape}")
    y = wts @ a.reshape(-1)
    if bias is not None:
        bvec = np.asarray(bias, dtype=a.dtype).reshape(-1)
        if bvec.shape != (wts.shape[0],):
            raise ValueError(f"bias must have shape ({wts.shape[0]},), got {np.shape(bias)}")
        y = y + bvec
    return y.reshape(1, 1, -1)


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (channels), numerically stable.

    Parameters
    ----------
    x : (..., C) ndarray
        Typically (H, W, C) or the (1, 1, units) output of :func:`dense`.

    Returns
    -------
    ndarray
        Same shape and dtype as ``x``; non-negative and summing to 1 over the
        last axis.  The maximum is subtracted first, so large inputs do not
        overflow.
    """
    a = _float_array(x)
    shifted = a - a.max(axis=-1, keepdims=True)
    with np.errstate(under="ignore"):
        e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)
