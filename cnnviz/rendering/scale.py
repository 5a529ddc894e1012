"""Which maps to show and the value each colour stands for: selection by energy, ranges, centring, 8-bit indices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..pipeline import Layer
from .palette import LEVELS

__all__ = ["select_maps", "finite_range", "value_limits", "normalize_maps", "fixed_limits", "run_range",
           "is_vector"]


def is_vector(shape: Sequence[int]) -> bool:
    """Whether an output of ``shape`` (H, W, C) is a vector, drawn as a bar chart (H = W = 1)."""
    return shape[0] == 1 and shape[1] == 1


def select_maps(maps: np.ndarray, max_maps: int) -> np.ndarray:
    """Which maps to show when a stage has more than ``max_maps``.

    Parameters
    ----------
    maps : ndarray (H, W, N)
    max_maps : int

    Returns
    -------
    ndarray of int, shape (min(N, max_maps),)
        Channel indices in ascending (original) order: all of them, or the
        ``max_maps`` with the largest energy (sum of squares); ties go to the
        lower index.
    """
    n = maps.shape[2]
    if n <= max_maps:
        return np.arange(n)
    energy = np.einsum("hwn,hwn->n", maps, maps, dtype=np.float64)
    energy = np.nan_to_num(energy, nan=-1.0, posinf=np.finfo(np.float64).max)
    top = np.argsort(-energy, kind="stable")[:max_maps]
    return np.sort(top)


def finite_range(a: np.ndarray, axis: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """min and max over ``axis``, ignoring NaN and inf (0, 0 where nothing is finite)."""
    if axis == (0, 1) and a.ndim == 3 and a.flags.c_contiguous:
        a2 = a.reshape(-1, a.shape[2])  # reduce over rows of a 2-D view: one pass, vectorised over maps
        lo, hi = a2.min(axis=0), a2.max(axis=0)
    else:
        lo, hi = np.min(a, axis=axis), np.max(a, axis=axis)
    if np.isfinite(lo).all() and np.isfinite(hi).all():  # NaN propagates, inf shows: nothing to mask
        return lo, hi
    import warnings

    f = np.where(np.isfinite(a), a, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        lo, hi = np.nanmin(f, axis=axis), np.nanmax(f, axis=axis)
    return np.nan_to_num(lo), np.nan_to_num(hi)


def value_limits(
    maps: np.ndarray,
    normalize: str = "map",
    *,
    center: bool = False,
    global_range: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The value each map's lowest and highest colour stands for.

    Parameters
    ----------
    maps : ndarray (H, W, N)
    normalize : {'map', 'layer', 'global'}
        ``map``: each map its own min..max; ``layer``: one min..max over all N
        maps; ``global``: ``global_range`` (the min..max over the whole run).
    center : bool
        Make every range symmetric around zero (``-m .. m``, ``m`` the largest
        magnitude), so that 0 maps to the colormap's middle colour.
    global_range : (lo, hi), required for ``global``

    Returns
    -------
    lo, hi : ndarray (N,) float64
        Equal across maps for ``layer`` and ``global``.  Non-finite values
        are ignored.
    """
    n = maps.shape[2]
    if normalize == "map":
        lo, hi = finite_range(maps, axis=(0, 1))
        lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    else:
        a: Any
        b: Any
        if normalize == "layer":
            a, b = finite_range(maps)
        elif normalize == "global":
            if global_range is None:
                raise ValueError("normalize='global' needs global_range")
            a, b = global_range
        else:
            raise ValueError(f"normalize must be map, layer or global, not {normalize!r}")
        lo, hi = np.full(n, float(a)), np.full(n, float(b))
    if center:
        m = np.maximum(np.abs(lo), np.abs(hi))
        lo, hi = -m, m
    return lo, hi


def normalize_maps(
    maps: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float, levels: int = LEVELS
) -> np.ndarray:
    """Scale maps to colour indices.

    Parameters
    ----------
    maps : ndarray (H, W, N)
    lo, hi : float or ndarray (N,)
        Values of the lowest and highest colour, per map.
    levels : int
        Number of colours.

    Returns
    -------
    ndarray (H, W, N) uint8
        ``round((v - lo) / (hi - lo) * (levels - 1))`` clipped to
        ``0 .. levels-1``.  A map with ``hi == lo`` gets index 0 (as
        matplotlib's ``Normalize`` does); NaN gets 0.
    """
    lo = np.asarray(lo, np.float64)
    hi = np.asarray(hi, np.float64)
    span = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(span > 0, (levels - 1) / np.where(span > 0, span, 1.0), 0.0)
    dtype = np.float32 if maps.dtype == np.float32 else np.float64
    lo_d, k_d = lo.astype(dtype), k.astype(dtype)
    out = np.empty(maps.shape, np.uint8)
    h = maps.shape[0]
    # a few MB of rows at a time: no float temporary the size of the whole stage
    rows = max(1, (4 << 20) // max(1, maps[:1].size * np.dtype(dtype).itemsize))
    for r0 in range(0, h, rows):
        x = maps[r0:r0 + rows] - lo_d
        x *= k_d
        x += dtype(0.5)
        np.clip(x, 0, levels - 1, out=x)
        with np.errstate(invalid="ignore"):
            out[r0:r0 + rows] = x
    return out


def fixed_limits(rng: Sequence[float], centred: bool) -> tuple[float, float]:
    """A fixed colour range ``(lo, hi)`` as drawn: symmetric around zero when ``centred``.

    >>> fixed_limits((-1.0, 3.0), True), fixed_limits((-1.0, 3.0), False)
    ((-3.0, 3.0), (-1.0, 3.0))
    """
    lo, hi = float(rng[0]), float(rng[1])
    if centred:
        m = max(abs(lo), abs(hi))
        return -m, m
    return lo, hi


def run_range(layers: Iterable[Layer]) -> tuple[float, float] | None:
    """The (min, max) over every stage drawn as a grid (``normalize: global``); vectors are left out."""
    ranges = [finite_range(la.output) for la in layers if not is_vector(la.output.shape)]
    if not ranges:
        return None
    return float(min(r[0] for r in ranges)), float(max(r[1] for r in ranges))
