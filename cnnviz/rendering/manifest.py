"""``manifest.json``, and the metadata every picture carries (the resolved config, image, version)."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..config import Config
from ..io.images import ImageSource
from ..io.pngio import TEXT_PREFIX
from ..pipeline import Layer
from ..version import __version__
from .scale import finite_range

__all__ = ["jsonable", "config_text", "png_text", "output_stats", "build_manifest", "manifest_json"]


def jsonable(x: Any) -> Any:
    """Plain JSON/YAML data: tuples to lists, numpy values to Python, non-finite floats to None."""
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, np.generic):
        return jsonable(x.item())
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, (str, int, bool)) or x is None:
        return x
    if isinstance(x, os.PathLike):
        return os.fspath(x)
    return str(x)


def config_text(config: Config) -> str:
    import yaml

    data = jsonable(config.resolved())
    # libyaml's dumper writes the same text as the pure-Python one, in about a quarter of the time
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def png_text(config_text: str, image_name: str | None, *, title: str = "", stage: str = "") -> dict[str, str]:
    """The PNG text chunks of one picture (see :mod:`cnnviz.pngio`)."""
    text = {
        "Software": f"cnnviz {__version__}",
        TEXT_PREFIX + "version": __version__,
        TEXT_PREFIX + "config": config_text,
        TEXT_PREFIX + "image": image_name or "",
    }
    if stage:
        text[TEXT_PREFIX + "stage"] = stage
    if title:
        text["Title"] = title
    return text


def output_stats(a: np.ndarray) -> dict[str, float | None]:
    if a.size == 0:
        return {"min": None, "max": None, "mean": None}
    lo, hi = finite_range(a)
    fin = np.isfinite(a).all()
    mean = float(np.mean(a, dtype=np.float64)) if fin else float(np.nanmean(np.where(np.isfinite(a), a, np.nan)))
    return jsonable({"min": float(lo), "max": float(hi), "mean": mean})


def build_manifest(
    config: Config,
    layers: Sequence[Layer],
    files_by_stage: Mapping[int, list[str]],
    *,
    input_files: list[str],
    other_files: list[str],
    image: ImageSource | None,
    image_shape: Sequence[int] | None,
    config_path: str | None,
    stats: Mapping[int, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The manifest (plain data; ``manifest.json`` is its JSON).

    ``stats`` (stage index -> min/max/mean) replaces the statistics of layers
    whose outputs were already dropped (``render(..., stream=True)``).

    Schema::

        {"cnnviz_version": "0.1.0", "manifest_version": 1,
         "config": {"path", "sha256", "name"},
         "image": {"name", "path" (the file read), "sample" (its sample name, or null), "shape"},
         "render": {resolved render section},
         "input": {"files": ["00_input.png"]},
         "stages": [{"index", "name", "type", "params", "output_shape", "inputs",
                     "receptive_field", "jump", "start",
                     "min", "max", "mean", "milliseconds", "files"}],

    ``inputs`` names the stages a stage takes (``input``: the image);
    ``receptive_field`` and ``jump`` are [h, w] in input pixels and ``start``
    the input coordinate [y, x] of output cell (0, 0)'s field centre (SPEC §8):
    cell (i, j) stands for the jump × jump block centred on start + (i, j) · jump.
         "files": [every file written, relative to the folder, manifest excluded]}
    """
    resolved = jsonable(config.resolved())
    by_name = {s["name"]: s for s in resolved["stages"]}
    stages = []
    names = {0: "input", **{int(layer.index): layer.name for layer in layers}}
    for layer in layers:
        entry = by_name.get(layer.name)
        if entry is None:
            params = jsonable(dict(getattr(getattr(layer.stage, "config", None), "params", None) or {}))
        else:
            params = {k: v for k, v in entry.items() if k not in ("type", "name")}
        stages.append({
            "index": int(layer.index),
            "name": layer.name,
            "type": layer.type,
            "params": params,
            "output_shape": [int(x) for x in layer.output.shape],
            **geometry(layer, names),
            **(stats[layer.index] if stats and layer.index in stats else output_stats(layer.output)),
            "milliseconds": round(float(layer.seconds) * 1000.0, 3),
            "files": list(files_by_stage.get(layer.index, [])),
        })
    files = list(input_files) + [f for i in sorted(files_by_stage) for f in files_by_stage[i]] + list(other_files)
    return {
        "cnnviz_version": __version__,
        "manifest_version": 1,
        "config": {"path": config_path, "sha256": config.sha256, "name": config.name,
                   "description": config.description},
        "image": {
            "name": image.label if image is not None else None,
            "path": str(image.path.resolve()) if image is not None and image.path.is_file() else None,
            "sample": image.sample if image is not None else None,
            "shape": [int(x) for x in image_shape] if image_shape is not None else None,
        },
        "render": resolved["render"],
        "input": {"files": list(input_files)},
        "stages": stages,
        "files": files,
    }


def geometry(layer: Any, names: Mapping[int, str]) -> dict[str, Any]:
    """A layer's inputs and receptive-field geometry for the manifest (empty for a layer built by hand)."""
    ps = getattr(layer, "stage", None)
    if ps is None or getattr(ps, "receptive_field", None) is None:
        return {}
    return {
        "inputs": [names.get(int(s), str(s)) for s in ps.sources],
        "receptive_field": [int(v) for v in ps.receptive_field],
        "jump": [int(v) for v in ps.jump],
        "start": [float(v) for v in ps.start],
    }


_SCALAR = r"(?:-?\d[\d.eE+-]*|true|false|null)"
_FLAT_LIST = re.compile(r"\[\s+(" + _SCALAR + r"(?:,\s+" + _SCALAR + r")*)\s+\]")


def manifest_json(manifest: Mapping[str, Any]) -> str:
    """The manifest as JSON text: indented, with lists of plain numbers kept on one line."""
    text = json.dumps(manifest, indent=2, allow_nan=False, ensure_ascii=False)
    return _FLAT_LIST.sub(lambda m: "[" + ", ".join(p.strip() for p in m.group(1).split(",")) + "]", text) + "\n"
