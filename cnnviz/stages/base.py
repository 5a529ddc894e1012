"""What a stage type is, and what a stage becomes when it is validated and planned.

A :class:`StageType` is one object that holds everything cnnviz knows about
one kind of stage, so that no other module compares type names:

=====================  =========================================================
``keys``               its parameters: checker and default of each (schema as data)
``check``              rules across keys (``'size' applies only to mode: lrn``)
``plan``               output shape, resolved kernels and weights, parameter and
                       multiply-add counts; a kernel that does not fit is an error
``apply``              the computation (a call into :mod:`cnnviz.ops`)
``temp_bytes``         memory it allocates besides its output while it runs
``window``             how an output cell sees its input (receptive-field step)
``describe``           its parameters in words, for picture subtitles
``summarize``          the same, compact, for the ``summary`` table
``tile_labels``        a name per output map, where maps come one per kernel
``fingerprint``        what decides its output (``watch`` recomputes a stage
                       when this, or an input, changed)
``arity``, ``inplace``, ``keeps_labels``, ``pointwise``: flags the pipeline reads
=====================  =========================================================

Shapes are (H, W, C) tuples throughout; a "vector" is (1, 1, N).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from ..errors import CnnvizError, KeyPath
from ..io.arrays import ConfigFiles

__all__ = [
    "Shape",
    "Key",
    "StageConfig",
    "PlanContext",
    "Window",
    "PlannedStage",
    "StageType",
    "array_digest",
]

Shape = tuple[int, int, int]


def array_digest(a: np.ndarray | None) -> str | None:
    """A short digest of an array's shape, dtype and bytes (None for None): for fingerprints."""
    if a is None:
        return None
    a = np.ascontiguousarray(a)
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{a.shape}{a.dtype.str}".encode())
    h.update(a.tobytes() if a.size < 4096 else memoryview(a.reshape(-1).view(np.uint8)))  # type: ignore[arg-type]
    return h.hexdigest()


@dataclass(frozen=True)
class Key:
    """One parameter of a stage type.

    Attributes
    ----------
    check : callable
        ``check(value, path) -> normalised value``, raising
        :class:`~cnnviz.errors.CnnvizError` (path relative to the config);
        with ``files``, ``check(value, path, files)`` (a :class:`~cnnviz.io.arrays.ConfigFiles`).
    default : object
        Used when the key is absent; checked like a given value (``None``
        stays ``None``: "computed from the others", or "none").
    required : bool
        Absent is an error (``missing required key 'units'``).
    files : bool
        The checker reads files the config names (relative to its folder, or in memory).
    """

    check: Callable[..., Any]
    default: Any = None
    required: bool = False
    files: bool = False

    def parse(self, value: Any, path: KeyPath, files: ConfigFiles) -> Any:
        """The checked value of ``value`` at ``path``."""
        return self.check(value, path, files) if self.files else self.check(value, path)


@dataclass(frozen=True)
class StageConfig:
    """One validated stage of a config.

    Attributes
    ----------
    index : int
        Its 0-based position in ``stages`` (key paths count from 0, file names from 1).
    type : str
        Its stage type's name (a key of :data:`cnnviz.stages.REGISTRY`).
    name : str
        As given, or ``<type><n>``.
    params : mapping
        Every parameter of its type, defaults filled in (pairs as tuples).
    inputs : tuple of str, or None
        The stages it takes (``input`` for the image) when the config names
        them; None: the previous stage.
    """

    index: int
    type: str
    name: str
    params: Mapping[str, Any]
    inputs: tuple[str, ...] | None = None

    @property
    def path(self) -> KeyPath:
        return ("stages", self.index)


class PlanContext(Protocol):
    """What planning needs from a config (a :class:`cnnviz.config.Config` is one)."""

    @property
    def seed(self) -> int: ...

    @property
    def np_dtype(self) -> np.dtype: ...

    def error(self, message: str, path: KeyPath) -> CnnvizError: ...


