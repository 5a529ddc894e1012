"""2-D convolution (cross-correlation) of channel-last feature maps, as block-wise im2col.

:func:`conv2d` takes ``(H, W, C)`` maps and ``(N, kh, kw, C)`` kernels and
gives ``(H', W', N)`` maps (``N·C`` when depthwise).  Nothing loops over
pixels in Python: loops run over blocks of output rows (each one strided
gather and one BLAS product written straight into the output) or, for
depthwise kernels, over kernel taps.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .common import Pair, as_pair, check_hwc, compute_dtype, float_array

__all__ = [
    "PATCH_BLOCK_BYTES",
    "PATCH_ROWS_MIN",
    "PATCH_ROWS_MAX",
    "ELEMENTWISE_BLOCK_BYTES",
    "CHANNELS_FIRST_BELOW",
    "conv_padding",
    "conv_output_size",
    "conv2d",
    "patch_block_rows",
]

PadSpec = str | int | tuple[int, int] | tuple[Pair, Pair]
PadMode = Literal["constant", "reflect", "symmetric", "edge", "wrap"]

#: Target size in bytes of the im2col patch matrix built per block of output
#: rows, and the range its number of rows (output pixels) is kept in.  About
#: 3 MB and 2k..32k rows keeps the gather in cache, each matrix product large
#: enough for BLAS to run near its peak, and the Python overhead per block
#: negligible (measured on the benchmark stack).
PATCH_BLOCK_BYTES = 3 << 20
PATCH_ROWS_MIN = 2048
PATCH_ROWS_MAX = 32768

#: Size in bytes of the output block accumulated per step in the elementwise
#: (tap-loop) paths: depthwise convolution.
ELEMENTWISE_BLOCK_BYTES = 1 << 20

#: Below this many contiguous elements per kernel row (``kw * C``) the patch
#: matrix is gathered channels-first (runs of a whole image row per copy)
#: instead of channel-last (runs of ``kw * C``).  Channel-last gives a slightly
#: faster matrix product; channels-first a much faster gather for few channels.
#: Measured (medians of 7): 1024²×1 → 16×3×3: 12 ms channels-first vs 28 ms
#: channel-last; 511²×16 → 32×3×3 (kw·C = 48): 25 vs 28 ms and 1023²×16 → 32×3×3:
#: 110 vs 151 ms in favour of channel-last, so the switch sits at 16.
CHANNELS_FIRST_BELOW = 16

_PAD_MODES = ("constant", "reflect", "symmetric", "edge", "wrap")


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
    kh, kw = as_pair(kernel_hw, "kernel_hw", 1)
    dh, dw = as_pair(dilation, "dilation", 1)
    if isinstance(padding, str):
        th, tw = dh * (kh - 1), dw * (kw - 1)
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "same":
            return ((th // 2, th - th // 2), (tw // 2, tw - tw // 2))
        if padding == "full":
            return ((th, th), (tw, tw))
        raise ValueError(f"unknown padding {padding!r}; expected 'valid', 'same' or 'full'")
    ph, pw = as_pair(padding, "padding", 0)
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
    tb = as_pair(first, "padding", 0)
    lr = as_pair(second, "padding", 0)
    return (tb, lr)


def _block_rows(bytes_per_row: int, total_rows: int, target: int) -> int:
    """Number of output rows per block so that a block is about ``target`` bytes."""
    return int(max(1, min(total_rows, target // max(1, bytes_per_row))))


def patch_block_rows(taps: int, wo: int, ho: int, itemsize: int) -> int:
    """Output rows per im2col block: about ``PATCH_BLOCK_BYTES`` of patches,
    with the patch count clamped to ``[PATCH_ROWS_MIN, PATCH_ROWS_MAX]``."""
    pixels = PATCH_BLOCK_BYTES // max(1, taps * itemsize)
    pixels = min(max(pixels, PATCH_ROWS_MIN), PATCH_ROWS_MAX)
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
    groups: int = 1,
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
    groups : int, optional
        ONNX / PyTorch ``group``: the C input channels and the N kernels are
        split into ``groups`` equal parts, kernel part g seeing channel part
        g only; kernels are then (N, kh, kw, C / groups).

    Returns
    -------
    out : (H', W', N) ndarray, or (H', W', N*C) ndarray if ``depthwise``
        Same dtype as ``x``.  With ``xp`` the padded input and ``K`` the
        (possibly flipped) kernels::

            out[i, j, n] = sum_{a,b,c} xp[i*sh + a*dh, j*sw + b*dw, c] * K[n, a, b, c] + bias[n]

        and, when ``depthwise``, in kernel-major channel order::

            out[i, j, n*C + c] = sum_{a,b} xp[i*sh + a*dh, j*sw + b*dw, c] * K[n, a, b, c] + bias[n]

        and, with ``groups`` g (D = C / g channels and M = N / g kernels a group)::

            out[i, j, n] = sum_{a,b,d} xp[i*sh + a*dh, j*sw + b*dw, (n // M)*D + d] * K[n, a, b, d] + bias[n]

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
    x = float_array(x)
    check_hwc(x)
    out_dtype = x.dtype
    dtype = compute_dtype(out_dtype)
    if x.dtype != dtype:
        x = x.astype(dtype)
    k = np.asarray(kernels, dtype=dtype)
    if k.ndim != 4:
        raise ValueError(f"kernels must have shape (N, kh, kw, C), got {k.shape}")
    n_k, kh, kw, kc = k.shape
    h, w, c = x.shape
    if groups < 1 or c % groups or n_k % groups:
        raise ValueError(f"groups {groups} must divide the {c} channels and the {n_k} kernels")
    if groups > 1 and depthwise:
        raise ValueError("groups and depthwise do not combine")
    if kc * groups != c:
        raise ValueError(f"kernel depth {kc} does not match the input's {c} channels"
                         + (f" in {groups} groups" if groups > 1 else ""))
    if n_k < 1 or kh < 1 or kw < 1:
        raise ValueError(f"empty kernels of shape {k.shape}")
    sh, sw = as_pair(stride, "stride", 1)
    dh, dw = as_pair(dilation, "dilation", 1)
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
    if groups > 1 and kc == 1:
        # one input channel a group (MobileNet's depthwise convs): tap by tap over every map at once
        xp = _pad_hwc(x, pads, pad_mode, pad_value)
        out = _conv_per_channel(xp, k, b, geometry, n_k // groups)
    elif groups > 1:
        out = np.empty((ho, wo, n_k), dtype)
        m = n_k // groups
        for g in range(groups):
            part = conv2d(x[:, :, g * kc:(g + 1) * kc], k[g * m:(g + 1) * m], padding=pads, pad_mode=pad_mode,
                          pad_value=pad_value, stride=(sh, sw), dilation=(dh, dw),
                          bias=None if b is None else b[g * m:(g + 1) * m])
            out[:, :, g * m:(g + 1) * m] = part
    elif depthwise:
        xp = _pad_hwc(x, pads, pad_mode, pad_value)
        out = _conv_depthwise(xp, k, b, geometry)
    elif kh == kw == 1 and not any(pads[0]) and not any(pads[1]):
        out = _conv_pointwise(x, k, b, sh, sw, ho, wo)
    elif kw * c < CHANNELS_FIRST_BELOW:
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
    rows = patch_block_rows(taps, wo, ho, xp.itemsize)
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
    rows = patch_block_rows(taps, wo, ho, xt.itemsize)
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


def _conv_pointwise(x: np.ndarray, k: np.ndarray, b: np.ndarray | None, sh: int, sw: int, ho: int,
                    wo: int) -> np.ndarray:
    """A 1×1 convolution without padding: one matrix product of the (strided) pixels, no patch copy."""
    n_k, c = k.shape[0], k.shape[3]
    xs = x[: (ho - 1) * sh + 1: sh, : (wo - 1) * sw + 1: sw]
    xs = np.ascontiguousarray(xs) if not xs.flags.c_contiguous else xs
    out = np.empty((ho, wo, n_k), dtype=x.dtype)
    np.matmul(xs.reshape(ho * wo, c), k.reshape(n_k, c).T, out=out.reshape(ho * wo, n_k))
    if b is not None:
        out += b
    return out


def _conv_per_channel(
    xp: np.ndarray, k: np.ndarray, b: np.ndarray | None, geometry: tuple[int, ...], per: int
) -> np.ndarray:
    """Grouped convolution with one input channel a group: kernel n sees channel n // per only."""
    kh, kw, sh, sw, dh, dw, ho, wo = geometry
    n_k = k.shape[0]
    src = xp if per == 1 else np.repeat(xp, per, axis=2)  # channel n // per at position n
    out = np.empty((ho, wo, n_k), dtype=xp.dtype)
    rows = _block_rows(wo * n_k * xp.itemsize, ho, ELEMENTWISE_BLOCK_BYTES)
    tmp = np.empty(rows * wo * n_k, dtype=xp.dtype)
    taps = np.ascontiguousarray(k[:, :, :, 0].transpose(1, 2, 0))  # (kh, kw, N): each tap's N weights contiguous
    for r0 in range(0, ho, rows):
        r = min(rows, ho - r0)
        block = out[r0: r0 + r]
        scratch = tmp[: r * wo * n_k].reshape(r, wo, n_k)
        first = True
        for a in range(kh):
            y0 = r0 * sh + a * dh
            src_rows = src[y0: y0 + sh * (r - 1) + 1: sh]
            for bb in range(kw):
                x0 = bb * dw
                tap = src_rows[:, x0: x0 + sw * (wo - 1) + 1: sw, :]  # (r, W', N)
                if first:
                    np.multiply(tap, taps[a, bb], out=block)
                    first = False
                else:
                    np.multiply(tap, taps[a, bb], out=scratch)
                    block += scratch
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
    rows = _block_rows(wo * n_k * c * xp.itemsize, ho, ELEMENTWISE_BLOCK_BYTES)
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
