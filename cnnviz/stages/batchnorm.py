"""The ``batchnorm`` stage: inference-mode batch normalization, ``scale · (x − mean) / sqrt(var + eps) + shift``.

``mean`` and ``var`` are required; ``scale`` [1] and ``shift`` [0] are
optional; each is a number, a list with one number per channel, or
``{file: PATH, key: NAME}`` (a ``.npy``/``.npz`` vector).  Planning folds
the four into one multiply and one add per channel, computed in float64, so
running it costs one pass over the maps (done in place when streaming).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import CnnvizError, KeyPath, did_you_mean
from ..formatting import short_number
from ..io.arrays import ConfigFiles
from ..limits import number, number_or_list, string
from ..ops.norm import affine, batchnorm_affine
from .base import Key, PlanContext, PlannedStage, Shape, StageConfig, StageType

__all__ = ["BatchNorm", "per_channel"]

_VALUES = ("mean", "var", "scale", "shift")


def per_channel(v: Any, path: KeyPath, files: ConfigFiles) -> float | tuple[float, ...] | np.ndarray:
    """A number, a list of numbers (one per channel) or ``{file: PATH, key: NAME}`` holding a vector."""
    if isinstance(v, dict):
        extra = [k for k in v if k not in ("file", "key")]
        if extra or "file" not in v:
            key = extra[0] if extra else "file"
            raise CnnvizError(f"unknown key '{key}'{did_you_mean(key, ('file', 'key'))}" if extra else
                              "missing required key 'file'", path + ((key,) if extra else ()), at_key=bool(extra))
        fname = string(v["file"], path + ("file",))
        key = string(v["key"], path + ("key",)) if v.get("key") is not None else None
        try:
            arr = files.array(fname, key)
        except CnnvizError as err:
            raise err.under(path) from None
        if arr.ndim != 1:
            raise CnnvizError(f"must hold a vector (one value per channel), not an array of shape {arr.shape}",
                              path + ("file",))
        return arr
    try:
        return number_or_list(v, path)
    except CnnvizError:
        raise CnnvizError("must be a number, a list of numbers (one per channel) or {file: PATH, key: NAME}",
                          path) from None


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
