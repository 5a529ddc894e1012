"""A conv stage's ``filters:`` list: inline kernels, presets, seeded random banks, files.

Validating a config turns each entry into an :data:`FilterEntry` (inline,
preset and file kernels are built and checked then); planning turns the list
into one (N, kh, kw, C) array for the input's channel count
(:func:`resolve_kernels`), drawing the random kernels from the config's seed,
the stage's position and the entry's position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CnnvizError, ConfigErrors, KeyPath, did_you_mean
from ..io.arrays import ConfigFiles
from ..limits import MAX_KERNEL_SIDE, MAX_KERNELS, integer, number_or_list, pair, string, wrong
from ..ops.kernels import preset_kernels, preset_labels
from ..ops.random_kernels import random_kernels
from .base import PlanContext, StageConfig

__all__ = [
    "InlineKernel",
    "FixedKernels",
    "RandomKernels",
    "FilterEntry",
    "filter_entry",
    "filters_list",
    "resolve_kernels",
    "entry_labels",
    "per_channel",
]


@dataclass(frozen=True)
class InlineKernel:
    """A kernel written out in the config: (kh, kw) or (kh, kw, C), float64."""

    array: np.ndarray
    path: KeyPath


@dataclass(frozen=True)
class FixedKernels:
    """Kernels from a preset or a file: (N, kh, kw) or (N, kh, kw, C), float64."""

    array: np.ndarray
    path: KeyPath
    origin: str  # "preset sobel_x", or the file's path
    params: Mapping[str, Any] | None = None  # a preset's parameters as written
    cast: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def as_dtype(self, dtype: np.dtype) -> np.ndarray:
        """The kernels in ``dtype``, converted once and kept (read-only: every plan shares them)."""
        key = np.dtype(dtype).str
        if key not in self.cast:
            arr = np.ascontiguousarray(self.array, dtype=dtype)
            arr = arr.copy() if arr is self.array else arr
            arr.flags.writeable = False
            self.cast[key] = arr
        return self.cast[key]


@dataclass(frozen=True)
class RandomKernels:
    """``count`` random kernels spanning the input's channels, drawn at plan time."""

    spec: Mapping[str, Any]
    count: int
    size: tuple[int, int]
    path: KeyPath
    entry: int  # position in the stage's filter list: part of the seed


FilterEntry = InlineKernel | FixedKernels | RandomKernels

_ENTRY_HELP = "a 2-D or 3-D list of numbers, or a mapping with 'preset', 'random' or 'file'"


def _inline_kernel(v: list, path: KeyPath) -> InlineKernel:
    try:
        arr = np.array(v, dtype=np.float64)
    except (ValueError, TypeError):
        raise CnnvizError("an inline kernel must be a rectangular list of rows of numbers", path) from None
    if arr.dtype == object or arr.ndim not in (2, 3) or 0 in arr.shape:
        raise CnnvizError(
            "an inline kernel must be a non-empty 2-D (kh × kw) or 3-D (kh × kw × C) list of numbers", path
        )
    if any(isinstance(x, bool) for x in np.array(v, dtype=object).ravel()):
        raise CnnvizError("an inline kernel must hold numbers, not true/false", path)
    if not np.isfinite(arr).all():
        raise CnnvizError("kernel contains NaN or inf", path)
    if max(arr.shape[:2]) > MAX_KERNEL_SIDE:
        raise CnnvizError(f"a kernel side must be at most {MAX_KERNEL_SIDE}", path)
    return InlineKernel(arr, path)