@dataclass(frozen=True)
class Window:
    """How an output cell sees its input, per axis (rows, columns).

    ``size`` is the window's extent in input cells (a dilated kernel's full
    extent), ``stride`` the step between output cells, ``pad`` the cells
    padded before the first input cell.  :data:`GLOBAL` (size None) means
    every output cell sees the whole input.
    """

    size: tuple[int, int] | None
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int] = (0, 0)


#: The window of ``global_pool`` and ``dense``: the whole input.
GLOBAL = Window(None)


@dataclass(eq=False)
class PlannedStage:
    """A stage ready to run on inputs of ``input_shapes``.

    Attributes
    ----------
    config : StageConfig
    kind : StageType
    input_shapes : tuple of (H, W, C)
        One per input (joins have several).
    output_shape : (H, W, C)
    dtype : numpy dtype
        The run's dtype (float32 or float64).
    sources : tuple of int
        Where its inputs come from: 0 is the image, ``k`` is stage ``k``
        (1-based, as in file names).
    kernels : ndarray (N, kh, kw, C) or None
        Conv kernels in the run's dtype; 2-D entries are broadcast over C,
        kernels of different sizes zero-padded (centred) to the largest.
    kernel_names : tuple of str
        Where each kernel came from (``sobel_x``, ``random normal``, a file name).
    kernel_shapes : tuple of (kh, kw)
        Each kernel's own size, before the padding to the stage's largest.
    bias : ndarray (N,) or None
    padding : ((top, bottom), (left, right)) or None
    arrays : dict of str to ndarray
        Further per-stage arrays (batchnorm's scale and shift, ...).
    param_count : int
        Weights as written (a 2-D kernel counts kh·kw) plus biases.
    macs : int
        Multiply-adds.
    receptive_field, jump : (int, int)
        Input pixels one output cell sees, and between neighbouring output cells.
    start : (float, float)
        Input coordinate (row, column) of output cell (0, 0)'s receptive-field centre.
    labels : tuple of str or None
        Class names of a vector output (a labelled dense, and what follows it elementwise).
    image_shape : (H, W, C)
        The shape of the image the plan was made for (what ``start`` and ``jump`` are measured on).
    """

    config: StageConfig
    kind: StageType
    input_shapes: tuple[Shape, ...]
    output_shape: Shape
    dtype: np.dtype
    sources: tuple[int, ...] = ()
    kernels: np.ndarray | None = None
    kernel_names: tuple[str, ...] = ()
    kernel_shapes: tuple[tuple[int, int], ...] = ()
    bias: np.ndarray | None = None
    padding: tuple[tuple[int, int], tuple[int, int]] | None = None
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    param_count: int = 0
    macs: int = 0
    receptive_field: tuple[int, int] = (1, 1)
    jump: tuple[int, int] = (1, 1)
    start: tuple[float, float] = (0.0, 0.0)
    labels: tuple[str, ...] | None = None
    image_shape: Shape = (0, 0, 0)
    weight_source: Any = None
    _weights: np.ndarray | None = field(default=None, repr=False)

    @property
    def index(self) -> int:
        """1-based position (``00`` is the input in file names)."""
        return self.config.index + 1

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def type(self) -> str:
        return self.config.type

    @property
    def params(self) -> Mapping[str, Any]:
        return self.config.params

    @property
    def input_shape(self) -> Shape:
        """The (first) input's shape."""
        return self.input_shapes[0]

    @property
    def weights(self) -> np.ndarray | None:
        """Dense weights (units, inputs), drawn or loaded on first use."""
        if self.weight_source is None:
            return None
        if self._weights is None:
            self._weights = self.weight_source.load(self.dtype)
        return self._weights

    @property
    def output_bytes(self) -> int:
        h, w, c = self.output_shape
        return h * w * c * self.dtype.itemsize

    @property
    def is_vector(self) -> bool:
        """A (1, 1, N) output, drawn as a bar chart."""
        return self.output_shape[0] == 1 and self.output_shape[1] == 1

    def apply(self, x: np.ndarray | Sequence[np.ndarray], *, inplace: bool = False) -> np.ndarray:
        """Run the stage on its input (a list of inputs for a join) -> ``output_shape``.

        With ``inplace``, a stage type that can (``kind.inplace``) overwrites
        its (only) input instead of allocating its output (streaming runs).
        """
        xs = [x] if isinstance(x, np.ndarray) else list(x)
        return self.kind.apply(self, xs, inplace=inplace and self.kind.inplace and xs[0].flags.writeable)

    def temp_bytes(self) -> int:
        """Bytes the stage allocates besides its output while it runs."""
        return self.kind.temp_bytes(self)

    def describe(self) -> str:
        """Its parameters in words, for picture subtitles (``2 kernels 3×3×1 · valid``)."""
        return self.kind.describe(self)

    def summarize(self) -> str:
        """Its parameters, compact, for the ``summary`` table (``2 × 3×3, valid``)."""
        return self.kind.summarize(self)

    def fingerprint(self) -> tuple[Any, ...]:
        """What decides its output, given its inputs' values: equal fingerprints, equal outputs."""
        return self.kind.fingerprint(self)

    def tile_labels(self) -> list[str] | None:
        """A name for each output map (``sobel_x``), where maps come one per kernel; else None."""
        return self.kind.tile_labels(self)


