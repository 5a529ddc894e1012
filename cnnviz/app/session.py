"""THE path of one image through a config: load -> plan -> check -> compute -> render.

``cnnviz run`` (one image or ``-j N``), ``cnnviz batch`` (its renders and
its ``--shared-scale`` range pass) and ``cnnviz watch`` all make a
:class:`Session` and differ only in where its layers go: into a folder
(:meth:`Session.render`), into a range per stage (:meth:`Session.ranges`),
or also back to the caller for reuse (``render(keep=True)``).

A session reads its image once, computes the shape the stack will see
before anything is resized (the pixel limit applies to it), plans once for
that shape, and checks the memory estimate before any pixel is computed.
With ``normalize: global`` a streaming render computes the stack once,
keeping every output, when the estimate says they fit; twice (a range pass,
then the drawing pass) only when they do not.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config
from ..errors import CnnvizError
from ..io.images import image_label
from ..limits import safe_name
from ..pipeline.inputs import RawImage, input_shape, prepare_input, read_input, resize_bytes
from ..pipeline.memory import MemoryLimitError, check_memory
from ..pipeline.plan import plan
from ..pipeline.run import Layer, execute
from ..rendering.scale import finite_range, is_vector
from ..rendering.writer import Writer
from ..stages import PlannedStage

__all__ = ["Session", "SessionResult", "default_outdir", "stage_ranges_of"]


def default_outdir(config: Config, config_path: str | os.PathLike[str] | None, image: str | None) -> Path:
    """``cnnviz-out/<config>/<image>``: never the current folder itself, never outside ``cnnviz-out``.

    ``<config>`` is the config's ``name:`` or its file's stem, ``<image>`` the
    sample name or the image file's stem, both made safe folder names (a
    config called ``...yaml`` gets ``_``, not ``..``).
    """
    stem = config.name or (Path(config_path).stem if config_path is not None else "cnnviz")
    return Path("cnnviz-out") / safe_name(stem) / (image_label(image) if image is not None else "array")


@dataclass
class SessionResult:
    """What :meth:`Session.render` did.

    Attributes
    ----------
    files : list of Path
        Every file written, ``manifest.json`` last.
    layers : list of Layer
        Every stage's output, when asked to keep them (else empty).
    computed : list of int
        1-based indices of the stages computed (the others were reused).
    passes : int
        How many times the stack was computed (2 only for a streaming
        ``normalize: global`` whose outputs do not fit in memory together).
    seconds : float
    drawings : dict of str to Drawing
        Every picture as drawn, by file stem (``00_input``, ``01_edges``,
        ``filters_01_edges``, ``overview``): its maps are the rasters named
        ``map <channel>`` (``input`` for the input), at their own resolution.
    """

    files: list[Path]
    layers: list[Layer]
    computed: list[int]
    passes: int
    seconds: float
    drawings: dict[str, Any] = field(default_factory=dict)


def stage_ranges_of(layers: Sequence[Layer] | Iterator[Layer]) -> dict[int, tuple[float, float]]:
    """Stage index -> (min, max) of its output, for every stage drawn as a grid (vectors are left out)."""
    out: dict[int, tuple[float, float]] = {}
    for layer in layers:
        if not is_vector(layer.output.shape):
            lo, hi = finite_range(layer.output)
            out[layer.index] = (float(lo), float(hi))
    return out


def _global(ranges: Mapping[int, tuple[float, float]]) -> tuple[float, float] | None:
    if not ranges:
        return None
    return min(r[0] for r in ranges.values()), max(r[1] for r in ranges.values())


class Session:
    """One config on one image.

    Parameters
    ----------
    config : Config
        Validated once, by the caller.
    image : str, path or ndarray
        A file or sample name (read now), or an array (H, W) or (H, W, C)
        to which the config's ``input`` section is applied.
    image_name : str, optional
        How the manifest and the pictures name the image [the given name].
    prepared : ndarray (H, W, C), optional
        The input already prepared for this config (``watch`` keeps it):
        ``image`` is then only its name.
    planned : list of PlannedStage, optional
        The plan for this input's shape, made before (``run`` plans every
        image before it renders the first).
    max_memory : int, optional
        Bytes; default three quarters of the available memory.
    plans : dict, optional
        Input shape -> plan, shared by the sessions of one config: a shape
        planned before is not planned again.

    Raises
    ------
    CnnvizError
        The image cannot be read, is over the pixel limit (as read, or as
        ``input.resize`` would make it), or the stack does not fit it.
    """

    def __init__(self, config: Config, image: str | os.PathLike[str] | np.ndarray, *,
                 image_name: str | None = None, prepared: np.ndarray | None = None,
                 planned: list[PlannedStage] | None = None, max_memory: int | None = None,
                 plans: dict[tuple[int, int, int], list[PlannedStage]] | None = None) -> None:
        self.config = config
        self.source = image
        self.image_name = image_name if image_name is not None else (
            None if isinstance(image, np.ndarray) else os.fspath(image))
        self.max_memory = max_memory
        self._raw: RawImage | None = None
        self._x: np.ndarray | None = prepared
        if prepared is not None:
            self.shape: tuple[int, int, int] = tuple(prepared.shape)  # type: ignore[assignment]
        else:
            self._raw = read_input(image)
            self.shape = input_shape(self._raw, config)
        if planned is None and plans is not None:  # one plan per input shape, shared by the sessions of a run
            planned = plans.get(self.shape)
            if planned is None:
                planned = plans[self.shape] = plan(config, self.shape)
        self.stages = planned if planned is not None else plan(config, self.shape)

    # -- the steps ---------------------------------------------------------

    def check(self, *, keep: bool) -> int:
        """The memory estimate (bytes) of computing the stack, keeping every output or streaming."""
        extra = 0
        if self._x is None and self._raw is not None:
            extra = self._raw[0].nbytes + resize_bytes(self._raw, self.config)
        return check_memory(self.stages, self.shape, self.max_memory, keep=keep, extra=extra)

    def input(self) -> np.ndarray:
        """The input as the stack sees it (prepared on first use; the image as read is dropped then)."""
        if self._x is None:
            if self._raw is None:
                self._raw = read_input(self.source)
            self._x = prepare_input(self._raw, self.config)
            self._raw = None
        return self._x

    def release(self) -> None:
        """Drop the image (read again when needed): for a caller that prepares many sessions first."""
        if not isinstance(self.source, np.ndarray):
            self._raw = None
            self._x = None

    def compute(self, *, inplace: bool = False, reuse: Mapping[int, Layer] | None = None) -> Iterator[Layer]:
        """Every stage's layer, in order (see :func:`cnnviz.pipeline.run.execute`)."""
        return execute(self.stages, self.input(), inplace=inplace, reuse=dict(reuse) if reuse else None)

    def ranges(self) -> dict[int, tuple[float, float]]:
        """Stage index -> (min, max) of every grid stage, streamed (batch ``--shared-scale``'s first pass)."""
        self.check(keep=False)
        return stage_ranges_of(self.compute(inplace=True))

    # -- the whole path ----------------------------------------------------

    def render(self, outdir: str | os.PathLike[str], *, stream: bool = True, save_arrays: bool = False,
               config_path: str | os.PathLike[str] | None = None,
               stage_ranges: Mapping[int, Sequence[float]] | None = None,
               reuse: Mapping[int, Layer] | None = None, keep: bool = False) -> SessionResult:
        """Compute and write every picture, the manifest and (``save_arrays``) the arrays into ``outdir``.

        ``stream`` draws each stage as it is computed and drops it; ``keep``
        returns every layer (and so keeps them all); ``reuse`` (stage index ->
        layer) skips computing those stages; ``stage_ranges`` fixes the colour
        range of those stages (batch ``--shared-scale``).
        """
        t0 = time.perf_counter()
        needs_global = self.config.render["normalize"] == "global" and stage_ranges is None
        passes = 1
        global_range = None
        if keep or not stream:
            self.check(keep=True)
            layers: Any = list(self.compute(reuse=reuse))
            if needs_global:
                global_range = _global(stage_ranges_of(layers))
        elif needs_global:
            try:
                self.check(keep=True)  # every output fits: compute once and keep them for the drawing
            except MemoryLimitError:
                self.check(keep=False)
                global_range = _global(self.ranges())
                layers = self.compute(inplace=True, reuse=reuse)
                passes = 2
            else:
                layers = list(self.compute(reuse=reuse))
                global_range = _global(stage_ranges_of(layers))
        else:
            self.check(keep=False)
            layers = self.compute(inplace=True, reuse=reuse)
        kept: list[Layer] = []
        computed: list[int] = []
        try:
            with Writer(self.config, outdir, image_name=self.image_name, config_path=config_path,
                        save_arrays=save_arrays, stage_ranges=stage_ranges, global_range=global_range) as w:
                w.input(self.input())
                for layer in layers:
                    if not (reuse and layer.index in reuse):
                        computed.append(layer.index)
                    w.add(layer)
                    if keep:
                        kept.append(layer)
                files = w.finish()
        except OSError as exc:
            where = exc.filename or outdir
            raise CnnvizError(f"{where}: cannot write the output: {exc.strerror or exc}") from None
        return SessionResult(files, kept, computed, passes, time.perf_counter() - t0, dict(w.drawings))
