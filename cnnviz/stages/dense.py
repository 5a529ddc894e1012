"""``dense`` (fully connected, on the flattened (H, W, C) input) and ``softmax`` (over channels).

Dense weights are ``{random: {dist: ...}}`` (drawn from the config's seed
and the stage's position, on first use) or ``{file: PATH, key: NAME}`` of
shape (units, inputs); the output is a (1, 1, units) vector, drawn as a bar
chart, with ``labels`` as class names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import CnnvizError, KeyPath, did_you_mean
from ..io.arrays import ConfigFiles
from ..limits import MAX_UNITS, integer, string, string_list, wrong
from ..ops.dense import dense, softmax
from ..ops.random_kernels import random_matrix
from .base import GLOBAL, Key, PlanContext, PlannedStage, Shape, StageConfig, StageType, Window, array_digest
from .conv import bias_vector
from .filters import per_channel

__all__ = ["DenseWeights", "WeightSource", "Dense", "Softmax"]


@dataclass(frozen=True)
class DenseWeights:
    """The ``weights:`` key as validated: a random spec (drawn at plan time) or a loaded (units, inputs) array."""

    spec: Mapping[str, Any] | None
    array: np.ndarray | None
    path: KeyPath
    cast: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def as_dtype(self, dtype: np.dtype) -> np.ndarray | None:
        """The file's array in ``dtype``, converted once and kept (read-only: every plan shares it)."""
        if self.array is None:
            return None
        key = np.dtype(dtype).str
        if key not in self.cast:
            arr = np.ascontiguousarray(self.array, dtype=dtype)
            arr = arr.copy() if arr is self.array else arr
            arr.flags.writeable = False
            self.cast[key] = arr
        return self.cast[key]


def dense_weights(v: Any, path: KeyPath, files: ConfigFiles) -> DenseWeights:
    """``{random: {...}}`` or ``{file: PATH, key: NAME}``."""
    if not isinstance(v, dict) or len([k for k in ("random", "file") if k in v]) != 1:
        raise wrong("a mapping with 'random' or 'file'", v, path)
    if "random" in v:
        spec = v["random"] if v["random"] is not None else {}
        if not isinstance(spec, dict):
            raise wrong("a mapping of random settings", spec, path + ("random",))
        try:
            random_matrix(spec, (1, 1), np.random.default_rng(0))
        except CnnvizError as err:
            raise err.under(path + ("random",)) from None
        return DenseWeights(dict(spec), None, path)
    extra = [k for k in v if k not in ("file", "key")]
    if extra:
        raise CnnvizError(f"unknown key '{extra[0]}'{did_you_mean(extra[0], ('file', 'key'))}",
                          path + (extra[0],), at_key=True)
    fname = string(v["file"], path + ("file",))
    key = v.get("key")
    if key is not None:
        key = string(key, path + ("key",))
    try:
        arr = files.array(fname, key)
    except CnnvizError as err:
        raise err.under(path) from None
    if arr.ndim != 2:
        raise CnnvizError(f"dense weights must have shape (units, inputs), not {arr.shape}", path + ("file",))
    return DenseWeights(None, arr, path)


@dataclass(frozen=True)
class WeightSource:
    """Where a planned dense stage's weights come from: a file's array, or a seeded draw (picklable)."""

    array: np.ndarray | None
    spec: Mapping[str, Any] | None
    seed: tuple[int, ...]
    shape: tuple[int, int]

    def load(self, dtype: np.dtype) -> np.ndarray:
        """The (units, inputs) weights in ``dtype``."""
        if self.array is not None:
            return np.ascontiguousarray(self.array, dtype=dtype)
        assert self.spec is not None
        return random_matrix(self.spec, self.shape, np.random.default_rng(list(self.seed))).astype(dtype)

    def key(self) -> tuple[Any, ...]:
        """What decides the weights (for fingerprints), without drawing them."""
        if self.array is not None:
            return ("file", array_digest(self.array))
        return ("random", repr(sorted(dict(self.spec or {}).items())), self.seed, self.shape)


class Dense(StageType):
    keeps_channels = False
    name = "dense"
    doc = "a fully connected layer on the flattened input -> (1, 1, units)"
    pointwise = False
    keys = {
        "units": Key(integer(1, MAX_UNITS), required=True),
        "weights": Key(dense_weights, files=True),
        "bias": Key(per_channel, 0.0, files=True),
        "labels": Key(string_list),
    }
    display_keys = ("weights", "labels")  # weights compared through their source

    def check(self, params: dict[str, Any], given: set[str], path: KeyPath) -> None:
        labels = params["labels"]
        if labels is not None and len(labels) != params["units"]:
            raise CnnvizError(f"{len(labels)} labels given for {params['units']} units", path + ("labels",))
        bias = params["bias"]
        if isinstance(bias, (tuple, np.ndarray)) and len(bias) != params["units"]:
            raise CnnvizError(f"{len(bias)} biases given for {params['units']} units", path + ("bias",))
        if params["weights"] is None:
            params["weights"] = DenseWeights({"dist": "glorot"}, None, path + ("weights",))
        w = params["weights"].array
        if w is not None and w.shape[0] != params["units"]:
            raise CnnvizError(f"weights have {w.shape[0]} rows for {params['units']} units",
                              path + ("weights", "file"))

    def plan(self, ctx: PlanContext, st: StageConfig, shapes: Sequence[Shape]) -> PlannedStage:
        h, w, c = shapes[0]
        units, inputs = st.params["units"], h * w * c
        wspec: DenseWeights = st.params["weights"]
        if wspec.array is not None and wspec.array.shape[1] != inputs:
            err = ctx.error(
                f"dense stage '{st.name}': weights have {wspec.array.shape[1]} columns but the input has "
                f"{h}×{w}×{c} = {inputs} values",
                wspec.path,
            )
            err.size_dependent = True
            raise err
        source = WeightSource(wspec.as_dtype(ctx.np_dtype), wspec.spec, (ctx.seed, st.index, 0), (units, inputs))
        labels = tuple(st.params["labels"]) if st.params["labels"] else None
        return PlannedStage(st, self, tuple(shapes), (1, 1, units), ctx.np_dtype,
                            bias=bias_vector(ctx, st, units, "units"), weight_source=source,
                            param_count=units * inputs + units, macs=units * inputs, labels=labels)

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        weights = ps.weights
        assert weights is not None
        return dense(xs[0], weights, ps.bias)

    def temp_bytes(self, ps: PlannedStage) -> int:
        h, w, c = ps.input_shape
        return ps.output_shape[2] * h * w * c * (ps.dtype.itemsize + 8)  # the weights, and the float64 draw

    def window(self, ps: PlannedStage) -> Window:
        return GLOBAL

    def describe(self, ps: PlannedStage) -> str:
        return f"{ps.params['units']} units"

    def summarize(self, ps: PlannedStage) -> str:
        return f"{ps.params['units']} units" + (", labelled" if ps.params["labels"] else "")

    def fingerprint(self, ps: PlannedStage) -> tuple[Any, ...]:
        assert ps.weight_source is not None
        return (*super().fingerprint(ps), ps.weight_source.key())


class Softmax(StageType):
    name = "softmax"
    doc = "softmax over channels (over the units of a dense output)"
    probabilities = True
    pointwise = False
    keeps_labels = True

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        return softmax(xs[0])

    def temp_bytes(self, ps: PlannedStage) -> int:
        h, w, c = ps.input_shape
        return 2 * h * w * c * ps.dtype.itemsize


STAGE_TYPES = (Dense(), Softmax())
