"""cnnviz in Jupyter: a run, a layer and a projection show themselves as pictures (SPEC §4, §8).

``import cnnviz`` inside IPython (a Jupyter kernel, or the ``ipython``
shell) calls :func:`register`, which adds cnnviz's pictures to IPython's
display formatters, by type name (nothing of cnnviz is imported for it):

* the list :func:`cnnviz.run` returns (``cnnviz.pipeline.run.Layers``):
  ``text/html``, the overview and then every stage's grid (or bar chart),
  inline as ``data:image/png`` images;
* one :class:`~cnnviz.pipeline.run.Layer`: ``image/png``, its grid, as the
  run draws it;
* :func:`cnnviz.project`'s result (:class:`~cnnviz.pipeline.geometry.Projection`):
  ``image/png``, the map placed on the input and blended over it.

Each also gets a short ``text/plain`` form for IPython (the terminal
shows that instead of every array's repr); ``repr`` is unchanged.

The pictures are the ones ``cnnviz run`` writes, pixel for pixel (the same
:class:`~cnnviz.rendering.writer.Writer` draws them), kept in memory: no file is
written.  This module imports nothing heavy; the drawing code
(:mod:`cnnviz.notebook.pictures`, which imports :mod:`cnnviz.rendering`)
is imported when the first picture is shown.  The pipeline cannot draw its
own objects (it sits below rendering), so the pictures are hooked up from
here, above it.

Outside IPython the same pictures are plain functions: :func:`layers_html`,
:func:`layer_png`, :func:`projection_png`.  In an IPython that started after
cnnviz was imported, call :func:`register` (or ``%load_ext cnnviz.notebook``).
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["register", "load_ipython_extension", "layers_html", "layer_png", "projection_png"]

#: The modules of the types shown (IPython matches a type by its module and name, without importing it).
RUN = "cnnviz.pipeline.run"
GEOMETRY = "cnnviz.pipeline.geometry"


def layers_html(layers: Any) -> str | None:
    """The HTML of a run's list: the overview and every stage's picture, as ``data:image/png`` images.

    None for a list that does not know its run (not from :func:`cnnviz.run`).
    """
    from .pictures import run_html

    return run_html(layers)


def layer_png(layer: Any) -> bytes | None:
    """One layer's grid (or bar chart) as PNG bytes, as ``cnnviz run`` draws it; None without its run."""
    from .pictures import layer_picture, png_bytes

    d = layer_picture(layer)
    return png_bytes(d) if d is not None else None


def projection_png(projection: Any) -> bytes | None:
    """A :func:`cnnviz.project` result blended over its input, as PNG bytes; None when it has no input."""
    from .pictures import png_bytes, projection_picture

    d = projection_picture(projection)
    return png_bytes(d) if d is not None else None


def _pretty(text: Any) -> Any:
    """An IPython pretty printer that prints ``text(obj)``."""
    def printer(obj: Any, p: Any, cycle: bool) -> None:
        p.text(text(obj))
    return printer


def register(ipython: Any = None) -> bool:
    """Show cnnviz's objects as pictures in ``ipython`` [the running IPython]; False when there is none.

    Safe to call again (the same functions are registered once more).
    """
    if ipython is None:
        ip = sys.modules.get("IPython")
        ipython = ip.get_ipython() if ip is not None else None
        if ipython is None:
            return False
    from .text import layer_text, layers_text, projection_text

    formatters = ipython.display_formatter.formatters
    formatters["text/html"].for_type_by_name(RUN, "Layers", layers_html)
    formatters["image/png"].for_type_by_name(RUN, "Layer", layer_png)
    formatters["image/png"].for_type_by_name(GEOMETRY, "Projection", projection_png)
    plain = formatters["text/plain"]
    plain.for_type_by_name(RUN, "Layers", _pretty(layers_text))
    plain.for_type_by_name(RUN, "Layer", _pretty(layer_text))
    plain.for_type_by_name(GEOMETRY, "Projection", _pretty(projection_text))
    return True


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext cnnviz.notebook``."""
    register(ipython)
