"""Seeded random kernel banks and dense weight matrices.

* :func:`random_kernels` -> ``(count, k_h, k_w, C)``.
* :func:`random_matrix` -> ``(units, inputs)``.

Both draw from a :class:`numpy.random.Generator` the caller seeds, so the
same seed gives the same arrays; every user mistake is a
:class:`~cnnviz.errors.CnnvizError` whose path is relative to the ``random``
mapping (``("count",)``, ``("dist",)``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import CnnvizError, did_you_mean
from ..limits import MAX_KERNELS, as_int, as_mapping, as_number, as_size, check_kernel_values, is_int, show
from .kernels import unknown_parameter

__all__ = ["DISTRIBUTIONS", "random_kernels", "random_matrix"]

#: Distribution name -> its parameters and their defaults.
DISTRIBUTIONS: dict[str, dict[str, float]] = {
    "uniform": {"low": 0.0, "high": 1.0},
    "normal": {"mean": 0.0, "std": 1.0},
    "he": {},
    "glorot": {},
}

_DIST_PARAMS = [p for params in DISTRIBUTIONS.values() for p in params]


def _parse_random(
    spec: Mapping[str, Any], common: Sequence[str], owner: str
) -> tuple[str, dict[str, float]]:
    """Check keys (``common`` + ``dist`` + the dist's parameters); return dist and its params."""
    mapping = as_mapping(spec, ())
    known = [*common, "dist", *_DIST_PARAMS]
    for key in mapping:
        if isinstance(key, str) and key in ("count", "size") and key not in common:
            raise CnnvizError(
                f"'{key}' does not apply to dense weights, whose shape is (units, inputs)", (key,)
            )
        if not isinstance(key, str) or key not in known:
            raise unknown_parameter(key, owner, known)
    dist_value = mapping.get("dist", "uniform")
    if not isinstance(dist_value, str):
        raise CnnvizError(
            "must be one of " + ", ".join(DISTRIBUTIONS) + f", not {show(dist_value)}", ("dist",)
        )
    if dist_value not in DISTRIBUTIONS:
        raise CnnvizError(
            f"unknown dist '{dist_value}'" + did_you_mean(dist_value, DISTRIBUTIONS), ("dist",)
        )
    allowed = DISTRIBUTIONS[dist_value]
    for key in mapping:
        if key in _DIST_PARAMS and key not in allowed:
            takes = f"it takes {', '.join(allowed)}" if allowed else "it takes no parameters"
            raise CnnvizError(
                f"'{key}' does not apply to dist '{dist_value}' ({takes})", (key,), at_key=True
            )
    values: dict[str, float] = {}
    for key, default in allowed.items():
        values[key] = as_number(mapping[key], (key,)) if key in mapping else default
    if dist_value == "uniform" and values["high"] < values["low"]:
        if "high" in mapping:
            low_text = show(mapping.get("low", 0))
            raise CnnvizError(
                f"must be at least low ({low_text}), not {show(mapping['high'])}", ("high",)
            )
        raise CnnvizError(f"must be at most high (1), not {show(mapping['low'])}", ("low",))
    if dist_value == "normal" and values["std"] < 0:
        raise CnnvizError(f"must be at least 0, not {show(mapping['std'])}", ("std",))
    return dist_value, values


def _draw(
    dist: str,
    values: Mapping[str, float],
    shape: tuple[int, ...],
    fan_in: int,
    fan_out: int,
    rng: np.random.Generator,
) -> np.ndarray:
    if dist == "uniform":
        out = rng.uniform(values["low"], values["high"], size=shape)
    elif dist == "normal":
        out = rng.normal(values["mean"], values["std"], size=shape)
    elif dist == "he":
        out = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
    else:  # glorot (uniform)
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        out = rng.uniform(-bound, bound, size=shape)
    return np.asarray(out, dtype=np.float64)


def random_kernels(
    spec: Mapping[str, Any], in_channels: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw a bank of random kernels spanning all input channels.

    Parameters
    ----------
    spec : mapping
        The mapping under ``random:`` (``None`` counts as empty):
        ``count`` [1] (1..MAX_KERNELS), ``size`` [3] (int or ``[h, w]``),
        ``dist`` [uniform] and the dist's parameters: ``uniform`` (``low``
        [0], ``high`` [1]), ``normal`` (``mean`` [0], ``std`` [1]), ``he``
        (normal, mean 0, std ``sqrt(2 / fan_in)``), ``glorot`` (uniform on
        ``+-sqrt(6 / (fan_in + fan_out))``), with ``fan_in = k_h*k_w*C`` and
        ``fan_out = k_h*k_w*count``.  A parameter of another dist is an error.
    in_channels : int
        C, the input's channel count (>= 1).
    rng : numpy.random.Generator
        Source of randomness; the same generator state gives the same kernels.

    Returns
    -------
    ndarray, shape (count, k_h, k_w, in_channels), float64

    Raises
    ------
    CnnvizError
        With a path relative to the ``random`` mapping, e.g. ``("count",)``.
    """
    if not is_int(in_channels) or in_channels < 1:
        raise ValueError(f"in_channels must be a positive integer, not {in_channels!r}")
    dist, values = _parse_random(spec, ("count", "size"), "random")
    mapping = as_mapping(spec, ())
    count = as_int(mapping.get("count", 1), ("count",), 1, MAX_KERNELS)
    kh, kw = as_size(mapping.get("size", 3), ("size",))
    c = int(in_channels)
    check_kernel_values(count, kh, kw, c)
    return _draw(dist, values, (count, kh, kw, c), kh * kw * c, kh * kw * count, rng)


def random_matrix(
    spec: Mapping[str, Any], shape: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """Draw a random dense weight matrix.

    Parameters
    ----------
    spec : mapping
        The mapping under ``random:``: ``dist`` and its parameters as in
        :func:`random_kernels`; ``count`` and ``size`` are errors here.
    shape : (int, int)
        ``(units, inputs)``; ``fan_in = inputs``, ``fan_out = units``.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (units, inputs), float64
    """
    units, inputs = (int(shape[0]), int(shape[1]))
    if units < 1 or inputs < 1:
        raise ValueError(f"shape must be two positive integers, not {shape!r}")
    dist, values = _parse_random(spec, (), "random")
    return _draw(dist, values, (units, inputs), inputs, units, rng)
