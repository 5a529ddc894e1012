"""The config schema: every key, type and default of a cnnviz YAML file.

:func:`load_config` takes a path, YAML text or a dict and returns a validated,
immutable :class:`Config`.  Every mistake is a :class:`~cnnviz.errors.CnnvizError`
that names ``file:line:column`` and the key path; a config with several
mistakes raises :class:`~cnnviz.errors.ConfigErrors` listing all of them.

Kernels that do not depend on the input (inline, presets, files) are built and
checked here; random kernels, which span the input's channels, are drawn when
the stack is planned for an image (:mod:`cnnviz.pipeline`).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import filters as _filters
from .errors import CnnvizError, ConfigErrors, KeyPath, did_you_mean, format_path
from .yamlsource import Locations, parse_value, parse_yaml

__all__ = [
    "Config",
    "StageConfig",
    "InlineKernel",
    "FixedKernels",
    "RandomKernels",
    "STAGE_TYPES",
    "RENDER_DEFAULTS",
    "load_config",
    "load_config_file",
    "apply_overrides",
    "referenced_files",
]

#: Largest kernel or pooling window side accepted, and most kernels per entry.
MAX_KERNEL_SIDE = 1025
MAX_KERNELS = 4096
MAX_UNITS = 1_000_000

# ---------------------------------------------------------------------------
# Value checkers: (value, path) -> normalised value, or raise CnnvizError.


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return str(value)


def _wrong(expected: str, value: Any, path: KeyPath, hint: str = "") -> CnnvizError:
    return CnnvizError(f"must be {expected}, not {_describe(value)}{hint}", path)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


Checker = Callable[[Any, KeyPath], Any]


def integer(minimum: int | None = None, maximum: int | None = None) -> Checker:
    def check(v: Any, path: KeyPath) -> int:
        if not _is_int(v):
            raise _wrong("an integer", v, path)
        if minimum is not None and v < minimum:
            raise CnnvizError(f"must be at least {minimum}, not {v}", path)
        if maximum is not None and v > maximum:
            raise CnnvizError(f"must be at most {maximum}, not {v}", path)
        return int(v)

    return check


def number(
    minimum: float | None = None, *, positive: bool = False, maximum: float | None = None
) -> Checker:
    def check(v: Any, path: KeyPath) -> float:
        if not _is_number(v):
            raise _wrong("a number", v, path)
        if not math.isfinite(v):
            raise CnnvizError(f"must be a finite number, not {v}", path)
        if positive and v <= 0:
            raise CnnvizError(f"must be greater than 0, not {v}", path)
        if minimum is not None and v < minimum:
            raise CnnvizError(f"must be at least {minimum}, not {v}", path)
        if maximum is not None and v > maximum:
            raise CnnvizError(f"must be at most {maximum}, not {v}", path)
        return float(v)

    return check


def boolean(v: Any, path: KeyPath) -> bool:
    if not isinstance(v, bool):
        raise _wrong("true or false", v, path)
    return v


def choice(*options: str) -> Checker:
    def check(v: Any, path: KeyPath) -> str:
        if not isinstance(v, str) or v not in options:
            hint = did_you_mean(v, options) if isinstance(v, str) else ""
            raise _wrong("one of " + ", ".join(options), v, path, hint)
        return v

    return check


def pair(minimum: int, maximum: int | None = None) -> Checker:
    """An int or ``[a, b]`` -> ``(a, b)``."""
    one = integer(minimum, maximum)

    def check(v: Any, path: KeyPath) -> tuple[int, int]:
        if isinstance(v, list):
            if len(v) != 2:
                raise CnnvizError(f"must be an integer or a list of 2 integers, not a list of {len(v)}", path)
            return (one(v[0], path + (0,)), one(v[1], path + (1,)))
        if not _is_int(v):
            raise _wrong("an integer or a list of 2 integers", v, path)
        a = one(v, path)
        return (a, a)

    return check


def conv_padding(v: Any, path: KeyPath) -> str | tuple[int, int]:
    if v in ("valid", "same", "full"):
        return v
    if _is_int(v) or isinstance(v, list):
        try:
            return pair(0, MAX_KERNEL_SIDE)(v, path)
        except CnnvizError:
            pass
    raise _wrong("valid, same, full, an integer or [pad_h, pad_w]", v, path,
                 did_you_mean(v, ("valid", "same", "full")) if isinstance(v, str) else "")


def number_or_list(v: Any, path: KeyPath) -> float | tuple[float, ...]:
    if isinstance(v, list):
        return tuple(number()(x, path + (i,)) for i, x in enumerate(v))
    return number()(v, path)


def string(v: Any, path: KeyPath) -> str:
    if not isinstance(v, str):
        raise _wrong("a string", v, path)
    return v


def string_list(v: Any, path: KeyPath) -> tuple[str, ...]:
    if not isinstance(v, list):
        raise _wrong("a list of strings", v, path)
    out = []
    for i, x in enumerate(v):
        if _is_number(x):
            x = str(x)
        out.append(string(x, path + (i,)))
    return tuple(out)


_NAME_RE = re.compile(r"^\w[\w.-]*$")
_RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)}


def stage_name(v: Any, path: KeyPath) -> str:
    """A stage name becomes part of a file name: keep it to a safe alphabet."""
    v = string(v, path)
    if not _NAME_RE.match(v) or ".." in v or len(v) > 64:
        raise CnnvizError(
            f"the name {v!r} may only use letters, digits, '_', '-' and single '.', "
            "start with a letter or digit, and be at most 64 characters",
            path,
        )
    if v.split(".")[0].lower() in _RESERVED:
        raise CnnvizError(f"the name {v!r} is reserved on Windows; choose another", path)
    return v


# ---------------------------------------------------------------------------
# Filter entries.


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
    origin: str  # "preset sobel_x" or the file's path


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
        raise CnnvizError(
            "an inline kernel must be a rectangular list of rows of numbers", path
        ) from None
    if arr.dtype == object or arr.ndim not in (2, 3) or 0 in arr.shape:
        raise CnnvizError(
            "an inline kernel must be a non-empty 2-D (kh × kw) or 3-D (kh × kw × C) list of numbers",
            path,
        )
    if any(isinstance(x, bool) for x in np.array(v, dtype=object).ravel()):
        raise CnnvizError("an inline kernel must hold numbers, not true/false", path)
    if not np.isfinite(arr).all():
        raise CnnvizError("kernel contains NaN or inf", path)
    if max(arr.shape[:2]) > MAX_KERNEL_SIDE:
        raise CnnvizError(f"a kernel side must be at most {MAX_KERNEL_SIDE}", path)
    return InlineKernel(arr, path)


def _filter_entry(v: Any, path: KeyPath, index: int, base_dir: Path) -> FilterEntry:
    if isinstance(v, list):
        return _inline_kernel(v, path)
    if not isinstance(v, dict):
        raise _wrong(_ENTRY_HELP, v, path)
    kinds = [k for k in ("preset", "random", "file") if k in v]
    if len(kinds) != 1:
        if kinds:
            raise CnnvizError(f"a filter entry takes one of 'preset', 'random' or 'file', not {' and '.join(kinds)}", path)
        key = next(iter(v), "")
        raise CnnvizError(
            f"unknown filter entry '{key}'{did_you_mean(key, ('preset', 'random', 'file'))}: "
            f"expected {_ENTRY_HELP}",
            path + ((key,) if key else ()),
            at_key=True,
        )
    kind = kinds[0]
    if kind == "preset":
        name = v["preset"]
        if not isinstance(name, str):
            raise _wrong("a preset name", name, path + ("preset",))
        params = {k: x for k, x in v.items() if k != "preset"}
        try:
            arr = _filters.preset_kernels(name, params)
        except CnnvizError as err:
            raise err.under(path) from None
        return FixedKernels(arr, path, f"preset {name}")
    if kind == "random":
        extra = [k for k in v if k != "random"]
        if extra:
            raise CnnvizError(f"unknown key '{extra[0]}' beside 'random' (its settings go under 'random:')",
                              path + (extra[0],), at_key=True)
        spec = v["random"] if v["random"] is not None else {}
        if not isinstance(spec, dict):
            raise _wrong("a mapping of random settings", spec, path + ("random",))
        rpath = path + ("random",)
        count = integer(1, MAX_KERNELS)(spec.get("count", 1), rpath + ("count",))
        size = pair(1, MAX_KERNEL_SIDE)(spec.get("size", 3), rpath + ("size",))
        try:  # validates every other key and value
            _filters.random_kernels(spec, 1, np.random.default_rng(0))
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
    full = (base_dir / fname).resolve()
    try:
        arr = _filters.load_kernel_file(full, key)
    except CnnvizError as err:
        raise err.under(path) from None
    return FixedKernels(arr, path, str(full))


def _filters_list(base_dir: Path) -> Checker:
    def check(v: Any, path: KeyPath) -> tuple[FilterEntry, ...]:
        if not isinstance(v, list):
            raise _wrong("a list of filter entries", v, path)
        if not v:
            raise CnnvizError("needs at least one filter", path)
        entries, errors = [], []
        for i, x in enumerate(v):
            try:
                entries.append(_filter_entry(x, path + (i,), i, base_dir))
            except CnnvizError as err:
                errors.append(err)
        if errors:
            raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
        return tuple(entries)

    return check


@dataclass(frozen=True)
class DenseWeights:
    """Dense weights: a random spec (drawn at plan time) or a loaded (units, inputs) array."""

    spec: Mapping[str, Any] | None
    array: np.ndarray | None
    path: KeyPath


def _dense_weights(base_dir: Path) -> Checker:
    def check(v: Any, path: KeyPath) -> DenseWeights:
        if not isinstance(v, dict) or len([k for k in ("random", "file") if k in v]) != 1:
            raise _wrong("a mapping with 'random' or 'file'", v, path)
        if "random" in v:
            spec = v["random"] if v["random"] is not None else {}
            if not isinstance(spec, dict):
                raise _wrong("a mapping of random settings", spec, path + ("random",))
            try:
                _filters.random_matrix(spec, (1, 1), np.random.default_rng(0))
            except CnnvizError as err:
                raise err.under(path + ("random",)) from None
            return DenseWeights(dict(spec), None, path)
        extra = [k for k in v if k not in ("file", "key")]
        if extra:
            raise CnnvizError(f"unknown key '{extra[0]}'{did_you_mean(extra[0], ('file', 'key'))}",
                              path + (extra[0],), at_key=True)
        fname = string(v["file"], path + ("file",))
        key = v.get("key")
        if key is not None:
            key = string(key, path + ("key",))
        try:
            arr = _filters.load_array_file((base_dir / fname).resolve(), key)
        except CnnvizError as err:
            raise err.under(path) from None
        if arr.ndim != 2:
            raise CnnvizError(f"dense weights must have shape (units, inputs), not {arr.shape}", path + ("file",))
        return DenseWeights(None, arr, path)

    return check


# ---------------------------------------------------------------------------
# Stage schema.

_REQUIRED = object()


def _stage_schema(base_dir: Path) -> dict[str, dict[str, tuple[Checker, Any]]]:
    """type -> key -> (checker, default); ``_REQUIRED`` marks a required key."""
    none: dict[str, tuple[Checker, Any]] = {}
    return {
        "conv": {
            "filters": (_filters_list(base_dir), _REQUIRED),
            "padding": (conv_padding, "valid"),
            "pad_mode": (choice("constant", "reflect", "symmetric", "edge", "wrap"), "constant"),
            "pad_value": (number(), 0.0),
            "stride": (pair(1, MAX_KERNEL_SIDE), 1),
            "dilation": (pair(1, MAX_KERNEL_SIDE), 1),
            "flip": (boolean, False),
            "bias": (number_or_list, 0.0),
            "depthwise": (boolean, False),
        },
        "relu": none,
        "leaky_relu": {"slope": (number(), 0.01)},
        "sigmoid": none,
        "tanh": none,
        "abs": none,
        "pool": {
            "mode": (choice("max", "avg", "min"), "max"),
            "size": (pair(1, MAX_KERNEL_SIDE), 2),
            "stride": (pair(1, MAX_KERNEL_SIDE), None),
            "padding": (pair(0, MAX_KERNEL_SIDE), 0),
        },
        "global_pool": {"mode": (choice("max", "avg"), "avg")},
        "norm": {
            "mode": (choice("lrn", "standardize", "minmax"), "lrn"),
            "size": (integer(1, MAX_KERNELS), 5),
            "alpha": (number(), 1e-4),
            "beta": (number(), 0.75),
            "k": (number(), 2.0),
        },
        "dense": {
            "units": (integer(1, MAX_UNITS), _REQUIRED),
            "weights": (_dense_weights(base_dir), None),
            "bias": (number_or_list, 0.0),
            "labels": (string_list, None),
        },
        "softmax": none,
    }


STAGE_TYPES: tuple[str, ...] = tuple(_stage_schema(Path(".")))
_LRN_KEYS = ("size", "alpha", "beta", "k")


@dataclass(frozen=True)
class StageConfig:
    """One validated stage.

    ``index`` is its 0-based position in ``stages``; ``params`` holds every
    parameter of its type with defaults filled in (pairs as tuples).
    """

    index: int
    type: str
    name: str
    params: Mapping[str, Any]

    @property
    def path(self) -> KeyPath:
        return ("stages", self.index)


def _check_stage_params(stype: str, params: dict[str, Any], path: KeyPath) -> None:
    """Cross-key rules that one key's checker cannot see."""
    if stype == "norm" and params["mode"] != "lrn":
        for key in _LRN_KEYS:
            if params.get(f"_given_{key}"):
                raise CnnvizError(f"'{key}' applies only to mode: lrn", path + (key,))
    if stype == "pool":
        if params["stride"] is None:
            params["stride"] = params["size"]
        for axis in (0, 1):
            if params["padding"][axis] > params["size"][axis] // 2:
                raise CnnvizError(
                    f"pool padding {params['padding'][axis]} must be at most half the window "
                    f"({params['size'][axis]} // 2 = {params['size'][axis] // 2})",
                    path + ("padding",),
                )
    if stype == "dense":
        labels = params["labels"]
        if labels is not None and len(labels) != params["units"]:
            raise CnnvizError(
                f"{len(labels)} labels given for {params['units']} units", path + ("labels",)
            )
        bias = params["bias"]
        if isinstance(bias, tuple) and len(bias) != params["units"]:
            raise CnnvizError(f"{len(bias)} biases given for {params['units']} units", path + ("bias",))
        if params["weights"] is None:
            params["weights"] = DenseWeights({"dist": "glorot"}, None, path + ("weights",))
        w = params["weights"].array
        if w is not None and w.shape[0] != params["units"]:
            raise CnnvizError(
                f"weights have {w.shape[0]} rows for {params['units']} units", path + ("weights", "file")
            )
    for key in list(params):
        if key.startswith("_given_"):
            del params[key]


