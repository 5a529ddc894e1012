"""Run a planned stack: stage by stage, in config order, each output dropped once its last consumer has run."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import Config, load_config
from ..stages import PlannedStage
from .memory import check_memory
from .plan import consumers, plan

__all__ = ["Layer", "execute", "iter_run", "run"]


@dataclass
class Layer:
    """One stage's result.

    Attributes
    ----------
    index : int
        1-based stage position.
    name, type : str
    output : ndarray (H, W, C)
    stage : PlannedStage or None
        None for a layer built by hand (drawn without a description or kernels).
    seconds : float
        Time the stage took.
    """

    index: int
    name: str
    type: str
    output: np.ndarray
    stage: PlannedStage | None
    seconds: float

    @property
    def params(self) -> Any:
        return self.stage.config.params if self.stage is not None else {}


def execute(stages: Sequence[PlannedStage], x: np.ndarray, *, inplace: bool = False,
            reuse: dict[int, Layer] | None = None) -> Iterator[Layer]:
    """Compute ``stages`` on the prepared input ``x``, yielding each :class:`Layer` in order.

    An output is dropped (by this generator) once the last stage that takes
    it has run.  With ``inplace`` — for a caller that is done with each layer
    before it asks for the next — a stage that can overwrite its input does
    so when it is that input's last consumer (never the image itself).
    ``reuse``: stage index -> a layer computed before, yielded instead of
    computing that stage again (``watch``).
    """
    users = consumers(stages)
    alive: dict[int, np.ndarray] = {0: x}
    for ps in stages:
        old = reuse.get(ps.index) if reuse else None
        if old is not None:
            y, seconds = old.output, old.seconds
        else:
            inputs = [alive[s] for s in ps.sources]
            last_user = len(ps.sources) == 1 and ps.sources[0] != 0 and users[ps.sources[0]][-1] == ps.index
            t0 = time.perf_counter()
            y = ps.apply(inputs if ps.kind.arity != 1 else inputs[0], inplace=inplace and last_user)
            seconds = time.perf_counter() - t0
            del inputs  # hold no input past its last consumer
        for s in set(ps.sources):
            if users[s][-1] == ps.index:
                alive.pop(s, None)
        if users.get(ps.index):
            alive[ps.index] = y
        yield Layer(ps.index, ps.name, ps.type, y, ps, seconds)


def iter_run(config: Config | Any, image: Any, *, planned: list[PlannedStage] | None = None,
             max_memory: int | None = None, keep: bool = False, inplace: bool = False) -> Iterator[Layer]:
    """Run the stack stage by stage, yielding each :class:`Layer` as it is done.

    ``image`` is a path, a sample name or an array (prepared by
    :func:`cnnviz.pipeline.inputs.load_image` when it is not one already).
    The memory check assumes the caller keeps every layer when ``keep``.
    See :func:`execute` for ``inplace``.
    """
    from .inputs import load_image

    config = load_config(config)
    x = image if isinstance(image, np.ndarray) and planned is not None else load_image(image, config)
    stages = planned if planned is not None else plan(config, x.shape)
    check_memory(stages, x.shape, max_memory, keep=keep)
    yield from execute(stages, x, inplace=inplace and not keep)


def run(config: Config | Any, image: Any, *, max_memory: int | None = None) -> list[Layer]:
    """Run the stack on an image.

    Parameters
    ----------
    config : Config, dict, path or YAML text
    image : str, path or ndarray
        A file, a sample name (``chelsea``), or an array (H, W) or (H, W, C)
        (integer arrays are scaled by their dtype's maximum, floats taken as
        they are); the config's ``input`` section is applied.
    max_memory : int, optional
        Refuse (before running) a stack whose estimated peak memory is above
        this many bytes; default three quarters of the available memory.

    Returns
    -------
    list of Layer
        One per stage, each with ``.name``, ``.type`` and ``.output`` (H, W, C).
    """
    return list(iter_run(config, image, max_memory=max_memory, keep=True))
