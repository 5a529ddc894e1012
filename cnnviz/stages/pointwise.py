"""Elementwise activations: ``relu``, ``leaky_relu``, ``sigmoid``, ``tanh``, ``abs``.

Each keeps its input's shape; ``relu``, ``leaky_relu`` and ``abs`` can
overwrite their input (streaming runs), and a vector keeps its class names
through any of them (a ``relu`` after a labelled ``dense``).
"""

from __future__ import annotations

import numpy as np

from ..formatting import short_number
from ..limits import number
from ..ops.pointwise import absolute, leaky_relu, relu, sigmoid, tanh
from .base import Key, PlannedStage, StageType

__all__ = ["Relu", "LeakyRelu", "Sigmoid", "Tanh", "Abs"]


class Relu(StageType):
    name = "relu"
    doc = "max(x, 0)"
    inplace = True
    keeps_labels = True

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        return np.maximum(xs[0], 0, out=xs[0]) if inplace else relu(xs[0])


class LeakyRelu(StageType):
    name = "leaky_relu"
    doc = "x where positive, slope · x elsewhere"
    keys = {"slope": Key(number(), 0.01)}
    inplace = True
    keeps_labels = True

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        x, slope = xs[0], ps.params["slope"]
        if inplace:
            return np.multiply(x, np.where(x < 0, x.dtype.type(slope), x.dtype.type(1)), out=x)
        return leaky_relu(x, slope)

    def describe(self, ps: PlannedStage) -> str:
        return f"slope {short_number(ps.params['slope'])}"

    def summarize(self, ps: PlannedStage) -> str:
        return f"slope {ps.params['slope']:g}"


class Sigmoid(StageType):
    name = "sigmoid"
    doc = "1 / (1 + exp(−x))"
    keeps_labels = True

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        return sigmoid(xs[0])

    def temp_bytes(self, ps: PlannedStage) -> int:
        h, w, c = ps.input_shape
        return 2 * h * w * c * ps.dtype.itemsize


class Tanh(StageType):
    name = "tanh"
    doc = "hyperbolic tangent"
    keeps_labels = True

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        return tanh(xs[0])


class Abs(StageType):
    name = "abs"
    doc = "|x|"
    inplace = True
    keeps_labels = True

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        return np.abs(xs[0], out=xs[0]) if inplace else absolute(xs[0])


STAGE_TYPES = (Relu(), LeakyRelu(), Sigmoid(), Tanh(), Abs())
