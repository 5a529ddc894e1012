"""Pooling stages: ``pool`` (max, avg or min over windows) and ``global_pool`` (one value per channel)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import CnnvizError, KeyPath
from ..formatting import times
from ..limits import MAX_KERNEL_SIDE, boolean, choice, pair
from ..ops.pool import global_pool, pool2d, pool_output_size, pool_pads
from .base import GLOBAL, Key, PlanContext, PlannedStage, Shape, StageConfig, StageType, Window
from .conv import padding_pairs, padding_text, too_big

__all__ = ["Pool", "GlobalPool"]


def pool_padding(v: Any, path: KeyPath) -> Any:
    """An int, ``[ph, pw]`` or ``[[top, bottom], [left, right]]``."""
    explicit = padding_pairs(v, path)
    return explicit if explicit is not None else pair(0, MAX_KERNEL_SIDE)(v, path)


class Pool(StageType):
    name = "pool"
    doc = "max, average or min over windows (floor mode; padding never wins)"
    pointwise = False
    keys = {
        "mode": Key(choice("max", "avg", "min"), "max"),
        "size": Key(pair(1, MAX_KERNEL_SIDE), 2),
        "stride": Key(pair(1, MAX_KERNEL_SIDE), None),
        "padding": Key(pool_padding, 0),
        "ceil": Key(boolean, False),
        "count_pad": Key(boolean, False),
    }

    def check(self, params: dict[str, Any], given: set[str], path: KeyPath) -> None:
        if params["stride"] is None:
            params["stride"] = params["size"]
        if "count_pad" in given and params["mode"] != "avg":
            raise CnnvizError("'count_pad' applies only to mode: avg", path + ("count_pad",))
        for axis, sides in enumerate(pool_pads(params["padding"])):
            for side in sides:
                if side > params["size"][axis] // 2:
                    raise CnnvizError(
                        f"pool padding {side} must be at most half the window "
                        f"({params['size'][axis]} // 2 = {params['size'][axis] // 2})",
                        path + ("padding",),
                    )

    def plan(self, ctx: PlanContext, st: StageConfig, shapes: Sequence[Shape]) -> PlannedStage:
        h, w, c = shapes[0]
        size, stride, ceil = st.params["size"], st.params["stride"], st.params["ceil"]
        (pt, pb), (pl, pr) = pool_pads(st.params["padding"])
        padded_hw = (h + pt + pb, w + pl + pr)
        if size[0] > padded_hw[0] or size[1] > padded_hw[1]:
            raise too_big(ctx, st, "window", size, padded_hw)
        out = (pool_output_size(h, size[0], stride[0], (pt, pb), ceil),
               pool_output_size(w, size[1], stride[1], (pl, pr), ceil), c)
        return PlannedStage(st, self, tuple(shapes), out, ctx.np_dtype)

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        p = ps.params
        return pool2d(xs[0], mode=p["mode"], size=p["size"], stride=p["stride"], padding=p["padding"], ceil=p["ceil"],
                      count_pad=p["count_pad"])

    def temp_bytes(self, ps: PlannedStage) -> int:
        item = ps.dtype.itemsize
        h, w, c = ps.input_shape
        (pt, pb), (pl, pr) = pool_pads(ps.params["padding"])
        ho, wo = ps.output_shape[:2]
        sh, sw = ps.params["stride"]
        kh, kw = ps.params["size"]
        hp = max(h + pt + pb, (ho - 1) * sh + kh)
        wp = max(w + pl + pr, (wo - 1) * sw + kw)
        return (hp * wp * c if (hp, wp) != (h, w) else 0) * item + ho * wp * c * item * 2

    def window(self, ps: PlannedStage) -> Window:
        (pt, _), (pl, _) = pool_pads(ps.params["padding"])
        return Window(ps.params["size"], ps.params["stride"], (pt, pl))

    def describe(self, ps: PlannedStage) -> str:
        p = ps.params
        size, stride = tuple(p["size"]), tuple(p["stride"])
        parts = [f"{p['mode']} {times(*size)}", f"stride {stride[0] if stride[0] == stride[1] else times(*stride)}"]
        pads = pool_pads(p["padding"])
        if pads != ((0, 0), (0, 0)):
            parts.append(padding_text(p["padding"], "padding"))
        if p["ceil"]:
            parts.append("ceil")
        if p["count_pad"]:
            parts.append("padding counted")
        return " · ".join(parts)

    def summarize(self, ps: PlannedStage) -> str:
        p = ps.params
        s = f"{p['mode']} {times(*p['size'])}"
        if p["stride"] != p["size"]:
            s += f", stride {times(*p['stride'])}"
        if pool_pads(p["padding"]) != ((0, 0), (0, 0)):
            s += f", {padding_text(p['padding'], 'pad')}"
        if p["ceil"]:
            s += ", ceil"
        if p["count_pad"]:
            s += ", count pad"
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
