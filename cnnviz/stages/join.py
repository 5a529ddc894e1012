"""Stages that join branches: ``add`` and ``mul`` (elementwise, with broadcasting) and ``concat`` (channels).

A join takes two or more ``inputs`` (earlier stage names, or ``input``).
``add`` and ``mul`` need inputs of one shape, except that an input of shape
(1, 1, C) broadcasts over H × W (squeeze-and-excitation's channel weights)
and one of (H, W, 1) over C; ``concat`` needs one H × W and joins the
channels in the order given.  A shape that does not join is an error naming
the stages.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..formatting import times
from .base import PlanContext, PlannedStage, Shape, StageConfig, StageType

__all__ = ["Add", "Mul", "Concat"]


def _names(st: StageConfig) -> list[str]:
    return list(st.inputs or ())


def _mismatch(ctx: PlanContext, st: StageConfig, shapes: Sequence[Shape], why: str) -> Exception:
    parts = [f"{times(*s)} ({n})" for s, n in zip(shapes, _names(st), strict=False)]
    return ctx.error(f"{st.type} stage '{st.name}': {', '.join(parts)} {why}", st.path + ("inputs",))


class _Elementwise(StageType):
    arity = None
    keeps_channels = True

    def plan(self, ctx: PlanContext, st: StageConfig, shapes: Sequence[Shape]) -> PlannedStage:
        out = (max(s[0] for s in shapes), max(s[1] for s in shapes), max(s[2] for s in shapes))
        for s in shapes:
            ok = s == out or (s[:2] == (1, 1) and s[2] == out[2]) or (s[:2] == out[:2] and s[2] == 1)
            if not ok:
                raise _mismatch(ctx, st, shapes, "do not join: inputs must have one shape, or be (1, 1, C) or "
                                                 "(H, W, 1) to broadcast")
        return PlannedStage(st, self, tuple(shapes), out, ctx.np_dtype)

    def describe(self, ps: PlannedStage) -> str:
        return " + ".join(_names(ps.config)) if self.name == "add" else " × ".join(_names(ps.config))

    def summarize(self, ps: PlannedStage) -> str:
        return f"{len(ps.input_shapes)} inputs"


class Add(_Elementwise):
    name = "add"
    doc = "the elementwise sum of two or more inputs (a residual join)"

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        out = np.add(xs[0], xs[1])
        for x in xs[2:]:
            out += x
        return np.broadcast_to(out, ps.output_shape).copy() if out.shape != ps.output_shape else out


class Mul(_Elementwise):
    name = "mul"
    doc = "the elementwise product of two or more inputs (squeeze-and-excitation's channel weights)"

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        out = np.multiply(xs[0], xs[1])
        for x in xs[2:]:
            out *= x
        return np.broadcast_to(out, ps.output_shape).copy() if out.shape != ps.output_shape else out


class Concat(StageType):
    name = "concat"
    doc = "two or more inputs of one H × W, their channels joined in the order given"
    arity = None
    keeps_channels = False

    def plan(self, ctx: PlanContext, st: StageConfig, shapes: Sequence[Shape]) -> PlannedStage:
        if len({s[:2] for s in shapes}) != 1:
            raise _mismatch(ctx, st, shapes, "do not join: concat needs one height × width")
        return PlannedStage(st, self, tuple(shapes), (*shapes[0][:2], sum(s[2] for s in shapes)), ctx.np_dtype)

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        return np.concatenate(xs, axis=2)

    def describe(self, ps: PlannedStage) -> str:
        return " | ".join(f"{n} ({s[2]})" for n, s in zip(_names(ps.config), ps.input_shapes, strict=False))

    def summarize(self, ps: PlannedStage) -> str:
        return " + ".join(str(s[2]) for s in ps.input_shapes) + " channels"


STAGE_TYPES = (Add(), Mul(), Concat())
