"""Helpers shared by the array operations: dtypes, shape checks, int pairs.

Every operation in :mod:`cnnviz.ops` preserves the floating dtype of its
input (``float32`` in, ``float32`` out; ``float64`` in, ``float64`` out);
integer or boolean input is computed in ``float64``.  Invalid arguments raise
:class:`ValueError`: they are programming errors, since a user's input is
validated (and worded) before it reaches :mod:`cnnviz.ops`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Pair", "float_array", "compute_dtype", "as_pair", "check_hwc"]

Pair = tuple[int, int]


def float_array(x: np.ndarray) -> np.ndarray:
    """Return ``x`` as an array of a floating dtype (float input kept as is)."""
    a = np.asarray(x)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    return a


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """Dtype used for arithmetic: float16 is computed in float32."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def as_pair(v: int | tuple[int, int] | list[int], name: str, minimum: int) -> Pair:
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


def check_hwc(x: np.ndarray, name: str = "x") -> None:
    if x.ndim != 3:
        raise ValueError(f"{name} must have shape (H, W, C), got {x.shape}")