class StageType:
    """The base of every stage type: an elementwise stage that keeps its input's shape.

    Subclasses set :attr:`name` and :attr:`keys` and override what differs.
    One instance per type lives in :data:`cnnviz.stages.REGISTRY`.
    """

    #: The ``type:`` users write.
    name: ClassVar[str] = ""
    #: One line for documentation.
    doc: ClassVar[str] = ""
    #: Its parameters.
    keys: ClassVar[Mapping[str, Key]] = {}
    #: How many inputs it takes: 1, or None for two or more (joins).
    arity: ClassVar[int | None] = 1
    #: ``apply(inplace=True)`` may overwrite its input.
    inplace: ClassVar[bool] = False
    #: Output cell (i, j, c) depends only on input cell (i, j, c).
    pointwise: ClassVar[bool] = True
    #: A vector that goes through it keeps its class names (relu after a labelled dense).
    keeps_labels: ClassVar[bool] = False
    #: Its output is a probability distribution over channels (bar charts run 0 … 1).
    probabilities: ClassVar[bool] = False
    #: Output channel c is input channel c, transformed (so an RGB input's channels stay R, G, B).
    keeps_channels: ClassVar[bool] = True
    #: Parameters that only change how it is drawn, not its output.
    display_keys: ClassVar[tuple[str, ...]] = ()

    def check(self, params: dict[str, Any], given: set[str], path: KeyPath) -> None:
        """Rules across keys; may fill in defaults that depend on other keys.  ``given``: keys the user wrote."""

    def plan(self, ctx: PlanContext, st: StageConfig, shapes: Sequence[Shape]) -> PlannedStage:
        """Shapes, kernels and costs for inputs of ``shapes``; an impossible size is an error located by ``ctx``."""
        return PlannedStage(st, self, tuple(shapes), shapes[0], ctx.np_dtype)

    def apply(self, ps: PlannedStage, xs: list[np.ndarray], *, inplace: bool) -> np.ndarray:
        raise NotImplementedError(self.name)

    def temp_bytes(self, ps: PlannedStage) -> int:
        return 0

    def window(self, ps: PlannedStage) -> Window | None:
        """How an output cell sees its input (None: the same cell, as elementwise stages)."""
        return None

    def describe(self, ps: PlannedStage) -> str:
        return ""

    def summarize(self, ps: PlannedStage) -> str:
        return ""

    def tile_labels(self, ps: PlannedStage) -> list[str] | None:
        """A name for each output channel (a conv's kernel sources), or None."""
        return None

    def fingerprint(self, ps: PlannedStage) -> tuple[Any, ...]:
        params = tuple(sorted((k, array_digest(v) if isinstance(v, np.ndarray) else repr(v))
                              for k, v in ps.params.items() if k not in self.display_keys))
        arrays = tuple(sorted((k, array_digest(v)) for k, v in ps.arrays.items()))
        return (self.name, ps.input_shapes, ps.output_shape, ps.dtype.str, params,
                array_digest(ps.kernels), array_digest(ps.bias), ps.padding, arrays)

    def __repr__(self) -> str:
        return f"<stage type {self.name}>"
