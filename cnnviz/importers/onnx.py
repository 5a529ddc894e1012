"""ONNX graph -> a cnnviz stack a person can read and edit (SPEC §7).

:func:`import_onnx` turns a model into config data plus its weights, in
cnnviz's layout; :meth:`Imported.yaml` writes the stack as commented YAML and
:meth:`Imported.npz` its weights.  One stage per node, named after it;
Dropout and Identity vanish; a Flatten or Reshape that feeds a Gemm/MatMul is
folded into the ``dense`` stage (its weights' columns permuted from ONNX's
(C, H, W) order to cnnviz's (H, W, C)); a Pad is folded into the next conv
or pool; a MatMul's following Add of a constant becomes the dense bias; an
Add or Mul of a per-channel constant becomes a ``batchnorm`` stage with
var 1 and eps 0 (exactly ``x + c`` or ``x · c``).  Any other op, a dynamic
input shape or a batch of more than one image is one error naming the node,
its op and what is supported.

The ``onnx`` package is an extra (``pip install 'cnnviz[onnx]'``); it is
imported only here, and only when a model is read.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CnnvizError
from ..version import __version__
from .stack import Imported, node_stage_name, padding_value, stack_names

__all__ = ["SUPPORTED", "OPSETS", "Imported", "import_onnx"]

#: The ONNX ops cnnviz turns into stages (or folds away).
SUPPORTED = ("Conv", "BatchNormalization", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid",
             "HardSwish", "Add", "Mul", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
             "LRN", "Flatten", "Reshape", "Gemm", "MatMul", "Softmax", "Dropout", "Identity", "Pad", "ReduceMean",
             "ReduceMax", "Constant")
#: The default-domain opsets accepted.
OPSETS = (11, 21)

@dataclass
class _Ref:
    """What an ONNX tensor is in the stack: a stage's output (or the image), maybe flattened or padded."""

    stage: str  # a stage name, or "input"
    kind: str = "map"  # "map" (N, C, H, W) | "vector" (N, K) | "flat" (a map flattened)
    shape: tuple[int, ...] = ()  # the ONNX shape of the tensor
    source_shape: tuple[int, ...] = ()  # for "flat": the map's (C, H, W)
    pad: tuple[tuple[int, int], tuple[int, int]] | None = None  # a Pad waiting to be folded
    pad_mode: str = "constant"
    pad_value: float = 0.0
    pad_node: str = ""


def _fail(model: str, node: Any, message: str) -> CnnvizError:
    label = f"node '{node.name}'" if node is not None and node.name else "a node"
    op = f" ({node.op_type})" if node is not None else ""
    return CnnvizError(f"{model}: {label}{op}: {message}")


def _unsupported(model: str, node: Any) -> CnnvizError:
    ops = ", ".join(s for s in SUPPORTED if s != "Constant")
    return _fail(model, node, f"the op {node.op_type} is not supported; cnnviz imports {ops}")


def _attrs(node: Any) -> dict[str, Any]:
    """A node's attributes; floats (stored as float32) as the short decimal they were written as."""
    from onnx import helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = float(str(np.float32(v))) if isinstance(v, float) else v
    return out


def _shapes(model: Any) -> dict[str, tuple[int, ...]]:
    """Every tensor's static shape, from ONNX shape inference (a dimension that is not a number is -1)."""
    from onnx import shape_inference

    inferred = shape_inference.infer_shapes(model)
    out = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            out[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim)
    return out


def _same_pads(n: int, k: int, s: int, d: int, upper: bool) -> tuple[int, int]:
    total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
    small = total // 2
    return (small, total - small) if upper else (total - small, small)


def _pads(model: str, node: Any, a: Mapping[str, Any], in_hw: Sequence[int], kernel: Sequence[int],
          strides: Sequence[int], dil: Sequence[int]) -> tuple[tuple[int, int], tuple[int, int]]:
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        if min(in_hw) <= 0:
            raise _fail(model, node, "auto_pad SAME needs the input's size, which the model does not fix")
        t, b = _same_pads(in_hw[0], kernel[0], strides[0], dil[0], auto == "SAME_UPPER")
        left, r = _same_pads(in_hw[1], kernel[1], strides[1], dil[1], auto == "SAME_UPPER")
        return (t, b), (left, r)
    if auto == "VALID":
        return (0, 0), (0, 0)
    p = list(a.get("pads", [0, 0, 0, 0]))
    if len(p) != 4:
        raise _fail(model, node, f"only 2-D pads are supported, not {p}")
    return (int(p[0]), int(p[2])), (int(p[1]), int(p[3]))


