"""The registry of stage types: one :class:`~cnnviz.stages.base.StageType` object per ``type:``.

Config validation, planning, ``summary``, the pictures and ``watch`` read
stage types from :data:`REGISTRY` and nothing else, so a new stage type is
one module in this package that defines ``STAGE_TYPES = (MyType(),)``, plus
its tests: the modules are found by listing the package, not by a list here.
Modules that define no stage types (``base``, ``filters``) are skipped.

>>> REGISTRY["conv"].keys["padding"].default
'valid'
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Key, PlannedStage, StageConfig, StageType, Window

__all__ = ["REGISTRY", "STAGE_TYPES", "Key", "PlannedStage", "StageConfig", "StageType", "Window"]

#: The order types are listed in (``did you mean``, documentation); types in other modules follow.
_FIRST = ("conv", "pointwise", "pool", "norm", "dense")


def _discover() -> dict[str, StageType]:
    names = sorted((m.name for m in pkgutil.iter_modules(__path__)),
                   key=lambda n: (_FIRST.index(n) if n in _FIRST else len(_FIRST), n))
    found: dict[str, StageType] = {}
    for module_name in names:
        module = importlib.import_module(f"{__name__}.{module_name}")
        for kind in getattr(module, "STAGE_TYPES", ()):
            if kind.name in found:
                raise RuntimeError(f"stage type {kind.name!r} is defined twice ({module_name})")
            found[kind.name] = kind
    return found


#: Every stage type, by the name users write.
REGISTRY: dict[str, StageType] = _discover()
#: Their names.
STAGE_TYPES: tuple[str, ...] = tuple(REGISTRY)
