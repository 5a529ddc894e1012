"""The ``batchnorm`` stage: inference-mode batch normalization, ``scale · (x − mean) / sqrt(var + eps) + shift``.

``mean`` and ``var`` are required; ``scale`` [1] and ``shift`` [0] are
optional; each is a number, a list with one number per channel, or
``{file: PATH, key: NAME}`` (a ``.npy``/``.npz`` vector).  Planning folds
the four into one multiply and one add per channel, computed in float64, so
running it costs one pass over the maps (done in place when streaming).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..formatting import short_number
from ..limits import number
from ..ops.norm import affine, batchnorm_affine
from .base import Key, PlanContext, PlannedStage, Shape, StageConfig, StageType
from .filters import per_channel

__all__ = ["BatchNorm"]

_VALUES = ("mean", "var", "scale", "shift")


class BatchNorm(StageType):
    name = "batchnorm"
    doc = "inference-mode batch normalization: scale · (x − mean) / sqrt(var + eps) + shift, per channel"
    keys = {
        "mean": Key(per_channel, required=True, files=True),
        "var": Key(per_channel, required=True, files=True),
        "scale": Key(per_channel, 1.0, files=True),
        "shift": Key(per_channel, 0.0, files=True),
        "eps": Key(number(minimum=0.0), 1e-5),
    }
    inplace = True
    keeps_labels = True

    def plan(self, ctx: PlanContext, st: StageConfig, shapes: Sequence[Shape]) -> PlannedStage:
        c = shapes[0][2]
        values = {}
        for key in _VALUES:
            v = st.params[key]
            arr = np.asarray(v, np.float64).reshape(-1)
            if arr.size not in (1, c):
                s = "" if c == 1 else "s"
                raise ctx.error(f"batchnorm stage '{st.name}': {arr.size} values for {c} channel{s}",
                                st.path + (key,))
            values[key] = np.broadcast_to(arr, (c,))
        eps = st.params["eps"]
        if (values["var"] + eps <= 0).any():
            raise ctx.error(f"batchnorm stage '{st.name}': var + eps must be greater than 0 in every channel",
                            st.path + ("var",))
        a, b = batchnorm_affine(values["mean"], values["var"], values["scale"], values["shift"], eps)
        return PlannedStage(st, self, tuple(shapes), shapes[0], ctx.np_dtype, param_count=2 * c,
                            macs=shapes[0][0] * shapes[0][1] * c,
                            arrays={"multiplier": a.astype(ctx.np_dtype), "offset": b.astype(ctx.np_dtype)})

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        return affine(xs[0], ps.arrays["multiplier"], ps.arrays["offset"], out=xs[0] if inplace else None)

    def describe(self, ps: PlannedStage) -> str:
        return f"inference mode, eps {short_number(ps.params['eps'])}"

    def summarize(self, ps: PlannedStage) -> str:
        return f"eps {ps.params['eps']:g}"

    #: compared through the folded multiplier and offset
    display_keys = _VALUES


STAGE_TYPES = (BatchNorm(),)
