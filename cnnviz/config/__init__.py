"""YAML text -> a validated, immutable :class:`Config`.

* :mod:`~cnnviz.config.yamlsource` — YAML with the position of every value (safe loader, bounded);
* :mod:`~cnnviz.config.schema` — the top-level schema, validation, :class:`Config`;
* :mod:`~cnnviz.config.overrides` — ``--set key.path=value``.

A stage's keys belong to its stage type (:mod:`cnnviz.stages`).
"""

from __future__ import annotations

from .overrides import apply_overrides, load_config_file
from .schema import RENDER_DEFAULTS, STAGE_TYPES, Config, StageConfig, load_config, referenced_files

__all__ = [
    "Config",
    "StageConfig",
    "STAGE_TYPES",
    "RENDER_DEFAULTS",
    "load_config",
    "load_config_file",
    "apply_overrides",
    "referenced_files",
]
