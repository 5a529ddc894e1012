"""A ResNet-style ONNX graph built with ``onnx.helper`` (random weights), for benchmark row 7.

ResNet-18's shape at a chosen width: a 7×7 stride-2 stem with BatchNorm and
ReLU, a 3×3 stride-2 max pool, four stages of two basic blocks (3×3 conv, BN,
ReLU, 3×3 conv, BN, add, ReLU; the first block of stages 2-4 halves the size
with a strided 3×3 conv and a strided 1×1 conv + BN shortcut), a global
average pool, Flatten and a 1000-way Gemm + Softmax.  ``width=64, size=224``
is ResNet-18 itself (1.8 GMAC).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def resnet(size: int = 224, width: int = 64, classes: int = 1000, seed: int = 0) -> Any:
    """The model, (1, 3, size, size) in, (1, classes) probabilities out."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes: list[Any] = []
    inits: list[Any] = []
    count = [0]

    def const(a: np.ndarray) -> str:
        count[0] += 1
        name = f"w{count[0]}"
        inits.append(numpy_helper.from_array(a.astype(np.float32), name))
        return name

    def op(kind: str, inputs: list[str], **attrs: Any) -> str:
        count[0] += 1
        out = f"t{count[0]}"
        nodes.append(helper.make_node(kind, inputs, [out], name=f"{kind.lower()}{count[0]}", **attrs))
        return out

    def conv(x: str, cin: int, cout: int, k: int, stride: int = 1) -> str:
        w = rng.normal(0, np.sqrt(2.0 / (cin * k * k)), (cout, cin, k, k))
        return op("Conv", [x, const(w)], kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4)

    def bn(x: str, c: int) -> str:
        return op("BatchNormalization", [x, const(rng.uniform(0.5, 1.5, c)), const(rng.normal(0, 0.1, c)),
                                         const(rng.normal(0, 0.1, c)), const(rng.uniform(0.5, 1.5, c))])

    def block(x: str, cin: int, cout: int, stride: int) -> str:
        y = op("Relu", [bn(conv(x, cin, cout, 3, stride), cout)])
        y = bn(conv(y, cout, cout, 3), cout)
        short = bn(conv(x, cin, cout, 1, stride), cout) if stride != 1 or cin != cout else x
        return op("Relu", [op("Add", [y, short])])

    x = op("Relu", [bn(conv("x", 3, width, 7, 2), width)])
    x = op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    c = width
    for i, mult in enumerate((1, 2, 4, 8)):
        x = block(x, c, width * mult, 1 if i == 0 else 2)
        x = block(x, width * mult, width * mult, 1)
        c = width * mult
    x = op("Flatten", [op("GlobalAveragePool", [x])], axis=1)
    w = rng.normal(0, np.sqrt(1.0 / c), (classes, c))
    x = op("Gemm", [x, const(w), const(np.zeros(classes))], transB=1)
    out = op("Softmax", [x], axis=1)
    graph = helper.make_graph(nodes, "resnet", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                              [1, 3, size, size])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="cnnviz-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def mobilenet_v2(size: int = 224, width: float = 1.0, classes: int = 1000, seed: int = 0) -> Any:
    """MobileNetV2's shape (random weights): a 3×3 stride-2 stem, 17 inverted residuals (1×1 expand ×6, 3×3
    depthwise conv = groups of one channel, 1×1 project, BN after each, Clip 0..6, an Add where the shape
    allows), a 1×1 conv to 1280, a global average pool, Flatten, Gemm, Softmax.  ``width=1, size=224`` is
    MobileNetV2 itself (0.3 GMAC)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes: list[Any] = []
    inits: list[Any] = []
    count = [0]

    def const(a: np.ndarray) -> str:
        count[0] += 1
        name = f"w{count[0]}"
        inits.append(numpy_helper.from_array(np.asarray(a, np.float32), name))
        return name

    def op(kind: str, inputs: list[str], **attrs: Any) -> str:
        count[0] += 1
        out = f"t{count[0]}"
        nodes.append(helper.make_node(kind, inputs, [out], name=f"{kind.lower()}{count[0]}", **attrs))
        return out

    def conv_bn(x: str, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, relu6: bool = True) -> str:
        w = rng.normal(0, np.sqrt(2.0 / (cin // groups * k * k)), (cout, cin // groups, k, k))
        y = op("Conv", [x, const(w)], kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4,
               group=groups)
        y = op("BatchNormalization", [y, const(rng.uniform(0.5, 1.5, cout)), const(rng.normal(0, 0.1, cout)),
                                      const(rng.normal(0, 0.1, cout)), const(rng.uniform(0.5, 1.5, cout))])
        return op("Clip", [y, lo, hi]) if relu6 else y

    lo, hi = const(np.array(0.0)), const(np.array(6.0))

    def ch(c: int) -> int:
        return max(8, int(c * width + 4) // 8 * 8)

    c = ch(32)
    x = conv_bn("x", 3, c, 3, 2)
    for t, cout, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                          (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(n):
            stride, co = (s if i == 0 else 1), ch(cout)
            y = conv_bn(x, c, c * t, 1) if t != 1 else x
            y = conv_bn(y, c * t, c * t, 3, stride, groups=c * t)
            y = conv_bn(y, c * t, co, 1, relu6=False)
            x = op("Add", [x, y]) if stride == 1 and c == co else y
            c = co
    x = conv_bn(x, c, 1280, 1)
    x = op("Flatten", [op("GlobalAveragePool", [x])], axis=1)
    x = op("Gemm", [x, const(rng.normal(0, np.sqrt(1.0 / 1280), (classes, 1280))), const(np.zeros(classes))],
           transB=1)
    out = op("Softmax", [x], axis=1)
    graph = helper.make_graph(nodes, "mobilenet_v2", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                    [1, 3, size, size])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="cnnviz-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def conv_kind(kernel: tuple[int, int], groups: int, channels: int) -> str:
    """``conv 1×1``, ``conv depthwise`` (a group per channel), ``conv grouped`` or ``conv k×k``: for time shares."""
    if groups > 1:
        return "conv depthwise" if groups == channels else "conv grouped"
    return "conv 1×1" if tuple(kernel) == (1, 1) else f"conv {kernel[0]}×{kernel[1]}"


def ort_session(model: Any, *, optimize: bool, all_outputs: bool = False, profile: str | None = None,
                spin: bool = False) -> Any:
    """An onnxruntime CPU session; ``all_outputs`` requests every node's output (to compare layer by layer).

    ``spin``: onnxruntime's default, its worker threads spin-waiting after a
    run.  Off by default here: spinning threads take the CPU from whatever
    runs next (in interleaved rounds, cnnviz's BLAS threads).
    """
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    if all_outputs:
        have = {o.name for o in m.graph.output}
        for node in m.graph.node:
            if node.output[0] not in have:
                m.graph.output.append(helper.make_tensor_value_info(node.output[0], TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                     else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if profile:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile
    return ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def ort_op_seconds(profile_json: str, kinds: dict[str, str] | None = None) -> dict[str, float]:
    """Seconds per op type summed over an onnxruntime profile's node events (``*_kernel_time``).

    ``kinds`` maps a node name to the label to count it under (a Conv's :func:`conv_kind`).
    """
    import json

    with open(profile_json, encoding="utf-8") as f:
        events = json.load(f)
    out: dict[str, float] = {}
    for e in events:
        name = str(e.get("name", ""))
        if e.get("cat") == "Node" and name.endswith("_kernel_time"):
            op = e.get("args", {}).get("op_name", "?")
            op = (kinds or {}).get(name[: -len("_kernel_time")], op)
            out[op] = out.get(op, 0.0) + e["dur"] / 1e6
    return out


def node_kinds(model: Any) -> dict[str, str]:
    """Each Conv node's :func:`conv_kind`, by node name."""
    from onnx import helper, shape_inference

    inferred = shape_inference.infer_shapes(model)
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
              for vi in list(inferred.graph.value_info) + list(inferred.graph.input)}
    out = {}
    for n in model.graph.node:
        if n.op_type == "Conv":
            a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
            c = shapes.get(n.input[0], [0, 0])[1]
            out[n.name] = conv_kind(tuple(a["kernel_shape"]), int(a.get("group", 1)), c)
    return out
