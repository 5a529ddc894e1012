"""The ``conv`` stage: cross-correlation (or convolution) with a bank of kernels.

Parameters (SPEC §1): ``filters`` (required), ``padding``, ``pad_mode``,
``pad_value``, ``stride``, ``dilation``, ``flip``, ``bias``, ``depthwise``, ``groups``.
Input (H, W, C), N kernels -> (H', W', N), or (H', W', N·C) when depthwise
(kernel-major: map ``n·C + c`` is kernel n on channel c).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import CnnvizError, KeyPath, did_you_mean
from ..formatting import times
from ..limits import MAX_KERNEL_SIDE, boolean, choice, integer, number, pair, wrong
from ..ops.conv import PATCH_BLOCK_BYTES, PATCH_ROWS_MAX, PATCH_ROWS_MIN, conv2d, conv_output_size, conv_padding
from .base import Key, PlanContext, PlannedStage, Shape, StageConfig, StageType, Window
from .filters import filters_list, per_channel, resolve_kernels

__all__ = ["Conv", "conv_padding_key", "padding_pairs", "padding_text", "resolve_padding", "bias_vector", "too_big"]


def padding_pairs(v: Any, path: KeyPath) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """``[[top, bottom], [left, right]]`` -> ((top, bottom), (left, right)); None when ``v`` is not of that form."""
    if isinstance(v, list) and len(v) == 2 and all(isinstance(x, list) for x in v):
        one = pair(0, MAX_KERNEL_SIDE)
        a, b = one(v[0], path + (0,)), one(v[1], path + (1,))
        return a, b
    return None


def conv_padding_key(v: Any, path: KeyPath) -> Any:
    """``valid`` | ``same`` | ``full`` | an int | ``[pad_h, pad_w]`` | ``[[top, bottom], [left, right]]``."""
    if v in ("valid", "same", "full"):
        return v
    explicit = padding_pairs(v, path)
    if explicit is not None:
        return explicit
    if isinstance(v, (int, list)) and not isinstance(v, bool):
        try:
            return pair(0, MAX_KERNEL_SIDE)(v, path)
        except CnnvizError:
            pass
    raise wrong("valid, same, full, an integer, [pad_h, pad_w] or [[top, bottom], [left, right]]", v, path,
                did_you_mean(v, ("valid", "same", "full")) if isinstance(v, str) else "")


def resolve_padding(spec: Any, kernel_hw: tuple[int, int], dilation: tuple[int, int]) -> tuple[tuple[int, int],
                                                                                             tuple[int, int]]:
    """The ``padding`` key as ((top, bottom), (left, right))."""
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], tuple):
        return spec
    return conv_padding(spec, kernel_hw, dilation)


def bias_vector(ctx: PlanContext, st: StageConfig, n: int, what: str) -> np.ndarray:
    """The stage's ``bias`` as (n,) in the run's dtype: one number for all, or one each."""
    b = st.params["bias"]
    if isinstance(b, (tuple, np.ndarray)):
        b = tuple(np.asarray(b, np.float64).reshape(-1))
        if len(b) != n:
            raise ctx.error(f"{len(b)} biases given for {n} {what}", st.path + ("bias",))
        return np.asarray(b, dtype=ctx.np_dtype)
    return np.full(n, b, dtype=ctx.np_dtype)


def too_big(ctx: PlanContext, st: StageConfig, kind: str, k: tuple[int, int], n: tuple[int, int]) -> CnnvizError:
    """``conv stage 'c1': kernel 7×7 is larger than its padded input 5×5``, located at the stage."""
    return ctx.error(f"{st.type} stage '{st.name}': {kind} {times(*k)} is larger than its padded input {times(*n)}",
                     st.path)


def padding_text(pad: Any, word: str) -> str:
    if isinstance(pad, str):
        return pad
    if isinstance(pad[0], tuple):
        (t, b), (left, r) = pad
        return f"{word} {t},{b} × {left},{r}"
    return f"{word} {times(*pad)}"


class Conv(StageType):
    keeps_channels = False
    name = "conv"
    doc = "cross-correlation (or convolution) with a bank of kernels"
    pointwise = False
    keys = {
        "filters": Key(filters_list, required=True, files=True),
        "padding": Key(conv_padding_key, "valid"),
        "pad_mode": Key(choice("constant", "reflect", "symmetric", "edge", "wrap"), "constant"),
        "pad_value": Key(number(), 0.0),
        "stride": Key(pair(1, MAX_KERNEL_SIDE), 1),
        "dilation": Key(pair(1, MAX_KERNEL_SIDE), 1),
        "flip": Key(boolean, False),
        "bias": Key(per_channel, 0.0, files=True),
        "depthwise": Key(boolean, False),
        "groups": Key(integer(1, 100_000), 1),
    }

    def check(self, params: dict[str, Any], given: set[str], path: KeyPath) -> None:
        if params["groups"] > 1 and params["depthwise"]:
            raise CnnvizError("'groups' and 'depthwise: true' do not combine (depthwise is every kernel on "
                              "every channel; groups splits the channels)", path + ("groups",))

    def plan(self, ctx: PlanContext, st: StageConfig, shapes: Sequence[Shape]) -> PlannedStage:
        h, w, c = shapes[0]
        p = st.params
        g = p["groups"]
        if c % g:
            raise ctx.error(f"conv stage '{st.name}': groups {g} must divide the input's {c} channels",
                            st.path + ("groups",))
        kernels, count, names, own = resolve_kernels(ctx, st, c, depthwise=p["depthwise"], depth=c // g)
        n, kh, kw, d = kernels.shape
        if n % g:
            raise ctx.error(f"conv stage '{st.name}': groups {g} must divide its {n} kernels", st.path + ("groups",))
        dil, stride = p["dilation"], p["stride"]
        pad = resolve_padding(p["padding"], (kh, kw), dil)
        eff = (dil[0] * (kh - 1) + 1, dil[1] * (kw - 1) + 1)
        padded_hw = (h + sum(pad[0]), w + sum(pad[1]))
        if eff[0] > padded_hw[0] or eff[1] > padded_hw[1]:
            kind = "kernel" if eff == (kh, kw) else f"kernel {times(kh, kw)} dilated to"
            raise too_big(ctx, st, kind, eff, padded_hw)
        oh = conv_output_size(h, kh, pad[0][0], pad[0][1], stride[0], dil[0])
        ow = conv_output_size(w, kw, pad[1][0], pad[1][1], stride[1], dil[1])
        oc = n * c if p["depthwise"] else n
        return PlannedStage(
            st, self, tuple(shapes), (oh, ow, oc), ctx.np_dtype,
            kernels=kernels, kernel_names=tuple(names), kernel_shapes=tuple(own),
            bias=bias_vector(ctx, st, n, "filters"), padding=pad,
            param_count=count + n, macs=oh * ow * n * kh * kw * d,
        )

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        p = ps.params
        assert ps.kernels is not None and ps.padding is not None
        return conv2d(xs[0], ps.kernels, padding=ps.padding, pad_mode=p["pad_mode"], pad_value=p["pad_value"],
                      stride=p["stride"], dilation=p["dilation"], flip=p["flip"], bias=ps.bias,
                      depthwise=p["depthwise"], groups=p["groups"])

    def temp_bytes(self, ps: PlannedStage) -> int:
        item = ps.dtype.itemsize
        h, w, c = ps.input_shape
        assert ps.kernels is not None and ps.padding is not None
        n, kh, kw, _ = ps.kernels.shape
        (t, b), (left, r) = ps.padding
        ho, wo, oc = ps.output_shape
        if kh == kw == 1 and not (t or b or left or r) and ps.params["groups"] == 1 and not ps.params["depthwise"]:
            return 0 if ps.params["stride"] == (1, 1) else ho * wo * c * item  # one product; a strided copy
        padded = (h + t + b) * (w + left + r) * c * item  # padded (or transposed) copy of the input
        taps = kh * kw * c
        ho, wo, oc = ps.output_shape
        rows = min(max(PATCH_BLOCK_BYTES // max(1, taps * item), PATCH_ROWS_MIN), PATCH_ROWS_MAX)
        patches = min(rows, ho * wo + wo) * taps * item
        depthwise = ho * wo * oc * item if ps.params["depthwise"] else 0
        g = ps.params["groups"]
        if g > 1:  # per group: its slice of the input, its patches and its part of the output
            taps = kh * kw * (c // g)
            patches = min(rows, ho * wo + wo) * taps * item + (ho * wo * (oc // g) * item)
            if c // g == 1:
                patches = (h + t + b) * (w + left + r) * oc * item if oc != c else ho * wo * oc * item
        return padded + patches + depthwise

    def window(self, ps: PlannedStage) -> Window:
        assert ps.kernels is not None and ps.padding is not None
        _, kh, kw, _ = ps.kernels.shape
        dil = ps.params["dilation"]
        return Window((dil[0] * (kh - 1) + 1, dil[1] * (kw - 1) + 1), ps.params["stride"],
                      (ps.padding[0][0], ps.padding[1][0]))

    def describe(self, ps: PlannedStage) -> str:
        p = ps.params
        assert ps.kernels is not None
        n, kh, kw, c = ps.kernels.shape
        sizes = sorted(set(ps.kernel_shapes or [(kh, kw)]))
        own = " and ".join(times(*hw) for hw in sizes)
        parts = [f"{n} kernel{'s' if n != 1 else ''} {own}" + (f" × {c} channels" if c > 1 else "")]
        parts.append(padding_text(p["padding"], "padding"))
        if p["groups"] > 1:
            parts.append(f"{p['groups']} groups")
        for key in ("stride", "dilation"):
            v = tuple(p[key])
            if v != (1, 1):
                parts.append(f"{key} {v[0] if v[0] == v[1] else times(*v)}")
        if p["flip"]:
            parts.append("flipped (convolution)")
        if p["depthwise"]:
            parts.append("depthwise")
        return " · ".join(parts)

    def summarize(self, ps: PlannedStage) -> str:
        p = ps.params
        assert ps.kernels is not None
        n, kh, kw, _ = ps.kernels.shape
        parts = [f"{n} × {kh}×{kw}"]
        parts.append(padding_text(p["padding"], "pad"))
        if p["groups"] > 1:
            parts.append(f"groups {p['groups']}")
        if p["pad_mode"] != "constant":
            parts.append(p["pad_mode"])
        if p["stride"] != (1, 1):
            parts.append(f"stride {times(*p['stride'])}")
        if p["dilation"] != (1, 1):
            parts.append(f"dilation {times(*p['dilation'])}")
        if p["flip"]:
            parts.append("flip")
        if p["depthwise"]:
            parts.append("depthwise")
        return ", ".join(parts)

    display_keys = ("filters",)  # compared through the resolved kernels

    def tile_labels(self, ps: PlannedStage) -> list[str] | None:
        names = list(ps.kernel_names)
        if not names:
            return None
        if ps.params["depthwise"]:
            c = ps.input_shape[2]
            return [f"{n} · ch {ch}" for n in names for ch in range(c)]
        return names


STAGE_TYPES = (Conv(),)
