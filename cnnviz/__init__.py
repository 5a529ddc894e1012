"""cnnviz: see what a stack of CNN stages does to an image.

>>> import cnnviz
>>> config = cnnviz.load_config("configs/numpycnn.yaml")   # doctest: +SKIP
>>> layers = cnnviz.run(config, "chelsea")                 # doctest: +SKIP

The public names are imported on first use, so ``import cnnviz`` (and
``cnnviz --help``) stays cheap.  Inside IPython (Jupyter), importing cnnviz
also registers its pictures with IPython's display (:mod:`cnnviz.notebook`;
the drawing code is imported when the first picture is shown).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

__all__ = [
    "__version__",
    "CnnvizError",
    "ConfigErrors",
    "Config",
    "Layer",
    "load_config",
    "load_image",
    "plan",
    "run",
    "render",
    "project",
]

_LAZY = {
    "CnnvizError": "cnnviz.errors",
    "ConfigErrors": "cnnviz.errors",
    "Config": "cnnviz.config",
    "load_config": "cnnviz.importers",
    "load_image": "cnnviz.pipeline.inputs",
    "Layer": "cnnviz.pipeline.run",
    "plan": "cnnviz.pipeline.plan",
    "run": "cnnviz.pipeline.run",
    "render": "cnnviz.rendering.writer",
    "project": "cnnviz.pipeline.geometry",
}

if TYPE_CHECKING:
    from .config import Config
    from .errors import CnnvizError, ConfigErrors
    from .importers import load_config
    from .pipeline.geometry import project
    from .pipeline.inputs import load_image
    from .pipeline.plan import plan
    from .pipeline.run import Layer, run
    from .rendering.writer import render


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cnnviz' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _show_in_ipython() -> None:
    """Inside IPython, show runs, layers and projections as pictures (nothing is imported outside it)."""
    import sys

    if "IPython" in sys.modules:
        from .notebook import register

        register()


_show_in_ipython()
del _show_in_ipython