def filter_entry(v: Any, path: KeyPath, index: int, files: ConfigFiles) -> FilterEntry:
    """One entry of a ``filters:`` list at ``path`` (position ``index``), its files read through ``files``."""
    if isinstance(v, list):
        return _inline_kernel(v, path)
    if not isinstance(v, dict):
        raise wrong(_ENTRY_HELP, v, path)
    kinds = [k for k in ("preset", "random", "file") if k in v]
    if len(kinds) != 1:
        if kinds:
            raise CnnvizError(
                f"a filter entry takes one of 'preset', 'random' or 'file', not {' and '.join(kinds)}", path)
        key = next(iter(v), "")
        raise CnnvizError(
            f"unknown filter entry '{key}'{did_you_mean(key, ('preset', 'random', 'file'))}: expected {_ENTRY_HELP}",
            path + ((key,) if key else ()),
            at_key=True,
        )
    kind = kinds[0]
    if kind == "preset":
        name = v["preset"]
        if not isinstance(name, str):
            raise wrong("a preset name", name, path + ("preset",))
        params = {k: x for k, x in v.items() if k != "preset"}
        try:
            arr = preset_kernels(name, params)
        except CnnvizError as err:
            raise err.under(path) from None
        return FixedKernels(arr, path, f"preset {name}", params)
    if kind == "random":
        extra = [k for k in v if k != "random"]
        if extra:
            raise CnnvizError(f"unknown key '{extra[0]}' beside 'random' (its settings go under 'random:')",
                              path + (extra[0],), at_key=True)
        spec = v["random"] if v["random"] is not None else {}
        if not isinstance(spec, dict):
            raise wrong("a mapping of random settings", spec, path + ("random",))
        rpath = path + ("random",)
        count = integer(1, MAX_KERNELS)(spec.get("count", 1), rpath + ("count",))
        size = pair(1, MAX_KERNEL_SIDE)(spec.get("size", 3), rpath + ("size",))
        try:  # validates every other key and value
            random_kernels(spec, 1, np.random.default_rng(0))
        except CnnvizError as err:
            raise err.under(rpath) from None
        return RandomKernels(dict(spec), count, size, path, index)
    # file
    extra = [k for k in v if k not in ("file", "key")]
    if extra:
        raise CnnvizError(f"unknown key '{extra[0]}'{did_you_mean(extra[0], ('file', 'key'))}", path + (extra[0],))
    fname = string(v["file"], path + ("file",))
    key = v.get("key")
    if key is not None:
        key = string(key, path + ("key",))
    try:
        arr, full = files.kernels(fname, key)
    except CnnvizError as err:
        raise err.under(path) from None
    return FixedKernels(arr, path, str(full), None if key is None else {"key": key})


def filters_list(v: Any, path: KeyPath, files: ConfigFiles) -> tuple[FilterEntry, ...]:
    """The ``filters:`` key: a non-empty list of entries; every bad entry is reported."""
    if not isinstance(v, list):
        raise wrong("a list of filter entries", v, path)
    if not v:
        raise CnnvizError("needs at least one filter", path)
    entries, errors = [], []
    for i, x in enumerate(v):
        try:
            entries.append(filter_entry(x, path + (i,), i, files))
        except CnnvizError as err:
            errors.append(err)
    if errors:
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
    return tuple(entries)


def entry_labels(entry: FilterEntry, n: int) -> list[str]:
    """Where each of an entry's ``n`` kernels came from.

    ``sobel_x``, ``gabor θ=45° λ=6``, ``random he``, ``k.npy[2]``, or for a
    keyed file (an imported model's ``.npz``) the key: ``conv2.weight[2]``.
    """
    if isinstance(entry, InlineKernel):
        return ["inline"] * n
    if isinstance(entry, RandomKernels):
        return [f"random {entry.spec.get('dist', 'uniform')}"] * n
    if entry.origin.startswith("preset "):
        labels = preset_labels(entry.origin[len("preset "):], entry.params or {})
        return labels if len(labels) == n else [labels[0]] * n
    key = (entry.params or {}).get("key")
    base = str(key) if key is not None else Path(entry.origin).name
    return [base] if n == 1 else [f"{base}[{i}]" for i in range(n)]


