"""Elementwise activations: any shape in, the same shape and floating dtype out."""

from __future__ import annotations

import numpy as np

from .common import float_array

__all__ = ["relu", "leaky_relu", "sigmoid", "tanh", "absolute", "clip", "hardsigmoid", "hardswish"]


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
    a = float_array(x)
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
    a = float_array(x)
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
    a = float_array(x)
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
    return np.tanh(float_array(x))


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
    return np.abs(float_array(x))


def clip(x: np.ndarray, low: float | None = None, high: float | None = None, *,
         out: np.ndarray | None = None) -> np.ndarray:
    """Clamp to ``low .. high`` (either may be None: no bound there); ReLU6 is ``clip(x, 0, 6)``.

    Parameters
    ----------
    x : ndarray
        Any shape, typically (H, W, C).
    low, high : float or None
    out : ndarray, optional
        Where to write (may be ``x``).

    Returns
    -------
    ndarray
        Same shape and dtype as ``x``: ``min(max(x, low), high)``, as ONNX ``Clip``.
    """
    a = float_array(x)
    lo = -np.inf if low is None else low
    hi = np.inf if high is None else high
    return np.clip(a, a.dtype.type(lo), a.dtype.type(hi), out=out)


def hardsigmoid(x: np.ndarray, alpha: float = 0.2, beta: float = 0.5, *,
                out: np.ndarray | None = None) -> np.ndarray:
    """ONNX ``HardSigmoid``: ``max(0, min(1, alpha · x + beta))``.

    Parameters
    ----------
    x : ndarray
    alpha, beta : float
    out : ndarray, optional
        Where to write (may be ``x``).

    Returns
    -------
    ndarray
        Same shape and dtype as ``x``, in [0, 1].
    """
    a = float_array(x)
    t = a.dtype.type
    y = np.multiply(a, t(alpha), out=out)
    y += t(beta)
    return np.clip(y, t(0), t(1), out=y)


def hardswish(x: np.ndarray) -> np.ndarray:
    """ONNX ``HardSwish``: ``x · hardsigmoid(x, 1/6, 0.5)`` (MobileNetV3).

    Parameters
    ----------
    x : ndarray

    Returns
    -------
    ndarray
        Same shape and dtype as ``x``.
    """
    a = float_array(x)
    return a * hardsigmoid(a, 1.0 / 6.0, 0.5)
