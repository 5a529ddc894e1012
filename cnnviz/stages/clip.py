"""The ``clip`` stage: clamp every value to ``min .. max`` (either may be omitted; ReLU6 is ``min: 0, max: 6``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CnnvizError, KeyPath
from ..formatting import short_number
from ..limits import number
from ..ops.pointwise import clip
from .base import Key, PlannedStage, StageType

__all__ = ["Clip"]


class Clip(StageType):
    name = "clip"
    doc = "clamp to min .. max, as ONNX Clip (ReLU6: min 0, max 6)"
    keys = {"min": Key(number()), "max": Key(number())}
    inplace = True
    keeps_labels = True

    def check(self, params: dict[str, Any], given: set[str], path: KeyPath) -> None:
        lo, hi = params["min"], params["max"]
        if lo is not None and hi is not None and lo > hi:
            raise CnnvizError(f"must be at least min ({short_number(lo)}), not {short_number(hi)}", path + ("max",))

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        return clip(xs[0], ps.params["min"], ps.params["max"], out=xs[0] if inplace else None)

    def describe(self, ps: PlannedStage) -> str:
        lo, hi = ps.params["min"], ps.params["max"]
        if lo is None and hi is None:
            return "no bounds"
        return f"{'−∞' if lo is None else short_number(lo)} … {'∞' if hi is None else short_number(hi)}"

    def summarize(self, ps: PlannedStage) -> str:
        lo, hi = ps.params["min"], ps.params["max"]
        return ", ".join(part for part in (f"min {lo:g}" if lo is not None else "",
                                           f"max {hi:g}" if hi is not None else "") if part)


STAGE_TYPES = (Clip(),)
