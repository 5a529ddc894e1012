"""The config schema: every key, type and default of a cnnviz YAML file.

:func:`load_config` takes a path, YAML text or a dict and returns a validated,
immutable :class:`Config`.  Every mistake is a :class:`~cnnviz.errors.CnnvizError`
that names ``file:line:column`` and the key path; a config with several
mistakes raises :class:`~cnnviz.errors.ConfigErrors` listing all of them.

The top-level sections (``input``, ``render``, ...) are described here; a
stage's keys belong to its stage type (:data:`cnnviz.stages.REGISTRY`), which
this module only reads.  Kernels that do not depend on the input (inline,
presets, files) are built and checked here; random kernels, which span the
input's channels, are drawn when the stack is planned (:mod:`cnnviz.pipeline`).
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..colormaps import colormap_names
from ..errors import CnnvizError, ConfigErrors, KeyPath, did_you_mean
from ..io.arrays import ConfigFiles
from ..limits import (
    MAX_PIXELS,
    MAX_RESIZE_SIDE,
    Checker,
    boolean,
    choice,
    describe,
    integer,
    name,
    number,
    number_or_list,
    pair,
    string,
    wrong,
)
from ..stages import REGISTRY, STAGE_TYPES, StageConfig
from .yamlsource import Locations, parse_yaml

__all__ = [
    "Config",
    "StageConfig",
    "STAGE_TYPES",
    "RENDER_DEFAULTS",
    "load_config",
    "read_config_file",
    "referenced_files",
    "validate",
]


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
    "max_size": 4096,
    "clip": None,
    "filter_scale": "kernel",
    "format": "png",
    "overlay": False,
    "overlay_maps": 4,
    "reduce": "none",
}


def _cmap(v: Any, path: KeyPath) -> str:
    v = string(v, path)
    if v in colormap_names():  # matplotlib's own colormaps, from the bundled table
        return v
    from matplotlib import colormaps  # only for a name the table lacks (seaborn's, a newer matplotlib's, a typo)

    if v not in colormaps:
        raise CnnvizError(f"unknown colormap '{v}'{did_you_mean(v, list(colormaps))}", path)
    return v


def _null_or(checker: Checker) -> Checker:
    def check(v: Any, path: KeyPath) -> Any:
        return None if v is None else checker(v, path)

    return check


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
    "max_size": integer(256, 65_536),
    "clip": _null_or(number(minimum=50.0, maximum=100.0)),
    "filter_scale": choice("kernel", "stage"),
    "format": choice("png", "svg", "pdf"),
    "overlay": boolean,
    "overlay_maps": integer(1, 64),
    "reduce": choice("none", "mean", "max", "pca"),
}


def _resize(v: Any, path: KeyPath) -> int | tuple[int, int] | None:
    if v is None:
        return None
    if isinstance(v, list):
        h, w = pair(1, MAX_RESIZE_SIDE)(v, path)
        if h * w > MAX_PIXELS:
            raise CnnvizError(f"{w}×{h} = {h * w:,} pixels is more than the limit of {MAX_PIXELS:,}", path)
        return h, w
    if isinstance(v, int) and not isinstance(v, bool):
        return integer(1, MAX_RESIZE_SIDE)(v, path)
    raise wrong("null, [height, width] or the longest side as an integer", v, path)


def _value_range(v: Any, path: KeyPath) -> tuple[float, float]:
    if not isinstance(v, list) or len(v) != 2:
        raise wrong("[low, high], two numbers", v, path)
    lo, hi = number()(v[0], path + (0,)), number()(v[1], path + (1,))
    if not hi > lo:
        raise CnnvizError(f"high must be greater than low, not {v[1]} ≤ {v[0]}", path + (1,))
    return lo, hi


def _normalize(v: Any, path: KeyPath) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """``{mean: m, std: s}``: each one number or one per channel; std > 0."""
    if v is None:
        return None
    if not isinstance(v, dict):
        raise wrong("a mapping with 'mean' and 'std'", v, path)
    for key in v:
        if key not in ("mean", "std"):
            raise CnnvizError(f"unknown key '{key}'{did_you_mean(key, ('mean', 'std'))}", path + (key,),
                              at_key=True)
    out = []
    for key, default in (("mean", 0.0), ("std", 1.0)):
        raw = v.get(key, default)
        vals = number_or_list(raw, path + (key,))
        vals = vals if isinstance(vals, tuple) else (vals,)
        if not vals:
            raise CnnvizError("needs at least one number", path + (key,))
        if key == "std":
            for i, x in enumerate(vals):
                if x <= 0:
                    raise CnnvizError(f"must be greater than 0, not {x:g}",
                                      path + (key,) + ((i,) if isinstance(raw, list) else ()))
        out.append(vals)
    return out[0], out[1]


_INPUT_SCHEMA: dict[str, tuple[Checker, Any]] = {
    "color": (choice("gray", "rgb", "keep"), "keep"),
    "resize": (_resize, None),
    "range": (_value_range, [0.0, 1.0]),
    "normalize": (_normalize, None),
}

_TOP_KEYS = ("name", "description", "input", "seed", "dtype", "stages", "render")
_STAGE_ENVELOPE = ("type", "name", "inputs")
#: The name ``inputs:`` uses for the image itself (no stage may take it).
IMAGE_NAME = "input"


@dataclass(frozen=True)
class Config:
    """A validated config.

    Attributes
    ----------
    stages : tuple of StageConfig
    color : {'gray', 'rgb', 'keep'}
    resize : None, int or (height, width)
    value_range : (low, high)
        ``input.range``: [0, 1] is mapped linearly to it.
    normalize : ((mean, ...), (std, ...)) or None
        ``input.normalize``: then ``(x − mean) / std`` per channel (one value, or one per channel).
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
    value_range: tuple[float, float] = (0.0, 1.0)
    normalize: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    files: ConfigFiles | None = field(default=None, repr=False, compare=False)

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
            raw = self.data["stages"][s.index]
            keys = REGISTRY[s.type].keys
            for k, v in s.params.items():
                if keys[k].files:  # as written (a file's name, not its numbers)
                    given = isinstance(raw, dict) and k in raw
                    params[k] = copy.deepcopy(raw[k]) if given else (v if isinstance(v, (int, float, str)) else None)
                elif isinstance(v, tuple):
                    params[k] = list(v)
                else:
                    params[k] = v
            entry = {"type": s.type, "name": s.name, **params}
            if s.inputs is not None:
                entry["inputs"] = list(s.inputs)
            stages.append(entry)
        return {
            "name": self.name,
            "input": {"color": self.color, "resize": list(self.resize) if isinstance(self.resize, tuple) else self.resize,
                      "range": list(self.value_range),
                      "normalize": None if self.normalize is None else
                      {"mean": list(self.normalize[0]), "std": list(self.normalize[1])}},
            "seed": self.seed,
            "dtype": self.dtype,
            "stages": stages,
            "render": {k: ("auto" if v is None else v) for k, v in self.render.items()},
        }


