"""Run a planned stack: stage by stage, in config order, each output dropped once its last consumer has run."""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import Config, load_config
from ..stages import PlannedStage
from .memory import check_memory
from .plan import consumers, plan

__all__ = ["Layer", "Layers", "RunSource", "execute", "iter_run", "run"]


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
    source : RunSource or None
        What the run was made from (its config and input), for a layer of
        :func:`run`; None otherwise.  Not part of the repr or of equality.
    """

    index: int
    name: str
    type: str
    output: np.ndarray
    stage: PlannedStage | None
    seconds: float
    source: RunSource | None = field(default=None, repr=False, compare=False)

    @property
    def params(self) -> Any:
        return self.stage.config.params if self.stage is not None else {}


class RunSource:
    """What one :func:`run` was made from: the config, the input as the stack saw it, and the image's name.

    Each layer of the run holds it (``Layer.source``), and so does the list
    (``Layers.source``): a picture of one layer (a notebook's) needs the
    config's ``render`` section, and an overlay the input.  It reaches the
    run's list of layers only weakly (:meth:`layers`), so keeping one layer
    does not keep every other output alive.

    Attributes
    ----------
    config : Config
    image : ndarray (H, W, C)
        The input as the stack saw it (the config's ``input`` section applied).
    image_name : str or None
        The sample name or path the image was read from; None for an array.
    """

    def __init__(self, config: Config, image: np.ndarray, image_name: str | None = None) -> None:
        self.config = config
        self.image = image
        self.image_name = image_name
        self._layers: weakref.ReferenceType[Layers] | None = None

    def layers(self) -> Layers | None:
        """The run's list of layers while it is alive, else None."""
        return self._layers() if self._layers is not None else None

    def attach(self, layers: Layers) -> None:
        """Make ``layers`` the run's list (weakly held)."""
        self._layers = weakref.ref(layers)

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config, "image": self.image, "image_name": self.image_name}  # a weakref does not pickle

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _layers=None)

    def __repr__(self) -> str:
        return f"RunSource({self.config.name or self.config.source!r}, image {self.image_name or 'array'} " \
               f"{tuple(self.image.shape)})"


class Layers(list[Layer]):
    """What :func:`run` returns: a plain list of :class:`Layer` that also keeps ``source`` (a :class:`RunSource`).

    It is a ``list`` in every way (slices and sums are plain lists); the only
    addition is ``source``, through which a notebook draws the run
    (``import cnnviz`` inside IPython registers the pictures: see
    :mod:`cnnviz.notebook`).
    """

    def __init__(self, layers: Iterable[Layer] = (), source: RunSource | None = None) -> None:
        super().__init__(layers)
        self.source = source
        if source is not None:
            source.attach(self)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        source = self.__dict__.get("source")
        if source is not None and source.layers() is None:  # unpickled, or deep-copied (a shallow copy shares it)
            source.attach(self)


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


def run(config: Config | Any, image: Any, *, max_memory: int | None = None) -> Layers:
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
    Layers
        A list of :class:`Layer`, one per stage, each with ``.name``,
        ``.type`` and ``.output`` (H, W, C); the list and each layer also
        hold ``.source`` (the config and the input as the stack saw it).  In
        Jupyter the list shows itself as the overview and every stage's grid,
        a layer as its grid.
    """
    from .inputs import load_image

    config = load_config(config)
    x = load_image(image, config)
    source = RunSource(config, x, os.fspath(image) if isinstance(image, (str, os.PathLike)) else None)
    layers = Layers(iter_run(config, x, planned=plan(config, x.shape), max_memory=max_memory, keep=True), source)
    for layer in layers:
        layer.source = source
    return layers
