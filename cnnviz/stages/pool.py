"""Pooling stages: ``pool`` (max, avg or min over windows) and ``global_pool`` (one value per channel)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import CnnvizError, KeyPath
from ..formatting import times
from ..limits import MAX_KERNEL_SIDE, choice, pair
from ..ops.pool import global_pool, pool2d, pool_output_size
from .base import GLOBAL, Key, PlanContext, PlannedStage, Shape, StageConfig, StageType, Window
from .conv import too_big

__all__ = ["Pool", "GlobalPool"]


class Pool(StageType):
    name = "pool"
    doc = "max, average or min over windows (floor mode; padding never wins)"
    pointwise = False
    keys = {
        "mode": Key(choice("max", "avg", "min"), "max"),
        "size": Key(pair(1, MAX_KERNEL_SIDE), 2),
        "stride": Key(pair(1, MAX_KERNEL_SIDE), None),
        "padding": Key(pair(0, MAX_KERNEL_SIDE), 0),
    }

    def check(self, params: dict[str, Any], given: set[str], path: KeyPath) -> None:
        if params["stride"] is None:
            params["stride"] = params["size"]
        for axis in (0, 1):
            if params["padding"][axis] > params["size"][axis] // 2:
                raise CnnvizError(
                    f"pool padding {params['padding'][axis]} must be at most half the window "
                    f"({params['size'][axis]} // 2 = {params['size'][axis] // 2})",
                    path + ("padding",),
                )

    def plan(self, ctx: PlanContext, st: StageConfig, shapes: Sequence[Shape]) -> PlannedStage:
        h, w, c = shapes[0]
        size, stride, padding = st.params["size"], st.params["stride"], st.params["padding"]
        padded_hw = (h + 2 * padding[0], w + 2 * padding[1])
        if size[0] > padded_hw[0] or size[1] > padded_hw[1]:
            raise too_big(ctx, st, "window", size, padded_hw)
        out = (pool_output_size(h, size[0], stride[0], padding[0]),
               pool_output_size(w, size[1], stride[1], padding[1]), c)
        return PlannedStage(st, self, tuple(shapes), out, ctx.np_dtype)

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        p = ps.params
        return pool2d(xs[0], mode=p["mode"], size=p["size"], stride=p["stride"], padding=p["padding"])

    def temp_bytes(self, ps: PlannedStage) -> int:
        item = ps.dtype.itemsize
        h, w, c = ps.input_shape
        ph, pw = ps.params["padding"]
        ho = ps.output_shape[0]
        return ((h + 2 * ph) * (w + 2 * pw) * c if ph or pw else 0) * item + ho * (w + 2 * pw) * c * item * 2

    def window(self, ps: PlannedStage) -> Window:
        return Window(ps.params["size"], ps.params["stride"], ps.params["padding"])

    def describe(self, ps: PlannedStage) -> str:
        p = ps.params
        size, stride = tuple(p["size"]), tuple(p["stride"])
        parts = [f"{p['mode']} {times(*size)}", f"stride {stride[0] if stride[0] == stride[1] else times(*stride)}"]
        if tuple(p["padding"]) != (0, 0):
            parts.append(f"padding {times(*p['padding'])}")
        return " · ".join(parts)

    def summarize(self, ps: PlannedStage) -> str:
        p = ps.params
        s = f"{p['mode']} {times(*p['size'])}"
        if p["stride"] != p["size"]:
            s += f", stride {times(*p['stride'])}"
        if p["padding"] != (0, 0):
            s += f", pad {times(*p['padding'])}"
        return s


class GlobalPool(StageType):
    keeps_channels = False
    name = "global_pool"
    doc = "the mean or maximum of each channel -> (1, 1, C)"
    pointwise = False
    keys = {"mode": Key(choice("max", "avg"), "avg")}

    def plan(self, ctx: PlanContext, st: StageConfig, shapes: Sequence[Shape]) -> PlannedStage:
        return PlannedStage(st, self, tuple(shapes), (1, 1, shapes[0][2]), ctx.np_dtype)

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        return global_pool(xs[0], ps.params["mode"])

    def window(self, ps: PlannedStage) -> Window:
        return GLOBAL

    def describe(self, ps: PlannedStage) -> str:
        return f"{ps.params['mode']} over {times(*ps.input_shape[:2])}"

    def summarize(self, ps: PlannedStage) -> str:
        return str(ps.params["mode"])


STAGE_TYPES = (Pool(), GlobalPool())