# ---------------------------------------------------------------------------
# Top-level sections.

RENDER_DEFAULTS: dict[str, Any] = {
    "cmap": "gray",
    "normalize": "map",
    "center": "auto",
    "max_maps": 64,
    "columns": None,
    "scale": None,
    "dpi": 100,
    "labels": True,
    "colorbar": True,
    "overview": True,
    "filters": True,
}


def _cmap(v: Any, path: KeyPath) -> str:
    v = string(v, path)
    if v in ("gray", "grey", "viridis", "RdBu_r", "coolwarm", "seismic", "bwr", "magma", "inferno"):
        return v
    from matplotlib import colormaps  # only when a less common name must be checked

    if v not in colormaps:
        raise CnnvizError(f"unknown colormap '{v}'{did_you_mean(v, list(colormaps))}", path)
    return v


def _auto_or(checker: Checker) -> Checker:
    def check(v: Any, path: KeyPath) -> Any:
        return None if v is None or v == "auto" else checker(v, path)

    return check


_RENDER_SCHEMA: dict[str, Checker] = {
    "cmap": _cmap,
    "normalize": choice("map", "layer", "global"),
    "center": choice("auto", "zero", "none"),
    "max_maps": integer(1, 100_000),
    "columns": _auto_or(integer(1, 10_000)),
    "scale": _auto_or(integer(1, 64)),
    "dpi": integer(20, 1200),
    "labels": boolean,
    "colorbar": boolean,
    "overview": boolean,
    "filters": boolean,
}


