"""Plan a stack for an input shape: every stage's shapes, kernels, costs and geometry, before any pixel.

:func:`plan` turns a validated :class:`~cnnviz.config.Config` and an input
shape into :class:`~cnnviz.stages.PlannedStage` objects, in config order:
kernels drawn and checked, every output shape, parameter count, multiply-adds
and receptive field computed, so that a kernel that does not fit is an error
that names the stage and both sizes before anything runs.

The stages form a graph: each takes the outputs of its ``sources`` (0 is the
image, ``k`` is stage ``k``, 1-based); a stage without ``inputs:`` takes the
previous one.  Geometry follows the graph: a window of size ``k``, stride
``s`` and padding ``p`` before the first cell turns (field ``r``, jump ``j``,
start ``t``) of its input into ``(r + (k−1)·j, j·s, t + ((k−1)/2 − p)·j)``;
a join takes its input with the largest field.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..config import Config
from ..stages import REGISTRY, PlannedStage, Window
from ..stages.base import Shape

__all__ = ["plan", "Geometry", "step_geometry", "consumers"]

#: (receptive field, jump, start) per axis: ((rf_h, rf_w), (j_h, j_w), (t_h, t_w)).
Geometry = tuple[tuple[int, int], tuple[int, int], tuple[float, float]]

_IMAGE: Geometry = ((1, 1), (1, 1), (0.0, 0.0))


def step_geometry(g: Geometry, window: Window | None, shape: Shape) -> Geometry:
    """The geometry of an output cell, given its input's geometry ``g``, the stage's window and input ``shape``.

    >>> step_geometry(((1, 1), (1, 1), (0.0, 0.0)), Window((3, 3), (2, 2), (1, 1)), (8, 8, 1))
    ((3, 3), (2, 2), (0.0, 0.0))
    """
    if window is None:
        return g
    rf, jump, start = g
    if window.size is None:  # the whole input
        full = (rf[0] + (shape[0] - 1) * jump[0], rf[1] + (shape[1] - 1) * jump[1])
        centre = (start[0] + (shape[0] - 1) / 2 * jump[0], start[1] + (shape[1] - 1) / 2 * jump[1])
        return full, full, centre
    k, s, p = window.size, window.stride, window.pad
    return (
        (rf[0] + (k[0] - 1) * jump[0], rf[1] + (k[1] - 1) * jump[1]),
        (jump[0] * s[0], jump[1] * s[1]),
        (start[0] + ((k[0] - 1) / 2 - p[0]) * jump[0], start[1] + ((k[1] - 1) / 2 - p[1]) * jump[1]),
    )


def _sources(config: Config) -> list[tuple[int, ...]]:
    """Each stage's inputs as positions: 0 the image, k stage k (1-based)."""
    out: list[tuple[int, ...]] = []
    names = {st.name: st.index + 1 for st in config.stages}
    for st in config.stages:
        if st.inputs is None:
            out.append((st.index,))  # the previous stage (the image for the first)
        else:
            out.append(tuple(0 if n == "input" else names[n] for n in st.inputs))
    return out


def plan(config: Config, input_shape: Sequence[int]) -> list[PlannedStage]:
    """Plan every stage of ``config`` for an input of ``input_shape``.

    Parameters
    ----------
    config : Config
    input_shape : (H, W) or (H, W, C)

    Returns
    -------
    list of PlannedStage
        One per stage, in config order, each with its ``sources``, shapes,
        kernels, costs, ``receptive_field``, ``jump``, ``start`` and ``labels``.

    Raises
    ------
    CnnvizError
        A kernel of the wrong depth, a kernel or window larger than its
        (padded) input, a bias list of the wrong length — located in the config.
    """
    shape: Shape = (int(input_shape[0]), int(input_shape[1]), int(input_shape[2]) if len(input_shape) == 3 else 1)
    shapes: dict[int, Shape] = {0: shape}
    geometry: dict[int, Geometry] = {0: _IMAGE}
    labels: dict[int, tuple[str, ...] | None] = {0: None}
    stages: list[PlannedStage] = []
    for st, sources in zip(config.stages, _sources(config), strict=True):
        kind = REGISTRY[st.type]
        in_shapes = [shapes[s] for s in sources]
        ps = kind.plan(config, st, in_shapes)
        ps.sources = sources
        ps.image_shape = shape
        widest = max(sources, key=lambda s: geometry[s][0][0] * geometry[s][0][1])
        ps.receptive_field, ps.jump, ps.start = step_geometry(geometry[widest], kind.window(ps), shapes[widest])
        if ps.labels is None and kind.keeps_labels and len(sources) == 1 and ps.is_vector \
                and in_shapes[0][2] == ps.output_shape[2]:
            ps.labels = labels[sources[0]]
        i = ps.index
        shapes[i], geometry[i], labels[i] = ps.output_shape, (ps.receptive_field, ps.jump, ps.start), ps.labels
        stages.append(ps)
    return stages


def consumers(stages: Sequence[PlannedStage]) -> dict[int, list[int]]:
    """Position (0 the image, k stage k) -> the 1-based indices of the stages that take it, in order."""
    out: dict[int, list[int]] = {0: []}
    for ps in stages:
        out.setdefault(ps.index, [])
        for s in ps.sources:
            out.setdefault(s, []).append(ps.index)
    return out