class _Validator:
    def __init__(self, locations: Locations, files: ConfigFiles) -> None:
        self.loc = locations
        self.files = files
        self.errors: list[CnnvizError] = []

    def add(self, err: CnnvizError) -> None:
        for e in err.errors if isinstance(err, ConfigErrors) else [err]:
            self.errors.append(self.loc.locate(e))

    def mapping(self, v: Any, path: KeyPath, what: str) -> dict[str, Any] | None:
        if v is None:
            return {}
        if not isinstance(v, dict):
            self.add(wrong(what, v, path))
            return None
        return v

    def unknown_keys(self, given: Mapping[str, Any], allowed: Any, path: KeyPath, what: str = "key") -> None:
        for key in given:
            if key not in allowed:
                self.add(CnnvizError(f"unknown {what} '{key}'{did_you_mean(key, allowed)}", path + (key,), at_key=True))

    def value(self, check: Checker, v: Any, path: KeyPath, default: Any = None) -> Any:
        try:
            return check(v, path)
        except CnnvizError as err:
            self.add(err)
            return default

    def section(self, raw: dict[str, Any], schema: Mapping[str, tuple[Checker, Any]], path: KeyPath) -> dict[str, Any]:
        self.unknown_keys(raw, schema, path)
        out: dict[str, Any] = {}
        for key, (check, default) in schema.items():
            if key in raw:
                out[key] = self.value(check, raw[key], path + (key,))
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
            self.add(wrong("a stage type name or a mapping with 'type'", v, path))
            return None
        stype = raw.get("type")
        if stype is None:
            self.add(CnnvizError("missing required key 'type'", path))
            return None
        if not isinstance(stype, str) or stype not in REGISTRY:
            tpath = path if isinstance(v, str) else path + ("type",)
            hint = did_you_mean(stype, STAGE_TYPES) if isinstance(stype, str) else ""
            self.add(CnnvizError(f"unknown stage type {describe(stype)}{hint}", tpath))
            return None
        kind = REGISTRY[stype]
        counts[stype] = counts.get(stype, 0) + 1
        stage_name = f"{stype}{counts[stype]}"
        if "name" in raw:
            stage_name = self.value(name, raw["name"], path + ("name",), stage_name)
        if stage_name == IMAGE_NAME:
            self.add(CnnvizError(f"the name '{IMAGE_NAME}' is reserved for the image (in 'inputs:')",
                                 path + ("name",)))
        inputs = self.value(_inputs_key, raw["inputs"], path + ("inputs",)) if "inputs" in raw else None
        body = {k: x for k, x in raw.items() if k not in _STAGE_ENVELOPE}
        before = len(self.errors)
        self.unknown_keys(body, kind.keys, path)
        params: dict[str, Any] = {}
        for key, spec in kind.keys.items():
            kpath = path + (key,)
            if key in body:
                try:
                    params[key] = spec.parse(body[key], kpath, self.files)
                except CnnvizError as err:
                    self.add(err)
            elif spec.required:
                self.add(CnnvizError(f"missing required key '{key}'", path))
            else:
                params[key] = None if spec.default is None else spec.parse(spec.default, kpath, self.files)
        if len(self.errors) > before:
            return None
        try:
            kind.check(params, set(body), path)
        except CnnvizError as err:
            self.add(err)
            return None
        return StageConfig(index, stype, stage_name, params, inputs)

    def graph(self, stages: list[StageConfig]) -> list[StageConfig]:
        """Check every stage's ``inputs`` against the stages before it, and how many its type takes."""
        index = {st.name: st for st in stages}
        ok: list[StageConfig] = []
        for st in stages:
            kind = REGISTRY[st.type]
            path = st.path + ("inputs",)
            where = f"{st.type} stage '{st.name}'"
            bad = False
            for j, taken in enumerate(st.inputs or ()):
                if taken == IMAGE_NAME:
                    continue
                other = index.get(taken)
                if taken == st.name:
                    self.add(CnnvizError(f"{where} takes itself as an input", path + (j,)))
                elif other is None:
                    hint = did_you_mean(taken, [s.name for s in stages] + [IMAGE_NAME])
                    self.add(CnnvizError(f"{where} takes '{taken}', which is no stage's name{hint}", path + (j,)))
                elif other.index > st.index:
                    self.add(CnnvizError(f"{where} takes '{taken}', which comes after it (stages[{other.index}]); "
                                         "a stage takes earlier stages only", path + (j,)))
                else:
                    continue
                bad = True
            n = len(st.inputs) if st.inputs is not None else 1
            if kind.arity is None and n < 2:
                self.add(CnnvizError(f"{where} joins two or more inputs: name them with inputs: [a, b]",
                                     path if st.inputs is not None else st.path))
                bad = True
            elif kind.arity == 1 and n != 1:
                self.add(CnnvizError(f"{where} takes one input, not {n}", path))
                bad = True
            if not bad:
                ok.append(st)
        return ok


