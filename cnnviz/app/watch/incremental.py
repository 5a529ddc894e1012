"""Re-rendering after an edit: compute again only the stages whose output can have changed.

A stage is reused when its fingerprint (its stage type's
:meth:`~cnnviz.stages.base.StageType.fingerprint`: type, shapes, parameters
that decide the output, resolved kernels and weights) equals the stage's at
the same position in the previous plan, and every stage it takes input from
is reused too; the image must be the same.  An edit to ``render:`` alone, or
to stage names, recomputes nothing and only redraws the pictures.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...config import Config
from ...importers import load_config_file
from ...io.images import SAMPLES
from ...pipeline.inputs import input_shape, prepare_input, read_input
from ...pipeline.plan import plan
from ...pipeline.run import Layer
from ...stages import PlannedStage
from ..session import Session
from .backends import file_signature

__all__ = ["RenderReport", "reusable_stages", "first_changed_stage", "IncrementalRenderer"]


@dataclass
class RenderReport:
    """One successful render.

    Attributes
    ----------
    stages : int
        Stages drawn.
    recomputed_from : int or None
        1-based index of the first stage computed again (None: none was).
    computed : list of int
        1-based indices of the stages that were computed.
    first : bool
        The first render of the session (nothing to reuse).
    seconds : float
        From reading the config to the manifest written.
    outdir : Path
    files : list of Path
        Every file written, ``manifest.json`` last.
    """

    stages: int
    recomputed_from: int | None
    computed: list[int]
    first: bool
    seconds: float
    outdir: Path
    files: list[Path]

    def line(self) -> str:
        """``rendered 9 stages (recomputed from stage 4) in 0.21 s -> DIR``."""
        s = "" if self.stages == 1 else "s"
        if self.first:
            how = "all computed"
        elif self.recomputed_from is None:
            how = "nothing recomputed"
        else:
            how = f"recomputed from stage {self.recomputed_from}"
        return f"rendered {self.stages} stage{s} ({how}) in {self.seconds:.2f} s -> {self.outdir}"


def reusable_stages(old: Sequence[PlannedStage], new: Sequence[PlannedStage]) -> set[int]:
    """1-based indices of the stages of ``new`` whose outputs ``old`` (planned for the same input) already has."""
    reused: set[int] = set()
    for i, b in enumerate(new):
        if i < len(old) and old[i].fingerprint() == b.fingerprint() \
                and old[i].sources == b.sources and all(s == 0 or s in reused for s in b.sources):
            reused.add(b.index)
    return reused


def first_changed_stage(old: Sequence[PlannedStage], new: Sequence[PlannedStage]) -> int:
    """0-based position of the first stage of ``new`` that must be computed again (``len(new)``: none)."""
    reused = reusable_stages(old, new)
    return next((i for i, b in enumerate(new) if b.index not in reused), len(new))


class IncrementalRenderer:
    """Renders a config on an image, reusing the previous run where it can.

    Parameters
    ----------
    config_path : str
        The YAML file, read again on every :meth:`update`.
    image : str
        A file or a sample name.
    outdir : path
        Where the pictures go.
    overrides : list of str
        ``--set key.path=value`` assignments, applied after every read.
    max_memory : int, optional
        As for ``cnnviz run``.
    """

    def __init__(self, config_path: str, image: str, outdir: str | os.PathLike[str],
                 overrides: Sequence[str] = (), *, max_memory: int | None = None,
                 keep_drawings: bool = False) -> None:
        self.config_path = config_path
        self.image = image
        self.outdir = Path(outdir)
        self.overrides = list(overrides)
        self.max_memory = max_memory
        #: The last config that rendered, its plan, input and layers.
        self.config: Config | None = None
        self.planned: list[PlannedStage] = []
        self.layers: list[Layer] = []
        self.input: np.ndarray | None = None
        #: With ``keep_drawings`` (``watch --serve``): file stem -> Drawing of the last render, where every
        #: tile was drawn (the page maps a mouse position to a cell with it).
        self.keep_drawings = keep_drawings
        self.drawings: dict[str, Any] = {}
        self._image_key: tuple[Any, ...] | None = None
        self._image: np.ndarray | None = None

    def load_config(self) -> Config:
        """Read and validate the config (with the overrides)."""
        return load_config_file(self.config_path, self.overrides)

    def _load_input(self, config: Config) -> np.ndarray:
        sig = None if self.image in SAMPLES else file_signature(self.image)
        key = (config.color, config.resize, config.dtype, sig)
        if self._image is None or key != self._image_key:
            raw = read_input(self.image)
            input_shape(raw, config)  # the pixel limit, before resizing
            self._image = prepare_input(raw, config)
            self._image_key = key
        return self._image

    def update(self) -> RenderReport:
        """Read the config, compute what changed and render.

        Raises
        ------
        CnnvizError
            A mistake in the config (or a filter file), located; nothing is
            written and the previous run is kept.
        """
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
        if self.keep_drawings:
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