def _resize(v: Any, path: KeyPath) -> int | tuple[int, int] | None:
    if v is None:
        return None
    if isinstance(v, list):
        return pair(1, 65536)(v, path)
    if _is_int(v):
        return integer(1, 65536)(v, path)
    raise _wrong("null, [height, width] or the longest side as an integer", v, path)


_INPUT_SCHEMA: dict[str, tuple[Checker, Any]] = {
    "color": (choice("gray", "rgb", "keep"), "keep"),
    "resize": (_resize, None),
}

_TOP_KEYS = ("name", "description", "input", "seed", "dtype", "stages", "render")


@dataclass(frozen=True)
class Config:
    """A validated config.

    Attributes
    ----------
    stages : tuple of StageConfig
    color : {'gray', 'rgb', 'keep'}
    resize : None, int or (height, width)
    seed : int
    dtype : {'float32', 'float64'}
    render : dict
        Every render key with defaults filled in (``None`` for ``auto``).
    data : dict
        The config as plain data, as written (for ``--set`` and for embedding).
    source : str or None
        The config file's path as given, ``<string>`` or ``<dict>``.
    base_dir : Path
        Relative filter paths are resolved against it.
    """

    stages: tuple[StageConfig, ...]
    color: str
    resize: int | tuple[int, int] | None
    seed: int
    dtype: str
    render: Mapping[str, Any]
    name: str | None
    description: str | None
    data: Mapping[str, Any] = field(repr=False)
    source: str | None
    base_dir: Path
    locations: Locations = field(repr=False)
    text: str | None = field(default=None, repr=False)

    @property
    def fixed_input_shape(self) -> tuple[int, int, int] | None:
        """(H, W, C) when ``input.resize: [h, w]`` and ``input.color: gray | rgb`` fix it, else None."""
        if isinstance(self.resize, tuple) and self.color != "keep":
            return (*self.resize, 1 if self.color == "gray" else 3)
        return None

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    @property
    def sha256(self) -> str:
        """Hash of the config text (or of its canonical YAML when built from a dict)."""
        import yaml

        text = self.text if self.text is not None else yaml.safe_dump(dict(self.data), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def error(self, message: str, path: KeyPath) -> CnnvizError:
        """A :class:`CnnvizError` located at ``path`` in this config's source."""
        return self.locations.error(message, path)

    def resolved(self) -> dict[str, Any]:
        """The config as plain data with every default filled in (for embedding in outputs)."""
        stages = []
        for s in self.stages:
            params: dict[str, Any] = {}
            for k, v in s.params.items():
                if k == "filters" or k == "weights":
                    params[k] = copy.deepcopy(self.data["stages"][s.index].get(k)) if isinstance(
                        self.data["stages"][s.index], dict) else None
                elif isinstance(v, tuple):
                    params[k] = list(v)
                else:
                    params[k] = v
            stages.append({"type": s.type, "name": s.name, **params})
        return {
            "name": self.name,
            "input": {"color": self.color, "resize": list(self.resize) if isinstance(self.resize, tuple) else self.resize},
            "seed": self.seed,
            "dtype": self.dtype,
            "stages": stages,
            "render": {k: ("auto" if v is None else v) for k, v in self.render.items()},
        }


class _Validator:
    def __init__(self, locations: Locations, base_dir: Path) -> None:
        self.loc = locations
        self.errors: list[CnnvizError] = []
        self.schema = _stage_schema(base_dir)

    def add(self, err: CnnvizError) -> None:
        self.errors.append(self.loc.locate(err))

    def mapping(self, v: Any, path: KeyPath, what: str) -> dict[str, Any] | None:
        if v is None:
            return {}
        if not isinstance(v, dict):
            self.add(_wrong(what, v, path))
            return None
        return v

    def unknown_keys(self, given: Mapping[str, Any], allowed: Any, path: KeyPath, what: str = "key") -> None:
        for key in given:
            if key not in allowed:
                self.add(CnnvizError(f"unknown {what} '{key}'{did_you_mean(key, allowed)}", path + (key,), at_key=True))

    def section(self, raw: dict[str, Any], schema: Mapping[str, tuple[Checker, Any]], path: KeyPath) -> dict[str, Any]:
        self.unknown_keys(raw, schema, path)
        out: dict[str, Any] = {}
        for key, (check, default) in schema.items():
            if key in raw:
                try:
                    out[key] = check(raw[key], path + (key,))
                except ConfigErrors as errs:
                    for err in errs.errors:
                        self.add(err)
                    out[key] = None
                except CnnvizError as err:
                    self.add(err)
                    out[key] = None
            elif default is _REQUIRED:
                self.add(CnnvizError(f"missing required key '{key}'", path))
                out[key] = None
            else:
                out[key] = default if default is None else check(default, path + (key,))
        return out

    def stage(self, v: Any, index: int, counts: dict[str, int]) -> StageConfig | None:
        path: KeyPath = ("stages", index)
        if isinstance(v, str):
            raw: dict[str, Any] = {"type": v}
        elif isinstance(v, dict):
            raw = v
        else:
            self.add(_wrong("a stage type name or a mapping with 'type'", v, path))
            return None
        stype = raw.get("type")
        if stype is None:
            self.add(CnnvizError("missing required key 'type'", path))
            return None
        if not isinstance(stype, str) or stype not in self.schema:
            tpath = path if isinstance(v, str) else path + ("type",)
            hint = did_you_mean(stype, STAGE_TYPES) if isinstance(stype, str) else ""
            self.add(CnnvizError(f"unknown stage type {_describe(stype)}{hint}", tpath))
            return None
        counts[stype] = counts.get(stype, 0) + 1
        schema = dict(self.schema[stype])
        name = f"{stype}{counts[stype]}"
        if "name" in raw:
            try:
                name = stage_name(raw["name"], path + ("name",))
            except CnnvizError as err:
                self.add(err)
        body = {k: x for k, x in raw.items() if k not in ("type", "name")}
        before = len(self.errors)
        params = self.section(body, schema, path)
        for key in _LRN_KEYS:
            if stype == "norm" and key in body:
                params[f"_given_{key}"] = True
        if len(self.errors) > before:
            return None
        try:
            _check_stage_params(stype, params, path)
        except CnnvizError as err:
            self.add(err)
            return None
        return StageConfig(index, stype, name, params)


def _validate(data: Any, locations: Locations, base_dir: Path, text: str | None, source: str | None) -> Config:
    v = _Validator(locations, base_dir)
    if data is None:
        raise locations.error("the config is empty: it needs at least a 'stages' list", ())
    if not isinstance(data, dict):
        raise locations.locate(_wrong("a mapping with a 'stages' list", data, ()))
    v.unknown_keys(data, _TOP_KEYS, ())

    name = description = None
    for key in ("name", "description"):
        if key in data:
            try:
                val = (stage_name if key == "name" else string)(data[key], (key,))
            except CnnvizError as err:
                v.add(err)
                val = None
            if key == "name":
                name = val
            else:
                description = val

    inp = v.mapping(data.get("input"), ("input",), "a mapping")
    inp = v.section(inp, _INPUT_SCHEMA, ("input",)) if inp is not None else dict(color="keep", resize=None)

    seed = 0
    if "seed" in data:
        try:
            seed = integer(0, 2**63 - 1)(data["seed"], ("seed",))
        except CnnvizError as err:
            v.add(err)
    dtype = "float32"
    if "dtype" in data:
        try:
            dtype = choice("float32", "float64")(data["dtype"], ("dtype",))
        except CnnvizError as err:
            v.add(err)

    render = dict(RENDER_DEFAULTS)
    raw_render = v.mapping(data.get("render"), ("render",), "a mapping")
    if raw_render is not None:
        v.unknown_keys(raw_render, _RENDER_SCHEMA, ("render",))
        for key, check in _RENDER_SCHEMA.items():
            if key in raw_render:
                try:
                    render[key] = check(raw_render[key], ("render", key))
                except CnnvizError as err:
                    v.add(err)

    stages: list[StageConfig] = []
    raw_stages = data.get("stages")
    if "stages" not in data:
        v.add(CnnvizError("missing required key 'stages'", ()))
    elif not isinstance(raw_stages, list):
        v.add(_wrong("a list of stages", raw_stages, ("stages",)))
    elif not raw_stages:
        v.add(CnnvizError("needs at least one stage", ("stages",)))
    else:
        counts: dict[str, int] = {}
        seen: dict[str, int] = {}
        for i, raw in enumerate(raw_stages):
            st = v.stage(raw, i, counts)
            if st is None:
                continue
            if st.name in seen:
                v.add(CnnvizError(
                    f"the name '{st.name}' is already used by stages[{seen[st.name]}]", ("stages", i, "name")))
                continue
            seen[st.name] = i
            stages.append(st)

    if v.errors:
        v.errors.sort(key=lambda e: (e.line or 0, e.column or 0))
        raise ConfigErrors(v.errors)
    return Config(
        stages=tuple(stages),
        color=inp["color"],
        resize=inp["resize"],
        seed=seed,
        dtype=dtype,
        render=render,
        name=name,
        description=description,
        data=data,
        source=source,
        base_dir=base_dir,
        locations=locations,
        text=text,
    )


def load_config(source: str | Path | Mapping[str, Any] | Config, *, base_dir: str | Path | None = None) -> Config:
    """Load and validate a config.

    Parameters
    ----------
    source : path, YAML text, dict or Config
        A path to a YAML file (``str`` ending in ``.yaml``/``.yml`` or an
        existing file, or a :class:`~pathlib.Path`), YAML text (a ``str``
        containing a newline or a ``:``), or the config as a dict.
    base_dir : path, optional
        Where relative filter file paths are resolved; defaults to the config
        file's folder, or the current folder for text and dicts.

    Returns
    -------
    Config

    Raises
    ------
    CnnvizError
        An unreadable file or bad YAML.
    ConfigErrors
        Every mistake found in the config, each with its location.
    """
    if isinstance(source, Config):
        return source
    if isinstance(source, Mapping):
        data = copy.deepcopy(dict(source))
        return _validate(data, Locations(source=None), Path(base_dir or "."), None, None)
    if isinstance(source, Path) or not _looks_like_yaml_text(source):
        path = Path(source)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise CnnvizError(f"config file not found: {path}") from None
        except IsADirectoryError:
            raise CnnvizError(f"{path}: is a directory, not a config file") from None
        except OSError as exc:
            raise CnnvizError(f"{path}: cannot read the config: {exc.strerror}") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CnnvizError(f"{path}: the config is not UTF-8 text (byte {exc.start})") from None
        data, locations = parse_yaml(text, str(source))
        return _validate(data, locations, Path(base_dir) if base_dir else path.parent, text, str(source))
    data, locations = parse_yaml(source, "<string>")
    return _validate(data, locations, Path(base_dir or "."), source, "<string>")


def _looks_like_yaml_text(s: str) -> bool:
    return "\n" in s or (":" in s and not Path(s).exists())


def load_config_file(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Config:
    """Load the config file at ``path`` and apply ``--set`` style ``overrides``."""
    config = load_config(Path(path))
    return apply_overrides(config, list(overrides)) if overrides else config


def referenced_files(data: Any, base_dir: str | os.PathLike[str]) -> list[Path]:
    """The filter and weights files (``file:`` entries) that config data names, in order.

    ``data`` is the config as plain data (``Config.data``, or YAML that does
    not validate); relative paths are taken from ``base_dir`` as
    :func:`load_config` does.  Paths are absolute and normalised (links are
    not resolved, so a watcher sees the name the config uses).
    """

    def entries(node: Any) -> Iterator[str]:
        if isinstance(node, Mapping):
            f = node.get("file")
            if isinstance(f, str) and f:
                yield f
            for v in node.values():
                yield from entries(v)
        elif isinstance(node, list):
            for v in node:
                yield from entries(v)

    stages = data.get("stages") if isinstance(data, Mapping) else None
    out: list[Path] = []
    for f in entries(stages if isinstance(stages, list) else []):
        p = Path(os.path.normpath(os.path.join(os.path.abspath(base_dir), f)))
        if p not in out:
            out.append(p)
    return out


_SET_RE = re.compile(r"^([A-Za-z_][\w]*(?:\[\d+\]|\.[A-Za-z_]\w*|\.\d+)*)=(.*)$", re.S)


def apply_overrides(config: Config, assignments: list[str]) -> Config:
    """Return ``config`` with ``key.path=value`` assignments applied and re-validated.

    Keys use the error messages' syntax: ``render.cmap=viridis``,
    ``stages[0].stride=2`` (``stages.0.stride`` works too).  Values are YAML:
    ``stages[1].size=[3,3]``.  A stage given as a bare name (``- relu``) becomes a
    mapping when one of its keys is set.
    """
    data = copy.deepcopy(dict(config.data))
    locations = dataclasses.replace(config.locations, overrides=dict(config.locations.overrides))
    for text in assignments:
        m = _SET_RE.match(text.strip())
        if not m:
            raise CnnvizError(f"--set {text!r}: expected key.path=value, e.g. render.cmap=viridis")
        keys: list[str | int] = []
        for part in re.findall(r"[A-Za-z_]\w*|\d+", m.group(1)):
            keys.append(int(part) if part.isdigit() else part)
        value = parse_value(m.group(2))
        node: Any = data
        for i, k in enumerate(keys[:-1]):
            nxt = keys[i + 1]
            if isinstance(k, int):
                if not isinstance(node, list) or k >= len(node):
                    raise CnnvizError(f"--set {text!r}: {format_path(keys[: i + 1])} does not exist")
                if isinstance(node[k], str) and isinstance(nxt, str):
                    node[k] = {"type": node[k]}
                node = node[k]
            else:
                if not isinstance(node, dict):
                    raise CnnvizError(f"--set {text!r}: {format_path(keys[:i])} is not a mapping")
                if node.get(k) is None:
                    node[k] = {} if isinstance(nxt, str) else []
                node = node[k]
        last = keys[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or last >= len(node):
                raise CnnvizError(f"--set {text!r}: {format_path(keys)} does not exist")
        elif not isinstance(node, dict):
            raise CnnvizError(f"--set {text!r}: {format_path(keys[:-1])} is not a mapping")
        node[last] = value
        locations.overrides[tuple(keys)] = text.strip()
    return _validate(data, locations, config.base_dir, None, config.source)
