"""Fully connected layers on flattened maps, and softmax over channels."""

from __future__ import annotations

import numpy as np

from .common import float_array

__all__ = ["dense", "softmax"]


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
    a = float_array(x)
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
    a = float_array(x)
    shifted = a - a.max(axis=-1, keepdims=True)
    with np.errstate(under="ignore"):
        e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)
