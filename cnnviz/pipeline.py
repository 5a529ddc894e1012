"""Plan a stack for an input shape, then run it.

:func:`plan` turns a validated :class:`~cnnviz.config.Config` and an input
shape into :class:`PlannedStage` objects: kernels drawn and checked, every
output shape, parameter count, multiply-adds and receptive field computed —
all before any pixel is touched, so a kernel that does not fit is an error
that names the stage and both sizes.  :func:`run` applies the plan.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import filters as _filters
from . import operations as ops
from .config import Config, FixedKernels, InlineKernel, RandomKernels, StageConfig, load_config
from .errors import CnnvizError

__all__ = ["PlannedStage", "Layer", "plan", "run", "iter_run", "estimate_memory", "check_memory", "parse_bytes"]

Shape = tuple[int, int, int]


@dataclass
class PlannedStage:
    """A stage ready to run on an input of ``input_shape``.

    Attributes
    ----------
    config : StageConfig
    input_shape, output_shape : (H, W, C)
    kernels : ndarray (N, kh, kw, C) or None
        Conv kernels in the run's dtype; 2-D entries are broadcast over C, and
        kernels of different sizes are zero-padded (centred) to the largest.
    bias : ndarray (N,) or (units,) or None
    padding : ((top, bottom), (left, right)) or None
    param_count : int
        Weights as written (a 2-D kernel counts kh·kw) plus biases.
    macs : int
        Multiply-adds of conv and dense stages (0 for the others).
    receptive_field, jump : (int, int)
        Receptive field of one output cell in input pixels, and the distance
        in input pixels between neighbouring output cells.
    """

    config: StageConfig
    input_shape: Shape
    output_shape: Shape
    dtype: np.dtype
    kernels: np.ndarray | None = None
    bias: np.ndarray | None = None
    padding: tuple[tuple[int, int], tuple[int, int]] | None = None
    param_count: int = 0
    macs: int = 0
    receptive_field: tuple[int, int] = (1, 1)
    jump: tuple[int, int] = (1, 1)
    _weights: Callable[[], np.ndarray] | None = field(default=None, repr=False)
    _weights_cache: np.ndarray | None = field(default=None, repr=False)

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
    def weights(self) -> np.ndarray | None:
        """Dense weights (units, inputs), drawn or loaded on first use."""
        if self._weights is None:
            return None
        if self._weights_cache is None:
            self._weights_cache = self._weights()
        return self._weights_cache

    @property
    def output_bytes(self) -> int:
        h, w, c = self.output_shape
        return h * w * c * self.dtype.itemsize

    def apply(self, x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        """Run the stage on ``x`` (``input_shape``, the run's dtype) -> ``output_shape``.

        With ``inplace``, elementwise stages (relu, leaky_relu, abs) overwrite
        ``x`` instead of allocating their output (streaming runs).
        """
        p = self.config.params
        t = self.type
        if inplace and x.flags.writeable:
            if t == "relu":
                return np.maximum(x, 0, out=x)
            if t == "abs":
                return np.abs(x, out=x)
            if t == "leaky_relu":
                return np.multiply(x, np.where(x < 0, x.dtype.type(p["slope"]), x.dtype.type(1)), out=x)
        if t == "conv":
            assert self.kernels is not None and self.padding is not None
            return ops.conv2d(
                x,
                self.kernels,
                padding=self.padding,
                pad_mode=p["pad_mode"],
                pad_value=p["pad_value"],
                stride=p["stride"],
                dilation=p["dilation"],
                flip=p["flip"],
                bias=self.bias,
                depthwise=p["depthwise"],
            )
        if t == "relu":
            return ops.relu(x)
        if t == "leaky_relu":
            return ops.leaky_relu(x, p["slope"])
        if t == "sigmoid":
            return ops.sigmoid(x)
        if t == "tanh":
            return ops.tanh(x)
        if t == "abs":
            return ops.absolute(x)
        if t == "pool":
            return ops.pool2d(x, mode=p["mode"], size=p["size"], stride=p["stride"], padding=p["padding"])
        if t == "global_pool":
            return ops.global_pool(x, p["mode"])
        if t == "norm":
            if p["mode"] == "lrn":
                return ops.lrn(x, size=p["size"], alpha=p["alpha"], beta=p["beta"], k=p["k"])
            return ops.standardize(x) if p["mode"] == "standardize" else ops.minmax(x)
        if t == "dense":
            weights = self.weights
            assert weights is not None
            return ops.dense(x, weights, self.bias)
        if t == "softmax":
            return ops.softmax(x)
        raise AssertionError(t)


@dataclass
class Layer:
    """One stage's result.

    Attributes
    ----------
    index : int
        1-based stage position.
    name, type : str
    output : ndarray (H, W, C)
    stage : PlannedStage
    seconds : float
        Time the stage took.
    """

    index: int
    name: str
    type: str
    output: np.ndarray
    stage: PlannedStage
    seconds: float

    @property
    def params(self) -> Any:
        return self.stage.config.params


def _times(a: tuple[int, int]) -> str:
    return f"{a[0]}×{a[1]}"


def _conv_kernels(
    config: Config, st: StageConfig, channels: int, dtype: np.dtype
) -> tuple[np.ndarray, int]:
    """Resolve a conv stage's filter entries to (N, kh, kw, C) and a parameter count."""
    depthwise = st.params["depthwise"]
    parts: list[np.ndarray] = []
    count = 0
    for entry in st.params["filters"]:
        if isinstance(entry, InlineKernel):
            arr = entry.array[None]
        elif isinstance(entry, FixedKernels):
            arr = entry.array
        else:
            assert isinstance(entry, RandomKernels)
            rng = np.random.default_rng([config.seed, st.index, entry.entry])
            try:
                arr = _filters.random_kernels(entry.spec, 1 if depthwise else channels, rng)
            except CnnvizError as err:
                raise config.locations.locate(err.under(entry.path + ("random",))) from None
        count += arr.size
        if isinstance(entry, RandomKernels) and arr.shape[3] == 1:
            arr = arr[..., 0]
        if arr.ndim == 4 and arr.shape[3] != channels:
            s = "" if channels == 1 else "s"
            raise config.error(
                f"kernel depth {arr.shape[3]} does not match the input's {channels} channel{s}",
                entry.path,
            )
        if arr.ndim == 3:
            arr = np.repeat(arr[..., None], channels, axis=3)
        parts.append(arr)
    kh = max(a.shape[1] for a in parts)
    kw = max(a.shape[2] for a in parts)
    padded = []
    for a in parts:
        dh, dw = kh - a.shape[1], kw - a.shape[2]
        if dh or dw:
            a = np.pad(a, ((0, 0), (dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2), (0, 0)))
        padded.append(a)
    return np.ascontiguousarray(np.concatenate(padded).astype(dtype)), count


def _bias(config: Config, st: StageConfig, n: int, what: str, dtype: np.dtype) -> np.ndarray:
    b = st.params["bias"]
    if isinstance(b, tuple):
        if len(b) != n:
            raise config.error(f"{len(b)} biases given for {n} {what}", st.path + ("bias",))
        return np.asarray(b, dtype=dtype)
    return np.full(n, b, dtype=dtype)


def _plan_stage(config: Config, st: StageConfig, shape: Shape, rf: tuple, jump: tuple) -> PlannedStage:
    h, w, c = shape
    dtype = config.np_dtype
    p = st.params
    t = st.type
    out = PlannedStage(st, shape, shape, dtype, receptive_field=rf, jump=jump)
    where = f"{t} stage '{st.name}'"

    def too_big(kind: str, k: tuple[int, int], n: tuple[int, int]) -> CnnvizError:
        return config.error(
            f"{where}: {kind} {_times(k)} is larger than its padded input {_times(n)}", st.path
        )

    if t == "conv":
        kernels, count = _conv_kernels(config, st, c, dtype)
        n, kh, kw, _ = kernels.shape
        dil, stride = p["dilation"], p["stride"]
        pad = ops.conv_padding(p["padding"], (kh, kw), dil)
        eff = (dil[0] * (kh - 1) + 1, dil[1] * (kw - 1) + 1)
        padded_hw = (h + sum(pad[0]), w + sum(pad[1]))
        if eff[0] > padded_hw[0] or eff[1] > padded_hw[1]:
            kind = "kernel" if eff == (kh, kw) else f"kernel {_times((kh, kw))} dilated to"
            raise too_big(kind, eff, padded_hw)
        oh = ops.conv_output_size(h, kh, pad[0][0], pad[0][1], stride[0], dil[0])
        ow = ops.conv_output_size(w, kw, pad[1][0], pad[1][1], stride[1], dil[1])
        oc = n * c if p["depthwise"] else n
        out.kernels = kernels
        out.bias = _bias(config, st, n, "filters", dtype)
        out.padding = pad
        out.output_shape = (oh, ow, oc)
        out.param_count = count + n
        out.macs = oh * ow * n * kh * kw * c
        out.receptive_field = (rf[0] + (eff[0] - 1) * jump[0], rf[1] + (eff[1] - 1) * jump[1])
        out.jump = (jump[0] * stride[0], jump[1] * stride[1])
    elif t == "pool":
        size, stride, padding = p["size"], p["stride"], p["padding"]
        padded_hw = (h + 2 * padding[0], w + 2 * padding[1])
        if size[0] > padded_hw[0] or size[1] > padded_hw[1]:
            raise too_big("window", size, padded_hw)
        out.output_shape = (
            ops.pool_output_size(h, size[0], stride[0], padding[0]),
            ops.pool_output_size(w, size[1], stride[1], padding[1]),
            c,
        )
        out.receptive_field = (rf[0] + (size[0] - 1) * jump[0], rf[1] + (size[1] - 1) * jump[1])
        out.jump = (jump[0] * stride[0], jump[1] * stride[1])
    elif t in ("global_pool", "dense"):
        full = (rf[0] + (h - 1) * jump[0], rf[1] + (w - 1) * jump[1])
        out.receptive_field, out.jump = full, full
        if t == "global_pool":
            out.output_shape = (1, 1, c)
        else:
            units, inputs = p["units"], h * w * c
            wspec = p["weights"]
            if wspec.array is not None:
                if wspec.array.shape[1] != inputs:
                    raise config.error(
                        f"{where}: weights have {wspec.array.shape[1]} columns but the input has "
                        f"{h}×{w}×{c} = {inputs} values",
                        wspec.path,
                    )
                arr = wspec.array
                out._weights = lambda: np.ascontiguousarray(arr, dtype=dtype)
            else:
                spec = wspec.spec
                seed = [config.seed, st.index, 0]

                def draw() -> np.ndarray:
                    rng = np.random.default_rng(seed)
                    return _filters.random_matrix(spec, (units, inputs), rng).astype(dtype)

                out._weights = draw
            out.bias = _bias(config, st, units, "units", dtype)
            out.output_shape = (1, 1, units)
            out.param_count = units * inputs + units
            out.macs = units * inputs
    return out


def plan(config: Config, input_shape: tuple[int, ...]) -> list[PlannedStage]:
    """Plan every stage of ``config`` for an input of ``input_shape``.

    Parameters
    ----------
    config : Config
    input_shape : (H, W) or (H, W, C)

    Returns
    -------
    list of PlannedStage
        One per stage, in order.

    Raises
    ------
    CnnvizError
        A kernel of the wrong depth, a kernel or window larger than its
        (padded) input, a bias list of the wrong length — located in the config.
    """
    shape: Shape = (input_shape[0], input_shape[1], input_shape[2] if len(input_shape) == 3 else 1)
    rf, jump = (1, 1), (1, 1)
    stages = []
    for st in config.stages:
        ps = _plan_stage(config, st, shape, rf, jump)
        stages.append(ps)
        shape, rf, jump = ps.output_shape, ps.receptive_field, ps.jump
    return stages


def _temp_bytes(ps: PlannedStage) -> int:
    """Bytes a stage allocates besides its output while it runs (see :mod:`cnnviz.operations`)."""
    item = ps.dtype.itemsize
    h, w, c = ps.input_shape
    if ps.type == "conv":
        assert ps.kernels is not None and ps.padding is not None
        n, kh, kw, _ = ps.kernels.shape
        (t, b), (left, r) = ps.padding
        padded = (h + t + b) * (w + left + r) * c * item  # padded (or transposed) copy of the input
        taps = kh * kw * c
        ho, wo, oc = ps.output_shape
        rows = min(max(ops._PATCH_BLOCK_BYTES // max(1, taps * item), ops._PATCH_ROWS_MIN), ops._PATCH_ROWS_MAX)
        patches = min(rows, ho * wo + wo) * taps * item
        depthwise = ho * wo * oc * item if ps.config.params["depthwise"] else 0
        return padded + patches + depthwise
    if ps.type == "pool":
        ph, pw = ps.config.params["padding"]
        ho, _, _ = ps.output_shape
        return ((h + 2 * ph) * (w + 2 * pw) * c if ph or pw else 0) * item + ho * (w + 2 * pw) * c * item * 2
    if ps.type == "dense":
        units = ps.output_shape[2]
        return units * h * w * c * (item + 8)  # the weights, and the float64 draw they come from
    if ps.type in ("norm", "softmax", "sigmoid"):
        return 2 * h * w * c * item
    return 0


def estimate_memory(stages: list[PlannedStage], input_shape: tuple[int, ...], *, keep: bool = True) -> int:
    """Peak bytes a run of ``stages`` needs for its arrays.

    ``keep`` (what :func:`run` does): every stage's output stays alive, so the
    peak at stage i is the input, the outputs of stages 0..i and stage i's
    temporaries.  Without ``keep`` (streaming) only the current input and
    output are alive.
    """
    if not stages:
        return 0
    item = stages[0].dtype.itemsize
    held = int(np.prod(input_shape)) * item
    peak = 0
    prev = held
    for ps in stages:
        here = ps.output_bytes + _temp_bytes(ps)
        peak = max(peak, (held if keep else prev) + here)
        held += ps.output_bytes
        prev = ps.output_bytes
    return peak


def available_memory() -> int:
    """Bytes of memory available to this process (``MemAvailable`` on Linux)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 8 << 30


def default_memory_limit() -> int:
    """Three quarters of the memory available now."""
    return available_memory() * 3 // 4


def format_bytes(n: float) -> str:
    """``1.5 GiB``-style sizes."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError


def parse_bytes(text: str) -> int:
    """``'2G'``, ``'512MiB'``, ``'1.5GB'``, ``'1000000'`` -> bytes."""
    import re

    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", text, re.IGNORECASE)
    if not m:
        raise CnnvizError(f"--max-memory: expected a size such as 2G or 512M, not {text!r}")
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def check_memory(
    stages: list[PlannedStage], input_shape: tuple[int, ...], limit: int | None, *, keep: bool = True
) -> int:
    """Raise :class:`CnnvizError` when the estimate exceeds ``limit`` (None: the default limit)."""
    need = estimate_memory(stages, input_shape, keep=keep)
    limit = default_memory_limit() if limit is None else limit
    if need > limit:
        raise CnnvizError(
            f"this stack needs about {format_bytes(need)} of memory for a {_times((input_shape[0], input_shape[1]))} input, "
            f"more than the limit of {format_bytes(limit)}; raise the limit with --max-memory, "
            "or shrink the input with input.resize"
        )
    return need


def iter_run(
    config: Config | Any,
    image: Any,
    *,
    planned: list[PlannedStage] | None = None,
    max_memory: int | None = None,
    keep: bool = False,
    inplace: bool = False,
) -> Iterator[Layer]:
    """Run the stack stage by stage, yielding each :class:`Layer` as it is done.

    The previous stage's output is dropped once the next one is computed
    unless the caller keeps the yielded layers, so a caller that renders and
    drops each layer holds at most two stages' outputs at once.  The memory
    check assumes the caller keeps every layer when ``keep`` is true.  With
    ``inplace`` (for a caller that is done with each layer before it asks for
    the next, like ``render(stream=True)``) elementwise stages overwrite the
    previous stage's output instead of allocating their own.
    """
    from .images import load_image

    config = load_config(config)
    x = load_image(image, config)
    stages = planned if planned is not None else plan(config, x.shape)
    check_memory(stages, x.shape, max_memory, keep=keep)
    for i, ps in enumerate(stages):
        t0 = time.perf_counter()
        # streaming: a stage's output is the caller's only until the next one is asked for,
        # so an elementwise stage may overwrite it (never the input image, stage 0's input)
        y = ps.apply(x, inplace=inplace and not keep and i > 0)
        seconds = time.perf_counter() - t0
        yield Layer(ps.index, ps.name, ps.type, y, ps, seconds)
        x = y


def run(config: Config | Any, image: Any, *, max_memory: int | None = None) -> list[Layer]:
    """Run the stack on an image.

    Parameters
    ----------
    config : Config, dict, path or YAML text
    image : str, path or ndarray
        A file, a sample name (``chelsea``), or an array (H, W) or (H, W, C)
        (integer arrays are scaled by their dtype's maximum, floats taken as
        they are); the config's ``input`` section is applied.

    max_memory : int, optional
        Refuse (before running) a stack whose estimated peak memory is above
        this many bytes; default three quarters of the available memory.

    Returns
    -------
    list of Layer
        One per stage, each with ``.name``, ``.type`` and ``.output`` (H, W, C).
    """
    return list(iter_run(config, image, max_memory=max_memory, keep=True))