def resolve_kernels(ctx: PlanContext, st: StageConfig, channels: int, *, depthwise: bool = False,
                    depth: int | None = None) -> tuple[np.ndarray, int, list[str], list[tuple[int, int]]]:
    """A conv stage's entries as one (N, kh, kw, D) array in the run's dtype, its parameter count,
    each kernel's source label and its own (kh, kw) before padding.

    ``D`` is ``depth`` (the channels each kernel sees: C, or C / groups) or
    ``channels``; 2-D kernels are repeated over it; with ``depthwise`` random
    kernels are drawn 1 deep.  Kernels of different sizes are zero-padded,
    centred, to the largest (an odd difference puts the extra row or column
    at the bottom or right).
    """
    d = channels if depth is None else depth
    entries = st.params["filters"]
    if len(entries) == 1 and isinstance(entries[0], FixedKernels) and entries[0].array.ndim == 4 \
            and entries[0].array.shape[3] == d:  # one file's kernels (an imported model): no copy a plan
        arr = entries[0].as_dtype(ctx.np_dtype)
        n, kh, kw, _ = arr.shape
        return arr, arr.size, entry_labels(entries[0], n), [(kh, kw)] * n
    parts: list[np.ndarray] = []
    names: list[str] = []
    count = 0
    for entry in st.params["filters"]:
        if isinstance(entry, InlineKernel):
            arr = entry.array[None]
        elif isinstance(entry, FixedKernels):
            arr = entry.array
        else:
            rng = np.random.default_rng([ctx.seed, st.index, entry.entry])
            try:
                arr = random_kernels(entry.spec, 1 if depthwise else d, rng)
            except CnnvizError as err:
                raise ctx.error(err.message, entry.path + ("random",) + err.path) from None
        count += arr.size
        if isinstance(entry, RandomKernels) and arr.shape[3] == 1:
            arr = arr[..., 0]
        if arr.ndim == 4 and arr.shape[3] != d:
            s = "" if d == 1 else "s"
            what = "input's" if d == channels else "group's"
            raise ctx.error(f"kernel depth {arr.shape[3]} does not match the {what} {d} channel{s}", entry.path)
        if arr.ndim == 3:
            arr = np.repeat(arr[..., None], d, axis=3)
        parts.append(arr)
        names += entry_labels(entry, arr.shape[0])
    kh = max(a.shape[1] for a in parts)
    kw = max(a.shape[2] for a in parts)
    padded = []
    for a in parts:
        dh, dw = kh - a.shape[1], kw - a.shape[2]
        if dh or dw:
            a = np.pad(a, ((0, 0), (dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2), (0, 0)))
        padded.append(a)
    shapes = [(a.shape[1], a.shape[2]) for a in parts for _ in range(a.shape[0])]
    return np.ascontiguousarray(np.concatenate(padded).astype(ctx.np_dtype)), count, names, shapes


def per_channel(v: Any, path: KeyPath, files: ConfigFiles) -> float | tuple[float, ...] | np.ndarray:
    """A number, a list of numbers (one per channel) or ``{file: PATH, key: NAME}`` holding a vector."""
    if isinstance(v, dict):
        extra = [k for k in v if k not in ("file", "key")]
        if extra or "file" not in v:
            key = extra[0] if extra else "file"
            raise CnnvizError(f"unknown key '{key}'{did_you_mean(key, ('file', 'key'))}" if extra else
                              "missing required key 'file'", path + ((key,) if extra else ()), at_key=bool(extra))
        fname = string(v["file"], path + ("file",))
        key = string(v["key"], path + ("key",)) if v.get("key") is not None else None
        try:
            arr = files.array(fname, key)
        except CnnvizError as err:
            raise err.under(path) from None
        if arr.ndim != 1:
            raise CnnvizError(f"must hold a vector (one value per channel), not an array of shape {arr.shape}",
                              path + ("file",))
        return arr
    try:
        return number_or_list(v, path)
    except CnnvizError:
        raise CnnvizError("must be a number, a list of numbers (one per channel) or {file: PATH, key: NAME}",
                          path) from None