def import_onnx(path: str | os.PathLike[str], *, weights_name: str | None = None) -> Imported:
    """Read an ONNX model and turn it into a cnnviz stack (see the module docstring).

    Parameters
    ----------
    path : path
        The ``.onnx`` file.
    weights_name : str, optional
        The weights file the stages name [the model's stem + ``.npz``].

    Raises
    ------
    CnnvizError
        The onnx package is missing, the file is not a readable model, its
        opset is outside 11 to 21, its input is dynamic or a batch of more
        than one image, or a node is not supported (named, with its op).
    """
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise CnnvizError("reading ONNX models needs the onnx package: pip install 'cnnviz[onnx]'") from None
    p = Path(path)
    label = str(path)
    try:
        model = onnx.load(str(p))
    except FileNotFoundError:
        raise CnnvizError(f"model file not found: {p}") from None
    except Exception as exc:  # onnx raises DecodeError, ValueError, ...
        raise CnnvizError(f"{label}: not an ONNX model cnnviz can read ({type(exc).__name__})") from None
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None or not OPSETS[0] <= opset <= OPSETS[1]:
        raise CnnvizError(f"{label}: opset {opset} is not supported; cnnviz reads opsets {OPSETS[0]} to {OPSETS[1]}")
    graph = model.graph
    init = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            a = _attrs(node)
            if "value" in a:
                init[node.output[0]] = numpy_helper.to_array(a["value"]).astype(np.float64)
            else:
                raise _fail(label, node, "only a Constant holding a tensor ('value') is supported")
    inputs = [i for i in graph.input if i.name not in init]
    if len(inputs) != 1:
        raise CnnvizError(f"{label}: the model takes {len(inputs)} inputs; cnnviz feeds it one image")
    gin = inputs[0]
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in
            gin.type.tensor_type.shape.dim]
    if len(dims) != 4:
        raise CnnvizError(f"{label}: the input '{gin.name}' has shape {tuple(dims)}; cnnviz feeds a batch of one "
                          "image, (1, C, H, W)")
    if not all(isinstance(d, int) and d > 0 for d in dims):
        raise CnnvizError(f"{label}: the input '{gin.name}' has a dynamic shape {tuple(dims)}; cnnviz needs a fixed "
                          "(1, C, H, W): export the model with a fixed input size")
    if dims[0] != 1:
        raise CnnvizError(f"{label}: the input '{gin.name}' is a batch of {dims[0]} images; cnnviz feeds one, "
                          "(1, C, H, W)")
    c_in, h_in, w_in = dims[1], dims[2], dims[3]
    if c_in not in (1, 3):
        raise CnnvizError(f"{label}: the input '{gin.name}' has {c_in} channels; cnnviz feeds images of 1 (gray) "
                          "or 3 (rgb)")
    shapes = _shapes(model)
    fixed = (1, int(c_in), int(h_in), int(w_in))
    shapes[gin.name] = fixed
    stem = node_stage_name(p.stem, "model")
    wname = weights_name or f"{stem}.npz"
    refs: dict[str, _Ref] = {gin.name: _Ref("input", "map", fixed)}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for t in node.input:
            consumers.setdefault(t, []).append(node)
    names = stack_names(model)
    stages: list[dict[str, Any]] = []
    comments: dict[int, str] = {}
    arrays: dict[str, np.ndarray] = {}
    produced: dict[str, dict[str, Any]] = {}  # stage name -> its stage data
    tensors: dict[str, str] = {}  # stage name -> the ONNX tensor it computes
    previous = "input"

    def file(key: str, value: np.ndarray) -> dict[str, str]:
        arrays[key] = np.ascontiguousarray(value, dtype=np.float32)
        return {"file": wname, "key": key}

    def ref(node: Any, i: int) -> _Ref:
        t = node.input[i]
        if t not in refs:
            if t in init:
                raise _fail(label, node, f"its input '{t}' is a constant; cnnviz needs it to come from the image")
            raise _fail(label, node, f"its input '{t}' comes from no node cnnviz imported")
        r = refs[t]
        if r.pad is not None and node.op_type not in ("Conv", "MaxPool", "AveragePool"):
            raise _fail(label, node, f"the Pad '{r.pad_node}' before it can be folded only into a Conv or a pool")
        if r.kind == "flat" and node.op_type not in ("Gemm", "MatMul"):
            raise _fail(label, node, "a Flatten or Reshape is supported only right before a Gemm or MatMul")
        return r

    def const(node: Any, i: int, what: str) -> np.ndarray:
        if i >= len(node.input) or not node.input[i]:
            raise _fail(label, node, f"its {what} is missing")
        t = node.input[i]
        if t not in init:
            raise _fail(label, node, f"its {what} '{t}' must be a constant (an initializer)")
        return init[t]

    def add_stage(node: Any, name: str, st: dict[str, Any], takes: Sequence[str], out_kind: str = "map") -> None:
        nonlocal previous
        entry = {"type": st.pop("type"), "name": name}
        if list(takes) != [previous]:
            entry["inputs"] = list(takes)
        entry.update(st)
        comments[len(stages)] = f"ONNX {node.op_type}" + (f" '{node.name}'" if node.name else "")
        stages.append(entry)
        produced[name] = entry
        refs[node.output[0]] = _Ref(name, out_kind, shapes.get(node.output[0], ()))
        tensors[name] = node.output[0]
        previous = name

    for node, name in zip(graph.node, names, strict=True):
        op = node.op_type
        a = _attrs(node)
        if op == "Constant":
            continue
        if op not in SUPPORTED:
            raise _unsupported(label, node)
        if op in ("Dropout", "Identity"):
            refs[node.output[0]] = ref(node, 0)
            continue
        if op == "Pad":
            r = ref(node, 0)
            mode = a.get("mode", b"constant")
            mode = mode.decode() if isinstance(mode, bytes) else str(mode)
            pad8 = [int(v) for v in (const(node, 1, "pads") if len(node.input) > 1 and node.input[1] else a.get("pads", []))]
            fill = float(const(node, 2, "constant_value").reshape(-1)[0]) if len(node.input) > 2 and node.input[2] \
                else float(a.get("value", 0.0))
            if len(pad8) != 8 or any(pad8[i] for i in (0, 1, 4, 5)):
                raise _fail(label, node, f"only padding of the height and width is supported, not pads {pad8}")
            if mode not in ("constant", "reflect", "edge"):
                raise _fail(label, node, f"mode {mode} is not supported (constant, reflect, edge)")
            users = consumers.get(node.output[0], [])
            if len(users) != 1 or users[0].op_type not in ("Conv", "MaxPool", "AveragePool"):
                raise _fail(label, node, "a Pad is folded into the next Conv or pool, its only consumer")
            refs[node.output[0]] = _Ref(r.stage, r.kind, shapes.get(node.output[0], ()), pad=(
                (pad8[2], pad8[6]), (pad8[3], pad8[7])), pad_mode=mode, pad_value=fill, pad_node=node.name or op)
            continue
        if op in ("Flatten", "Reshape"):
            r = ref(node, 0)
            if op == "Flatten" and int(a.get("axis", 1)) != 1:
                raise _fail(label, node, "only Flatten with axis 1 (one image's values) is supported")
            if op == "Reshape":
                target = [int(v) for v in const(node, 1, "shape")]
                total = int(np.prod(r.shape[1:])) if r.shape else -1
                if len(target) != 2 or target[0] not in (1, 0, -1) or target[1] not in (-1, total):
                    raise _fail(label, node, f"only a Reshape to (1, -1) before a Gemm/MatMul is supported, "
                                             f"not {tuple(target)}")
            users = consumers.get(node.output[0], [])
            if not users or any(u.op_type not in ("Gemm", "MatMul") for u in users):
                raise _fail(label, node, "a Flatten or Reshape is supported only right before a Gemm or MatMul")
            src = r.shape[1:] if r.kind == "map" else (r.shape[-1], 1, 1)
            refs[node.output[0]] = _Ref(r.stage, "flat", shapes.get(node.output[0], ()), source_shape=tuple(src))
            continue
        if op == "Conv":
            r = ref(node, 0)
            w = const(node, 1, "weights")
            if w.ndim != 4:
                raise _fail(label, node, "only 2-D convolutions are supported")
            kh, kw = w.shape[2:]
            strides = [int(v) for v in a.get("strides", [1, 1])]
            dil = [int(v) for v in a.get("dilations", [1, 1])]
            group = int(a.get("group", 1))
            pads = _pads(label, node, a, r.shape[2:4] if len(r.shape) == 4 else (-1, -1), (kh, kw), strides, dil)
            st: dict[str, Any] = {"type": "conv", "filters": [file(f"{name}.weight", w.transpose(0, 2, 3, 1))]}
            if r.pad is not None:
                if r.pad_mode == "constant" and (r.pad_value == 0.0 or pads == ((0, 0), (0, 0))):
                    pads = ((pads[0][0] + r.pad[0][0], pads[0][1] + r.pad[0][1]),
                            (pads[1][0] + r.pad[1][0], pads[1][1] + r.pad[1][1]))
                    if r.pad_value:
                        st["pad_value"] = r.pad_value
                elif pads == ((0, 0), (0, 0)):
                    pads = r.pad
                    st["pad_mode"] = r.pad_mode
                else:
                    raise _fail(label, node, f"its own pads and the {r.pad_mode} Pad '{r.pad_node}' before it do not "
                                             "combine")
            if pads != ((0, 0), (0, 0)):
                st["padding"] = padding_value(pads)
            if strides != [1, 1]:
                st["stride"] = strides if strides[0] != strides[1] else strides[0]
            if dil != [1, 1]:
                st["dilation"] = dil if dil[0] != dil[1] else dil[0]
            if group != 1:
                st["groups"] = group
            if len(node.input) > 2 and node.input[2]:
                st["bias"] = file(f"{name}.bias", const(node, 2, "bias"))
            add_stage(node, name, st, [r.stage])
            continue
        if op == "BatchNormalization":
            r = ref(node, 0)
            st = {"type": "batchnorm", "mean": file(f"{name}.mean", const(node, 3, "mean")),
                  "var": file(f"{name}.var", const(node, 4, "var")),
                  "scale": file(f"{name}.scale", const(node, 1, "scale")),
                  "shift": file(f"{name}.shift", const(node, 2, "bias"))}
            eps = float(a.get("epsilon", 1e-5))
            if eps != 1e-5:
                st["eps"] = eps
            add_stage(node, name, st, [r.stage], r.kind)
            continue
        if op in ("Relu", "Sigmoid", "Tanh", "HardSwish"):
            r = ref(node, 0)
            add_stage(node, name, {"type": op.lower()}, [r.stage], r.kind)
            continue
        if op == "LeakyRelu":
            r = ref(node, 0)
            add_stage(node, name, {"type": "leaky_relu", "slope": float(a.get("alpha", 0.01))}, [r.stage], r.kind)
            continue
        if op == "HardSigmoid":
            r = ref(node, 0)
            add_stage(node, name, {"type": "hardsigmoid", "alpha": float(a.get("alpha", 0.2)),
                                   "beta": float(a.get("beta", 0.5))}, [r.stage], r.kind)
            continue
        if op == "Clip":
            r = ref(node, 0)
            st = {"type": "clip"}
            lo = const(node, 1, "min") if len(node.input) > 1 and node.input[1] else a.get("min")
            hi = const(node, 2, "max") if len(node.input) > 2 and node.input[2] else a.get("max")
            if lo is not None:
                st["min"] = float(np.asarray(lo).reshape(-1)[0])
            if hi is not None:
                st["max"] = float(np.asarray(hi).reshape(-1)[0])
            add_stage(node, name, st, [r.stage], r.kind)
            continue
        if op in ("Add", "Mul"):
            constant = [i for i in (0, 1) if node.input[i] in init]
            if not constant:
                ra, rb = ref(node, 0), ref(node, 1)
                kind = "vector" if ra.kind == rb.kind == "vector" else "map"
                add_stage(node, name, {"type": op.lower()}, [ra.stage, rb.stage], kind)
                continue
            if len(constant) == 2:
                raise _fail(label, node, "both of its inputs are constants")
            other = ref(node, 1 - constant[0])
            value: np.ndarray = init[node.input[constant[0]]]
            prod = produced.get(other.stage)
            users = consumers.get(node.input[1 - constant[0]], [])
            if op == "Add" and other.kind == "vector" and prod is not None and prod["type"] == "dense" \
                    and "bias" not in prod and len(users) == 1 and value.size == prod["units"]:
                prod["bias"] = file(f"{other.stage}.bias", value.reshape(-1))  # MatMul + Add: the dense bias
                refs[node.output[0]] = other
                tensors[other.stage] = node.output[0]
                continue
            channels = other.shape[1] if len(other.shape) >= 2 else -1
            v = value.reshape(-1)
            if v.size not in (1, channels) or (value.ndim >= 3 and value.size != 1 and value.shape[-1] != 1
                                               and other.kind == "map"):
                raise _fail(label, node, f"{op} of a constant of shape {value.shape} is supported only per "
                                         "channel or for one number")
            ones = np.ones(max(channels, 1)) if v.size == 1 else np.ones(v.size)
            full = np.broadcast_to(v, ones.shape)
            st = {"type": "batchnorm", "mean": 0.0, "var": 1.0, "eps": 0.0}
            st["scale" if op == "Mul" else "shift"] = file(f"{name}.{'scale' if op == 'Mul' else 'shift'}", full)
            add_stage(node, name, st, [other.stage], other.kind)
            continue
        if op == "Concat":
            rs = [ref(node, i) for i in range(len(node.input))]
            axis = int(a.get("axis", 1))
            rank = len(rs[0].shape) or 4
            if axis % rank != 1:
                raise _fail(label, node, f"only Concat along channels (axis 1) is supported, not axis {axis}")
            add_stage(node, name, {"type": "concat"}, [x.stage for x in rs])
            continue
        if op in ("MaxPool", "AveragePool"):
            r = ref(node, 0)
            k = [int(v) for v in a["kernel_shape"]]
            strides = [int(v) for v in a.get("strides", [1, 1])]
            if any(int(v) != 1 for v in a.get("dilations", [1, 1])):
                raise _fail(label, node, "dilated pooling is not supported")
            if len(node.output) > 1 and node.output[1]:
                raise _fail(label, node, "its second output (the indices) is not supported")
            pads = _pads(label, node, a, r.shape[2:4] if len(r.shape) == 4 else (-1, -1), k, strides, [1, 1])
            count_pad = bool(a.get("count_include_pad", 0)) and op == "AveragePool"
            if r.pad is not None:
                if op == "AveragePool" and r.pad_mode == "constant" and r.pad_value == 0.0 \
                        and (pads == ((0, 0), (0, 0)) or count_pad):
                    pads = ((pads[0][0] + r.pad[0][0], pads[0][1] + r.pad[0][1]),
                            (pads[1][0] + r.pad[1][0], pads[1][1] + r.pad[1][1]))
                    count_pad = True  # the padded zeros are values the average counts
                elif op == "MaxPool" and r.pad_mode == "constant" and r.pad_value == -math.inf:
                    pads = ((pads[0][0] + r.pad[0][0], pads[0][1] + r.pad[0][1]),
                            (pads[1][0] + r.pad[1][0], pads[1][1] + r.pad[1][1]))
                else:
                    raise _fail(label, node, f"the {r.pad_mode} Pad '{r.pad_node}' before it changes what the pool "
                                             "sees; only zero padding before an average pool (or -inf before a max "
                                             "pool) folds")
            for axis in (0, 1):
                if max(pads[axis]) > k[axis] // 2:
                    raise _fail(label, node, f"pads {pads} are more than half the window {tuple(k)}")
            st = {"type": "pool", "mode": "max" if op == "MaxPool" else "avg", "size": k if k[0] != k[1] else k[0]}
            if strides != k:
                st["stride"] = strides if strides[0] != strides[1] else strides[0]
            if pads != ((0, 0), (0, 0)):
                st["padding"] = padding_value(pads)
            if int(a.get("ceil_mode", 0)):
                st["ceil"] = True
            if count_pad and pads != ((0, 0), (0, 0)):
                st["count_pad"] = True
            add_stage(node, name, st, [r.stage])
            continue
        if op in ("GlobalAveragePool", "GlobalMaxPool"):
            r = ref(node, 0)
            add_stage(node, name, {"type": "global_pool", "mode": "avg" if op == "GlobalAveragePool" else "max"},
                      [r.stage], "map")
            continue
        if op in ("ReduceMean", "ReduceMax"):  # over H and W: what torch's dynamo exporter writes for a global pool
            r = ref(node, 0)
            axes = const(node, 1, "axes") if len(node.input) > 1 and node.input[1] else a.get("axes")
            rank = len(r.shape) or 4
            if axes is None or sorted(int(v) % rank for v in np.asarray(axes).reshape(-1)) != [2, 3] \
                    or r.kind != "map":
                raise _fail(label, node, "only a reduction over the height and width (axes 2, 3) is supported")
            add_stage(node, name, {"type": "global_pool", "mode": "avg" if op == "ReduceMean" else "max"}, [r.stage],
                      "map" if int(a.get("keepdims", 1)) else "vector")
            continue
        if op == "LRN":
            r = ref(node, 0)
            size = int(a["size"])
            if size % 2 == 0:
                raise _fail(label, node, f"LRN size {size} is even: ONNX's window then differs from cnnviz's "
                                         "(one channel further up); only odd sizes convert exactly")
            add_stage(node, name, {"type": "norm", "mode": "lrn", "size": size, "alpha": float(a.get("alpha", 1e-4)),
                                   "beta": float(a.get("beta", 0.75)), "k": float(a.get("bias", 1.0))},
                      [r.stage])
            continue
        if op in ("Gemm", "MatMul"):
            r = ref(node, 0)
            b = const(node, 1, "weights")
            if op == "Gemm":
                if int(a.get("transA", 0)):
                    raise _fail(label, node, "transA is not supported")
                w = (b if int(a.get("transB", 0)) else b.T) * float(a.get("alpha", 1.0))
            else:
                if b.ndim != 2:
                    raise _fail(label, node, f"only a MatMul by a (K, N) matrix is supported, not {b.shape}")
                w = b.T
            units, k_in = w.shape
            if r.kind == "flat":
                c, h, wd = (tuple(r.source_shape) + (1, 1, 1))[:3]
                if c * h * wd != k_in:
                    raise _fail(label, node, f"its weights have {k_in} columns for {c}×{h}×{wd} inputs")
                # ONNX flattens (C, H, W); cnnviz flattens (H, W, C)
                w = w.reshape(units, c, h, wd).transpose(0, 2, 3, 1).reshape(units, k_in)
            elif r.kind == "map":
                raise _fail(label, node, "a Gemm/MatMul needs a vector (flatten the maps first)")
            st = {"type": "dense", "units": int(units), "weights": file(f"{name}.weight", w)}
            if op == "Gemm" and len(node.input) > 2 and node.input[2]:
                cvec = np.broadcast_to(const(node, 2, "bias").reshape(-1), (units,)) * float(a.get("beta", 1.0))
                st["bias"] = file(f"{name}.bias", cvec)
            add_stage(node, name, st, [r.stage], "vector")
            continue
        if op == "Softmax":
            r = ref(node, 0)
            axis = int(a.get("axis", -1 if opset >= 13 else 1))
            rank = len(r.shape) or (2 if r.kind == "vector" else 4)
            if r.kind == "vector" and axis % 2 != 1:
                raise _fail(label, node, f"softmax along axis {axis} of a vector is not supported")
            if r.kind == "map":
                one_cell = len(r.shape) == 4 and r.shape[2] * r.shape[3] == 1
                if axis % rank != 1 or (opset < 13 and not one_cell):
                    raise _fail(label, node, "only softmax over the channels is supported")
            add_stage(node, name, {"type": "softmax"}, [r.stage], r.kind)
            continue
        raise _unsupported(label, node)  # pragma: no cover - every SUPPORTED op is handled above

    if not stages:
        raise CnnvizError(f"{label}: the model has no node cnnviz draws")
    data = {"name": stem, "input": {"color": "gray" if c_in == 1 else "rgb", "resize": [h_in, w_in],
                                    "range": [0, 1], "normalize": None},
            "stages": stages}
    producer = f"{model.producer_name} {model.producer_version}".strip()
    header = [f"A cnnviz stack imported from {p.name} (ONNX opset {opset}{', ' + producer if producer else ''})",
              f"by cnnviz {__version__}: one stage per ONNX node, weights in {wname} (cnnviz's layout:",
              "kernels (N, kh, kw, C), dense weights (units, inputs) in (H, W, C) order).",
              "Validate it, summarise it, edit a filter, drop a stage and run it again:",
              f"  cnnviz run {stem}.yaml IMAGE",
              "ONNX does not record how images were prepared for the model: set input.range and",
              "input.normalize below to what it was trained with."]
    return Imported(data, arrays, wname, comments, header, tensors)
