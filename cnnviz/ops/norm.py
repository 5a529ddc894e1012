"""Normalisation of channel-last feature maps: LRN across channels, per-channel standardise and min-max."""

from __future__ import annotations

import numpy as np

from .common import check_hwc, float_array

__all__ = ["lrn", "standardize", "minmax", "batchnorm_affine", "affine"]


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
    a = float_array(x)
    check_hwc(a)
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
    a = float_array(x)
    check_hwc(a)
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
    a = float_array(x)
    check_hwc(a)
    lo = a.min(axis=(0, 1))
    span = a.max(axis=(0, 1)) - lo
    span = np.where(span > 0, span, a.dtype.type(1))
    return (a - lo) / span


def batchnorm_affine(mean: np.ndarray, var: np.ndarray, scale: np.ndarray, shift: np.ndarray,
                     eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """Inference-mode batch normalization folded into one multiply and one add per channel.

    ``scale · (x − mean) / sqrt(var + eps) + shift`` is ``x · a + b`` with
    ``a = scale / sqrt(var + eps)`` and ``b = shift − mean · a``, computed in
    float64.

    Parameters
    ----------
    mean, var, scale, shift : (C,) array_like
    eps : float

    Returns
    -------
    a, b : (C,) float64 ndarrays
    """
    m, v, s, t = (np.asarray(q, np.float64) for q in (mean, var, scale, shift))
    a = s / np.sqrt(v + eps)
    return a, t - m * a


def affine(x: np.ndarray, a: np.ndarray, b: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """Per-channel ``x · a + b`` of (H, W, C) maps (batchnorm, once folded), in the dtype of ``x``.

    Parameters
    ----------
    x : (H, W, C) ndarray
    a, b : (C,) array_like
    out : ndarray, optional
        Where to write (may be ``x``).

    Returns
    -------
    (H, W, C) ndarray
    """
    v = float_array(x)
    check_hwc(v)
    y = np.multiply(v, np.asarray(a, v.dtype), out=out)
    y += np.asarray(b, v.dtype)
    return y