def _inputs_key(v: Any, path: KeyPath) -> tuple[str, ...]:
    """``inputs: name`` or ``inputs: [a, b, ...]``: earlier stages' names, or ``input`` for the image."""
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list) or not items:
        raise wrong("a stage name or a list of earlier stage names (input: the image)", v, path)
    return tuple(string(x, path + ((i,) if isinstance(v, list) else ())) for i, x in enumerate(items))


def validate(data: Any, locations: Locations, base_dir: Path | ConfigFiles, text: str | None,
             source: str | None) -> Config:
    """Validate parsed config data (with the positions of its values) into a :class:`Config`.

    Raises
    ------
    ConfigErrors
        Every mistake found, sorted by position.
    """
    files = base_dir if isinstance(base_dir, ConfigFiles) else ConfigFiles(base_dir)
    v = _Validator(locations, files)
    if data is None:
        raise locations.error("the config is empty: it needs at least a 'stages' list", ())
    if not isinstance(data, dict):
        raise locations.locate(wrong("a mapping with a 'stages' list", data, ()))
    v.unknown_keys(data, _TOP_KEYS, ())

    config_name = v.value(name, data["name"], ("name",)) if "name" in data else None
    description = v.value(string, data["description"], ("description",)) if "description" in data else None

    inp = v.mapping(data.get("input"), ("input",), "a mapping")
    inp = v.section(inp, _INPUT_SCHEMA, ("input",)) if inp is not None else dict(color="keep", resize=None, range=(0.0, 1.0), normalize=None)
    seed = v.value(integer(0, 2**63 - 1), data["seed"], ("seed",), 0) if "seed" in data else 0
    dtype = v.value(choice("float32", "float64"), data["dtype"], ("dtype",), "float32") if "dtype" in data \
        else "float32"

    render = dict(RENDER_DEFAULTS)
    raw_render = v.mapping(data.get("render"), ("render",), "a mapping")
    if raw_render is not None:
        v.unknown_keys(raw_render, _RENDER_SCHEMA, ("render",))
        for key, check in _RENDER_SCHEMA.items():
            if key in raw_render:
                render[key] = v.value(check, raw_render[key], ("render", key), render[key])

    stages: list[StageConfig] = []
    raw_stages = data.get("stages")
    if "stages" not in data:
        v.add(CnnvizError("missing required key 'stages'", ()))
    elif not isinstance(raw_stages, list):
        v.add(wrong("a list of stages", raw_stages, ("stages",)))
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
        stages = v.graph(stages)

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
        name=config_name,
        description=description,
        data=data,
        source=source,
        base_dir=files.base_dir,
        locations=locations,
        text=text,
        value_range=inp["range"],
        normalize=inp["normalize"],
        files=files,
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
        return validate(data, Locations(source=None), Path(base_dir or "."), None, None)
    if isinstance(source, Path) or not _looks_like_yaml_text(source):
        data, locations, text = read_config_file(source)
        return validate(data, locations, Path(base_dir) if base_dir else Path(source).parent, text, str(source))
    data, locations = parse_yaml(source, "<string>")
    return validate(data, locations, Path(base_dir or "."), source, "<string>")


def read_config_file(path: str | os.PathLike[str]) -> tuple[Any, Locations, str]:
    """A config file's parsed YAML, the positions of its values and its text, not yet validated."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise CnnvizError(f"config file not found: {p}") from None
    except IsADirectoryError:
        raise CnnvizError(f"{p}: is a directory, not a config file") from None
    except OSError as exc:
        raise CnnvizError(f"{p}: cannot read the config: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CnnvizError(f"{p}: the config is not UTF-8 text (byte {exc.start})") from None
    data, locations = parse_yaml(text, os.fspath(path))
    return data, locations, text


def _looks_like_yaml_text(s: str) -> bool:
    return "\n" in s or (":" in s and not Path(s).exists())


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
