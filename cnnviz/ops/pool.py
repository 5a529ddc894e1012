"""Pooling of channel-last feature maps: windows (floor mode, padding never wins) and global.

Separable: a window's rows are reduced first (passes over whole, contiguous
image rows), then its columns, which is both fewer operations and faster
memory access than ``kh·kw`` 2-D taps.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .common import Pair, as_pair, check_hwc, float_array

__all__ = ["pool_output_size", "pool2d", "global_pool"]


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
    check_hwc(a)
    if mode not in ("max", "avg", "min"):
        raise ValueError(f"unknown pool mode {mode!r}; expected 'max', 'avg' or 'min'")
    if mode == "avg":
        a = float_array(a)
    kh, kw = as_pair(size, "size", 1)
    sh, sw = as_pair(size if stride is None else stride, "stride", 1)
    ph, pw = as_pair(padding, "padding", 0)
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
    a = float_array(x)
    check_hwc(a)
    if mode == "avg":
        return a.mean(axis=(0, 1), keepdims=True, dtype=np.float64).astype(a.dtype)
    if mode == "max":
        return a.max(axis=(0, 1), keepdims=True)
    raise ValueError(f"unknown global_pool mode {mode!r}; expected 'avg' or 'max'")
