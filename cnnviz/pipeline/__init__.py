"""Config + input shape -> a plan (a graph of planned stages) -> layers, one output per stage.

* :mod:`~cnnviz.pipeline.plan` — shapes, kernels, costs and geometry, before any pixel;
* :mod:`~cnnviz.pipeline.memory` — the estimate of a run's peak memory, and the check;
* :mod:`~cnnviz.pipeline.inputs` — the image as the stack sees it, checked before it is resized;
* :mod:`~cnnviz.pipeline.run` — the computation, streamed.
"""

from __future__ import annotations

from .inputs import load_image
from .memory import MemoryLimitError, check_memory, estimate_memory
from .plan import plan
from .run import Layer, execute, iter_run, run

__all__ = ["Layer", "MemoryLimitError", "check_memory", "estimate_memory", "execute", "iter_run", "load_image",
           "plan", "run"]
