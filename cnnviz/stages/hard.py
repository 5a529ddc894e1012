"""Piecewise-linear activations of MobileNetV3, as ONNX defines them: ``hardsigmoid`` and ``hardswish``."""

from __future__ import annotations

import numpy as np

from ..formatting import short_number
from ..limits import number
from ..ops.pointwise import hardsigmoid, hardswish
from .base import Key, PlannedStage, StageType

__all__ = ["HardSigmoid", "HardSwish"]


class HardSigmoid(StageType):
    name = "hardsigmoid"
    doc = "max(0, min(1, alpha · x + beta))"
    keys = {"alpha": Key(number(), 0.2), "beta": Key(number(), 0.5)}
    inplace = True
    keeps_labels = True

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        return hardsigmoid(xs[0], ps.params["alpha"], ps.params["beta"], out=xs[0] if inplace else None)

    def describe(self, ps: PlannedStage) -> str:
        return f"α {short_number(ps.params['alpha'])}, β {short_number(ps.params['beta'])}"

    def summarize(self, ps: PlannedStage) -> str:
        return f"alpha {ps.params['alpha']:g}, beta {ps.params['beta']:g}"


class HardSwish(StageType):
    name = "hardswish"
    doc = "x · max(0, min(1, x/6 + 1/2))"
    keeps_labels = True

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        return hardswish(xs[0])

    def temp_bytes(self, ps: PlannedStage) -> int:
        h, w, c = ps.input_shape
        return h * w * c * ps.dtype.itemsize


STAGE_TYPES = (HardSigmoid(), HardSwish())
