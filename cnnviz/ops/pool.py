"""Pooling of channel-last feature maps: windows (floor mode, padding never wins) and global.

Separable: a window's rows are reduced first (passes over whole, contiguous
image rows), then its columns, which is both fewer operations and faster
memory access than ``kh·kw`` 2-D taps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from .common import Pair, as_pair, check_hwc, float_array

__all__ = ["pool_output_size", "pool_pads", "pool2d", "global_pool"]


def _sides(pad: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(pad, (int, np.integer)):
        return int(pad), int(pad)
    a, b = pad
    return int(a), int(b)


def pool_output_size(n: int, k: int, stride: int, pad: int | Sequence[int], ceil: bool = False) -> int:
    """Output length of a pooling along one axis.

    Parameters
    ----------
    n : int
        Input length.
    k : int
        Window length.
    stride : int
        Step between windows.
    pad : int or (before, after)
        Padding on each side (an int: the same on both).
    ceil : bool
        Floor mode (windows that do not fit are dropped) or, with ``ceil``,
        a last window that starts inside the input (or its leading padding)
        and runs past the end is kept (ONNX ``ceil_mode``, PyTorch's rule).

    Returns
    -------
    int
        ``floor((n + before + after - k) / stride) + 1`` (``ceil`` instead of
        floor, less one when that last window would start in the trailing
        padding).  May be zero or negative when the window does not fit.

    Examples
    --------
    >>> pool_output_size(5, 2, 2, 0), pool_output_size(5, 2, 2, 0, ceil=True)
    (2, 3)
    """
    before, after = _sides(pad)
    span = n + before + after - k
    if span < 0:
        return span // stride + 1
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= n + before:
        out -= 1
    return out


def _window_counts(n: int, k: int, stride: int, before: int, after: int, out: int, count_pad: bool) -> np.ndarray:
    """Cells each of ``out`` windows averages over along one axis: the real ones, or with ``count_pad``
    the real and padded ones (never the cells a ceil-mode window runs past the padding)."""
    start = np.arange(out) * stride - before
    lo, hi = (-before, n + after) if count_pad else (0, n)
    return np.clip(np.minimum(start + k, hi) - np.maximum(start, lo), 0, None)


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


PoolPad = int | Pair | tuple[Pair, Pair]


def pool_pads(padding: PoolPad) -> tuple[Pair, Pair]:
    """``p``, ``(ph, pw)`` or ``((top, bottom), (left, right))`` -> ``((top, bottom), (left, right))``."""
    if isinstance(padding, (int, np.integer)):
        return (int(padding), int(padding)), (int(padding), int(padding))
    a, b = padding  # type: ignore[misc]
    if isinstance(a, (int, np.integer)):
        ph, pw = as_pair((a, b), "padding", 0)  # type: ignore[arg-type]
        return (ph, ph), (pw, pw)
    return as_pair(a, "padding", 0), as_pair(b, "padding", 0)


def pool2d(
    x: np.ndarray,
    *,
    mode: Literal["max", "avg", "min"] = "max",
    size: int | Pair = (2, 2),
    stride: int | Pair | None = None,
    padding: PoolPad = (0, 0),
    ceil: bool = False,
    count_pad: bool = False,
) -> np.ndarray:
    """Max, average or min pooling of each channel.

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
    padding : int, (ph, pw) or ((top, bottom), (left, right)), optional
        Cells added around the input.  Padded cells never win a max or min;
        an average is the mean of the real cells in the window.
    ceil : bool, optional
        Keep a last window that starts inside the input but runs past its
        end, counting only the cells inside (ONNX ``ceil_mode``).
    count_pad : bool, optional
        An average divides by the whole window, padding included (ONNX
        ``count_include_pad``; the cells a ceil-mode window runs past the
        padding are never counted).

    Returns
    -------
    out : (H', W', C) ndarray
        ``H' = pool_output_size(H, kh, sh, (top, bottom), ceil)`` and likewise
        for ``W'``; in floor mode windows that do not fit are dropped, never
        zero-filled.  Same dtype as ``x`` (average pooling of non-float input
        gives float64).  A window made only of padding gives 0.

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
    (pt, pb), (pl, pr) = pool_pads(padding)
    h, w, c = a.shape
    ho = pool_output_size(h, kh, sh, (pt, pb), ceil)
    wo = pool_output_size(w, kw, sw, (pl, pr), ceil)
    if ho <= 0 or wo <= 0:
        raise ValueError(f"pool window {kh}x{kw} does not fit the padded input {h + pt + pb}x{w + pl + pr}")
    # a ceil-mode window may run past the padding: pad that far too (those cells never count)
    eh = max(0, (ho - 1) * sh + kh - (h + pt + pb))
    ew = max(0, (wo - 1) * sw + kw - (w + pl + pr))
    padded = bool(pt or pb or pl or pr or eh or ew)
    if padded:
        if mode == "avg":
            fill: float | int = 0
        elif a.dtype.kind == "f":
            fill = -np.inf if mode == "max" else np.inf
        elif a.dtype.kind == "b":
            fill = mode == "min"
        else:
            info = np.iinfo(a.dtype)
            fill = info.min if mode == "max" else info.max
        ap = np.pad(a, ((pt, pb + eh), (pl, pr + ew), (0, 0)), mode="constant", constant_values=fill)
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

    if padded:
        real = (_window_counts(h, kh, sh, pt, pb, ho, False)[:, None]
                * _window_counts(w, kw, sw, pl, pr, wo, False)[None, :])[:, :, None]
        if mode == "avg":
            counts = real if not count_pad else (_window_counts(h, kh, sh, pt, pb, ho, True)[:, None]
                                                 * _window_counts(w, kw, sw, pl, pr, wo, True)[None, :])[:, :, None]
            out /= np.maximum(counts, 1).astype(out.dtype)
        if not real.all():
            out[np.broadcast_to(real == 0, out.shape)] = 0
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
