"""An :class:`~cnnviz.app.watch.incremental.IncrementalRenderer` that keeps each render's drawings.

The ``--serve`` page maps a mouse position on a grid picture to a feature-map
cell, so it needs where every tile was drawn: the
:class:`~cnnviz.rendering.canvas.Drawing` of every picture, which
:meth:`cnnviz.app.session.Session.render` returns
(:attr:`~cnnviz.app.session.SessionResult.drawings`) and the plain renderer
drops.  :class:`DrawnRenderer` is the same render, keeping them.

Its :meth:`~DrawnRenderer.update` is the parent's with one line more
(``self.drawings = result.drawings``): when
:class:`~cnnviz.app.watch.incremental.IncrementalRenderer` keeps the drawings
itself, this module goes.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ...pipeline.plan import plan
from ...pipeline.run import Layer
from ..session import Session
from .incremental import IncrementalRenderer, RenderReport, reusable_stages

__all__ = ["DrawnRenderer"]


class DrawnRenderer(IncrementalRenderer):
    """:class:`IncrementalRenderer` that also keeps :attr:`drawings`: file stem -> Drawing, of the last render."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drawings: dict[str, Any] = {}

    def update(self) -> RenderReport:
        """As :meth:`IncrementalRenderer.update`, keeping the render's drawings."""
        t0 = time.perf_counter()
        config = self.load_config()
        x = self._load_input(config)
        planned = plan(config, x.shape)
        first = self.config is None
        same_input = self.input is not None and (x is self.input or (
            x.shape == self.input.shape and x.dtype == self.input.dtype and np.array_equal(x, self.input)))
        reuse: dict[int, Layer] = {}
        if not first and same_input:
            old = {la.index: la for la in self.layers}
            reuse = {i: old[i] for i in reusable_stages(self.planned, planned) if i in old}
        session = Session(config, self.image, prepared=x, planned=planned, max_memory=self.max_memory)
        result = session.render(self.outdir, keep=True, reuse=reuse, config_path=self.config_path)
        self.config, self.planned, self.layers, self.input = config, list(planned), result.layers, x
        self.drawings = dict(result.drawings)
        return RenderReport(
            stages=len(result.layers),
            recomputed_from=result.computed[0] if result.computed else None,
            computed=result.computed,
            first=first,
            seconds=time.perf_counter() - t0,
            outdir=self.outdir,
            files=result.files,
        )
