"""Trained networks in: an ONNX model as a cnnviz stack (:mod:`~cnnviz.importers.onnx`).

:func:`load_config` and :func:`load_config_file` are the config loaders that
also take an ``.onnx`` path (SPEC §7: "wherever a CONFIG is expected, an .onnx
file may be given"): the model is imported in memory, its weights held as the
bytes of the ``.npz`` that ``cnnviz import`` would write beside the YAML, so
the in-memory stack and the written one are the same config.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config import Config, apply_overrides
from ..config import load_config as load_yaml_config
from ..config import load_config_file as load_yaml_config_file
from ..config.schema import validate
from ..config.yamlsource import parse_yaml
from ..errors import CnnvizError
from ..io.arrays import ConfigFiles
from ..io.pngio import atomic_write

__all__ = ["is_model", "load_config", "load_config_file", "load_model_config", "imported_config", "import_command"]


def is_model(source: Any) -> bool:
    """Whether ``source`` names an ONNX model (a path ending in ``.onnx``)."""
    return isinstance(source, (str, os.PathLike)) and str(source).lower().endswith(".onnx")


def load_model_config(path: str | os.PathLike[str]) -> Config:
    """Import the model at ``path`` in memory and validate the stack, as if written beside it."""
    from .onnx import import_onnx

    return imported_config(import_onnx(path), path)


def imported_config(imported: Any, path: str | os.PathLike[str]) -> Config:
    """The validated config of an :class:`~cnnviz.importers.onnx.Imported` model, its weights held in memory.

    ``path`` is where the model lives: errors name it, and the weights are
    the ``.npz`` that ``cnnviz import`` would write beside it.
    """
    text = imported.yaml()
    base = Path(path).parent
    data, locations = parse_yaml(text, f"{path} (imported)")
    files = ConfigFiles(base, {str((base / imported.weights_name).resolve()): imported.npz()})
    return validate(data, locations, files, text, os.fspath(path))


def load_config(source: str | Path | Mapping[str, Any] | Config, *, base_dir: str | Path | None = None) -> Config:
    """:func:`cnnviz.config.load_config`, and an ``.onnx`` path imported in memory."""
    if is_model(source):
        return load_model_config(source)  # type: ignore[arg-type]
    return load_yaml_config(source, base_dir=base_dir)


def load_config_file(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Config:
    """:func:`cnnviz.config.load_config_file`, and an ``.onnx`` path imported in memory (then ``overrides``)."""
    if is_model(path):
        config = load_model_config(path)
        return apply_overrides(config, list(overrides)) if overrides else config
    return load_yaml_config_file(path, overrides)


def import_command(model: str, output: str | None = None, force: bool = False) -> tuple[Path, Path]:
    """``cnnviz import``: write ``STACK.yaml`` and its weights ``STACK.npz`` beside it.

    ``output`` defaults to the model's stem in the current folder.  Nothing is
    written when the model does not import or its stack does not validate;
    existing files are refused unless ``force``.

    Returns
    -------
    (yaml path, npz path)
    """
    from .onnx import import_onnx

    out = Path(output) if output else Path(Path(model).stem + ".yaml")
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise CnnvizError(f"{out}: the stack is a YAML file; name it STACK.yaml")
    npz = out.with_suffix(".npz")
    imported = import_onnx(model, weights_name=npz.name)
    text = imported.yaml()
    data, locations = parse_yaml(text, str(out))
    files = ConfigFiles(out.parent, {str(npz.resolve()): imported.npz()})
    validate(data, locations, files, text, str(out))  # the stack must be one cnnviz runs
    for p in (out, npz):
        if p.exists() and not force:
            raise CnnvizError(f"{p} already exists (use --force to overwrite it)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(npz, "wb") as f:
            f.write(imported.npz())
        with atomic_write(out, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise CnnvizError(f"{exc.filename or out}: cannot write: {exc.strerror or exc}") from None
    return out, npz
