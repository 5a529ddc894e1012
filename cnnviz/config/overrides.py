"""``--set key.path=value``: change any value of a config, re-validated, with errors that name the ``--set``."""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import CnnvizError, format_path
from .schema import Config, load_config, read_config_file, validate
from .yamlsource import Locations, parse_value

__all__ = ["apply_overrides", "load_config_file", "set_values"]

_SET_RE = re.compile(r"^([A-Za-z_]\w*(?:\[-?\d+\]|\.[A-Za-z_]\w*|\.-?\d+)*)=(.*)$", re.S)


def _keys(path_text: str) -> list[str | int]:
    return [int(p) if p.lstrip("-").isdigit() else p for p in re.findall(r"[A-Za-z_]\w*|-?\d+", path_text)]


def set_values(data: Any, locations: Locations, assignments: Sequence[str]) -> tuple[Any, Locations]:
    """``data`` (a copy) with ``key.path=value`` assignments made, and ``locations`` knowing which came from where.

    Raises
    ------
    CnnvizError
        An assignment that is not ``key.path=value``, whose value is not
        YAML, or whose path goes through a value that does not exist or is
        not a mapping.
    """
    data = copy.deepcopy(data if isinstance(data, dict) else {})
    locations = dataclasses.replace(locations, overrides=dict(locations.overrides), created=set(locations.created))
    for raw_text in assignments:
        text = raw_text.strip()
        m = _SET_RE.match(text)
        if not m:
            raise CnnvizError(f"--set {raw_text!r}: expected key.path=value, e.g. render.cmap=viridis")
        try:
            value = parse_value(m.group(2))
        except CnnvizError as err:
            raise CnnvizError(f"--set {text!r}: the value: {err.message}") from None
        keys = _keys(m.group(1))
        node: Any = data
        resolved: list[str | int] = []
        for i, k in enumerate(keys):
            last = i == len(keys) - 1
            nxt = None if last else keys[i + 1]
            if isinstance(k, int):
                if not isinstance(node, list) or not -len(node) <= k < len(node):
                    raise CnnvizError(f"--set {text!r}: {format_path([*resolved, k])} does not exist")
                k = k % len(node)
                resolved.append(k)
                if last:
                    break
                if isinstance(node[k], str) and isinstance(nxt, str):
                    node[k] = {"type": node[k]}
            else:
                if not isinstance(node, dict):
                    raise CnnvizError(f"--set {text!r}: {format_path(resolved)} is not a mapping")
                resolved.append(k)
                if last:
                    break
                if node.get(k) is None:
                    node[k] = {} if isinstance(nxt, str) else []
                    locations.created.add(tuple(resolved))  # a key the config did not have
            node = node[k]
        node[resolved[-1]] = value
        locations.overrides[tuple(resolved)] = text
    return data, locations


def apply_overrides(config: Config, assignments: Sequence[str]) -> Config:
    """Return ``config`` with ``key.path=value`` assignments applied and re-validated.

    Keys use the error messages' syntax: ``render.cmap=viridis``,
    ``stages[0].stride=2`` (``stages.0.stride`` works too; ``stages[-1]`` is
    the last stage).  Values are YAML: ``stages[2].size=[3,3]``.  A stage
    given as a bare name (``- relu``) becomes a mapping when one of its keys
    is set.  Every error an assignment causes names it (``--set
    stages[0].stride=0: stages[0].stride: must be at least 1, not 0``), also
    when the error is found above or below the path it set.
    """
    data, locations = set_values(dict(config.data), config.locations, assignments)
    return validate(data, locations, config.files or config.base_dir, None, config.source)


def load_config_file(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Config:
    """Load the config file at ``path`` with ``--set`` style ``overrides``, validating it once."""
    if not overrides:
        return load_config(Path(path))
    data, locations, _ = read_config_file(path)
    data, locations = set_values(data, locations, overrides)
    return validate(data, locations, Path(path).parent, None, os.fspath(path))
