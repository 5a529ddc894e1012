"""The ``norm`` stage: local response normalisation across channels, or per-channel standardise / min-max."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CnnvizError, KeyPath
from ..formatting import short_number
from ..limits import MAX_KERNELS, choice, integer, number
from ..ops.norm import lrn, minmax, standardize
from .base import Key, PlannedStage, StageType

__all__ = ["Norm"]

_LRN_KEYS = ("size", "alpha", "beta", "k")


class Norm(StageType):
    name = "norm"
    doc = "lrn across channels, or per-channel standardize / minmax"
    pointwise = False
    keeps_labels = True
    keys = {
        "mode": Key(choice("lrn", "standardize", "minmax"), "lrn"),
        "size": Key(integer(1, MAX_KERNELS), 5),
        "alpha": Key(number(), 1e-4),
        "beta": Key(number(), 0.75),
        "k": Key(number(), 2.0),
    }

    def check(self, params: dict[str, Any], given: set[str], path: KeyPath) -> None:
        if params["mode"] != "lrn":
            for key in _LRN_KEYS:
                if key in given:
                    raise CnnvizError(f"'{key}' applies only to mode: lrn", path + (key,))

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        p = ps.params
        if p["mode"] == "lrn":
            return lrn(xs[0], size=p["size"], alpha=p["alpha"], beta=p["beta"], k=p["k"])
        return standardize(xs[0]) if p["mode"] == "standardize" else minmax(xs[0])

    def temp_bytes(self, ps: PlannedStage) -> int:
        h, w, c = ps.input_shape
        return 2 * h * w * c * ps.dtype.itemsize

    def describe(self, ps: PlannedStage) -> str:
        p = ps.params
        if p["mode"] != "lrn":
            return str(p["mode"])
        return (f"lrn size {p['size']}, α {short_number(p['alpha'])}, β {short_number(p['beta'])}, "
                f"k {short_number(p['k'])}")

    def summarize(self, ps: PlannedStage) -> str:
        p = ps.params
        if p["mode"] == "lrn":
            return f"lrn size {p['size']}, alpha {p['alpha']:g}, beta {p['beta']:g}, k {p['k']:g}"
        return str(p["mode"])


STAGE_TYPES = (Norm(),)
