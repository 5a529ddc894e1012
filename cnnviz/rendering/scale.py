"""Which maps to show and the value each colour stands for: selection by energy, ranges, centring, 8-bit indices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..pipeline import Layer
from .palette import LEVELS

__all__ = ["select_maps", "finite_range", "value_limits", "normalize_maps", "fixed_limits", "run_range",
           "is_vector", "area_average", "Scale", "stage_scale"]


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


def _map_extremes(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each map's min and max of a C-contiguous (H, W, N) array, N >= 2, in two SIMD-friendly passes.

    Reducing the (H·W, N) view over its rows runs an N-wide inner loop, which
    is slow for a few maps (8 maps of 1536²: 120 ms for the min alone); the
    rows are folded into ``k`` rows of ``k·N`` values first (a wide, fast
    reduction), then those.  min and max do not depend on the order, so the
    result is exactly the direct one.
    """
    n = a.shape[2]
    flat = a.reshape(-1, n)
    m = flat.shape[0]
    k = max(1, min(m, 4096 // n))
    body = (m // k) * k
    wide = flat[:body].reshape(body // k, k * n)
    lo = wide.min(axis=0).reshape(k, n).min(axis=0)
    hi = wide.max(axis=0).reshape(k, n).max(axis=0)
    if body < m:
        lo = np.minimum(lo, flat[body:].min(axis=0))
        hi = np.maximum(hi, flat[body:].max(axis=0))
    return lo, hi


def finite_range(a: np.ndarray, axis: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """min and max over ``axis``, ignoring NaN and inf (0, 0 where nothing is finite)."""
    if axis == (0, 1) and a.ndim == 3 and a.flags.c_contiguous and a.size:
        if a.shape[2] >= 2:
            lo, hi = _map_extremes(a)
        else:
            a2 = a.reshape(-1, a.shape[2])  # one map: a plain contiguous reduction
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
    maps: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float, levels: int = LEVELS, *,
    c_lo: int = 0, c_hi: int | None = None, constant: np.ndarray | None = None,
) -> np.ndarray:
    """Scale maps to colour indices.

    Parameters
    ----------
    maps : ndarray (H, W, N)
    lo, hi : float or ndarray (N,)
        Values of the lowest and highest colour used, per map.
    levels : int
        Number of colours.
    c_lo, c_hi : int
        The colour indices ``lo`` and ``hi`` stand for [0, levels - 1]: a
        diverging colormap's upper half is ``c_lo = levels // 2``.
    constant : ndarray (N,) of int, optional
        A colour index per map (-1: none): such maps are drawn in that one colour.

    Returns
    -------
    ndarray (H, W, N) uint8
        ``c_lo + round((v - lo) / (hi - lo) * (c_hi - c_lo))`` clipped to
        ``c_lo .. c_hi``.  A map with ``hi == lo`` gets ``c_lo``, unless
        ``constant`` says otherwise; NaN gets ``c_lo``.
    """
    c_hi = levels - 1 if c_hi is None else c_hi
    lo = np.asarray(lo, np.float64)
    hi = np.asarray(hi, np.float64)
    span = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(span > 0, (c_hi - c_lo) / np.where(span > 0, span, 1.0), 0.0)
    dtype = np.float32 if maps.dtype == np.float32 else np.float64
    lo_d, k_d = lo.astype(dtype), k.astype(dtype)
    out = np.empty(maps.shape, np.uint8)
    h = maps.shape[0]
    # a few MB of rows at a time: no float temporary the size of the whole stage
    rows = max(1, (4 << 20) // max(1, maps[:1].size * np.dtype(dtype).itemsize))
    for r0 in range(0, h, rows):
        x = maps[r0:r0 + rows] - lo_d
        x *= k_d
        x += dtype(c_lo + 0.5)
        np.clip(x, c_lo, c_hi, out=x)
        x[np.isnan(x)] = c_lo
        out[r0:r0 + rows] = x
    if constant is not None and (constant >= 0).any():
        for j in np.flatnonzero(constant >= 0):
            out[:, :, j] = constant[j]
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


#: Bytes of float64 block sums :func:`area_average` builds at a time (they stay in the cache while added to).
_SUM_CHUNK = 1 << 20


def area_average(maps: np.ndarray, factor: int, channels: np.ndarray | None = None) -> np.ndarray:
    """Shrink (H, W, N) maps by ``factor``: each output cell is the mean of its ``factor × factor`` block.

    Blocks at the bottom and right edges that are cut short average the
    cells they have (every row and column counts; none is dropped).  The
    output is (ceil(H / factor), ceil(W / factor), N), in the input's float
    dtype: of the maps ``channels`` only, when given (``maps[:, :, channels]``
    is never made whole).  Each block is summed in float64, cell by cell in
    row-major order, then divided by its cell count.
    """
    if channels is not None and (factor <= 1 or len(channels) < 2):
        maps = maps[:, :, channels]
        channels = None
    if factor <= 1:
        return maps
    h, w, n = maps.shape
    ho, wo = -(-h // factor), -(-w // factor)
    dtype = maps.dtype if maps.dtype.kind == "f" else np.dtype(np.float64)
    cols = np.minimum(factor, w - np.arange(wo) * factor)
    if n < 2:
        # one map: the reduction order of the (ho, f, wo, f) sum below (pairwise along a block's rows) is kept
        padded = np.zeros((ho * factor, wo * factor, n), np.float64)
        padded[:h, :w] = maps
        sums = padded.reshape(ho, factor, wo, factor, n).sum(axis=(1, 3))
        rows = np.minimum(factor, h - np.arange(ho) * factor)
        return (sums / (rows[:, None, None] * cols[None, :, None])).astype(dtype)
    # Several maps: the same sums (each block cell by cell, row-major, in float64) added slice by slice,
    # a band of output rows at a time, without a padded float64 copy of the stage.
    k = n if channels is None else len(channels)
    out = np.empty((ho, wo, k), dtype)
    band = max(1, _SUM_CHUNK // max(1, wo * k * 8))
    for r0 in range(0, ho, band):
        r1 = min(ho, r0 + band)
        src = maps[r0 * factor:r1 * factor]
        sums = np.zeros((r1 - r0, wo, k), np.float64)
        for i in range(min(factor, src.shape[0])):
            for j in range(min(factor, w)):
                part = src[i::factor, j::factor]
                if channels is not None:
                    part = part[:, :, channels]
                view = sums[:part.shape[0], :part.shape[1]]
                np.add(view, part, out=view)
        rows = np.minimum(factor, h - np.arange(r0, r1) * factor)
        np.divide(sums, rows[:, None, None] * cols[None, :, None], out=sums)
        out[r0:r1] = sums
    return out


@dataclass(frozen=True)
class Scale:
    """How one stage's values become colours, and what its pictures say about it.

    Attributes
    ----------
    lo, hi : ndarray (N,) float64
        The values of the lowest and highest colour used, per map.
    c_lo, c_hi : int
        The colour indices used: the whole colormap, or one half of a
        diverging one (a stage all ≥ 0 uses the centre to the top).
    data_lo, data_hi : ndarray (N,) float64
        Each map's own finite min and max: what its range label says.
    constant : ndarray (N,) int
        A colour index for each map whose values are all equal (within
        ``eps``), else -1.
    mode : {'map', 'layer', 'global', 'fixed'}
    centred : bool
        0 is the colormap's centre.
    half : {'positive', 'negative', None}
    clip : float or None
        The percentile the ranges ignore values beyond.
    eps : float
        Values closer than this are equal (1e-6 of the largest magnitude).
    """

    lo: np.ndarray
    hi: np.ndarray
    c_lo: int
    c_hi: int
    data_lo: np.ndarray
    data_hi: np.ndarray
    constant: np.ndarray
    mode: str
    centred: bool
    half: str | None
    clip: float | None
    eps: float

    @property
    def shared(self) -> bool:
        """One range for every map (a colorbar can give its numbers)."""
        return self.mode != "map"

    def indices(self, maps: np.ndarray, which: np.ndarray | None = None) -> np.ndarray:
        """Colour indices of ``maps`` (H, W, k), the maps ``which`` (k,) of this scale [all]."""
        sel = slice(None) if which is None else which
        return normalize_maps(maps, self.lo[sel], self.hi[sel], c_lo=self.c_lo, c_hi=self.c_hi,
                              constant=self.constant[sel])


def _percentile_range(a: np.ndarray, clip: float, axis: Any) -> tuple[np.ndarray, np.ndarray]:
    import warnings

    f = np.where(np.isfinite(a), a, np.nan) if not np.isfinite(a).all() else a
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanpercentile(f, 100.0 - clip, axis=axis)
        hi = np.nanpercentile(f, clip, axis=axis)
    return np.nan_to_num(np.asarray(lo, np.float64)), np.nan_to_num(np.asarray(hi, np.float64))


def stage_scale(
    maps: np.ndarray,
    normalize: str = "map",
    *,
    center: bool = False,
    global_range: tuple[float, float] | None = None,
    limits: tuple[float, float] | None = None,
    clip: float | None = None,
    reference: float = 0.0,
    levels: int = LEVELS,
) -> Scale:
    """The colour scale of a stage's maps (SPEC §3, "Pictures tell the truth").

    Parameters
    ----------
    maps : ndarray (H, W, N)
    normalize : {'map', 'layer', 'global'}
        ``map``: each map its own range; ``layer``: one range for the stage;
        ``global``: ``global_range``.
    center : bool
        0 at the colormap's centre.  A stage whose values are all ≥ 0 then
        uses the upper half only (0 the centre colour), all ≤ 0 the lower.
    limits : (lo, hi), optional
        A fixed range (shared across images); replaces ``normalize``.
    clip : float, optional
        A percentile such as 99.5: ranges ignore values beyond it (and the
        mirrored one below), so a few extreme cells do not wash out a thin
        edge map.  Colours saturate past it.
    reference : float
        A magnitude besides the maps' own (the stage's input's): values that
        differ by less than 1e-6 of the largest are equal, so float rounding
        (±2e−7 on a flat image) is drawn flat, not as contrast.

    Returns
    -------
    Scale
    """
    n = maps.shape[2]
    dlo, dhi = finite_range(maps, axis=(0, 1))
    dlo, dhi = np.asarray(dlo, np.float64).reshape(n), np.asarray(dhi, np.float64).reshape(n)
    big = float(max(np.max(np.abs(dlo), initial=0.0), np.max(np.abs(dhi), initial=0.0), abs(reference)))
    eps = 1e-6 * big
    mid = levels // 2
    half = None
    if center:
        if (dlo >= -eps).all():
            half = "positive"
        elif (dhi <= eps).all():
            half = "negative"
    if limits is not None:
        mode = "fixed"
        lo, hi = np.full(n, float(limits[0])), np.full(n, float(limits[1]))
    elif normalize == "map":
        mode = "map"
        lo, hi = _percentile_range(maps, clip, (0, 1)) if clip else (dlo.copy(), dhi.copy())
    elif normalize == "layer":
        mode = "layer"
        a, b = _percentile_range(maps, clip, None) if clip else (dlo.min(initial=0.0), dhi.max(initial=0.0))
        lo, hi = np.full(n, float(a)), np.full(n, float(b))
    elif normalize == "global":
        if global_range is None:
            raise ValueError("normalize='global' needs global_range")
        mode = "global"
        lo, hi = np.full(n, float(global_range[0])), np.full(n, float(global_range[1]))
    else:
        raise ValueError(f"normalize must be map, layer or global, not {normalize!r}")
    constant = np.full(n, -1, np.int64)
    flat = (dhi - dlo) <= eps
    if mode == "map" and flat.any():
        # a constant map has no range of its own: it is drawn in the colour its value has on the stage's range
        slo, shi = float(dlo.min()), float(dhi.max())
        lo[flat], hi[flat] = slo, shi
    c_lo, c_hi = 0, levels - 1
    if center:
        m = np.maximum(np.abs(lo), np.abs(hi))
        if half == "positive":
            lo, hi, c_lo = np.zeros(n), m, mid
        elif half == "negative":
            lo, hi, c_hi = -m, np.zeros(n), mid
        else:
            lo, hi = -m, m
    for j in np.flatnonzero(flat | ((hi - lo) <= eps)):
        v = 0.5 * (dlo[j] + dhi[j])
        if center:
            if abs(v) <= eps or hi[j] - lo[j] <= eps:
                constant[j] = mid if abs(v) <= eps else (c_hi if v > 0 else c_lo)
            elif flat[j]:
                constant[j] = int(np.clip(round(c_lo + (v - lo[j]) / (hi[j] - lo[j]) * (c_hi - c_lo)), c_lo, c_hi))
        elif hi[j] - lo[j] <= eps:
            constant[j] = mid  # a degenerate scale has no darker or lighter end: the middle colour
        else:
            constant[j] = int(np.clip(round((v - lo[j]) / (hi[j] - lo[j]) * (levels - 1)), 0, levels - 1))
    return Scale(lo, hi, c_lo, c_hi, dlo, dhi, constant, mode, center, half, clip, eps)
