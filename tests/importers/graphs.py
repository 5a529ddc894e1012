"""Small ONNX graphs built with ``onnx.helper`` (no downloads), for the importer's tests.

Each builder returns a ``ModelProto`` whose input is ``x`` of shape
(1, C, H, W) and whose weights are seeded random initializers.  The
architectures follow the papers' blocks at toy sizes: LeNet-5, a VGG block
with BatchNorm, a ResNet basic block with a strided 1×1 shortcut, a
MobileNetV2 inverted residual, a SqueezeNet fire module, a
squeeze-and-excitation block and an AlexNet-style block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Graph:
    """A graph under construction: ``op`` adds a node and returns its output's name."""

    def __init__(self, c: int, h: int, w: int, *, seed: int = 0, opset: int = 17) -> None:
        self.shape = (1, c, h, w)
        self.rng = np.random.default_rng(seed)
        self.opset = opset
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.n = 0

    def const(self, value: Any, name: str | None = None) -> str:
        self.n += 1
        name = name or f"c{self.n}"
        arr = np.asarray(value)
        arr = arr.astype(np.int64) if arr.dtype.kind in "iu" else arr.astype(np.float32)
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def rand(self, *shape: int, scale: float | None = None, low: float | None = None) -> str:
        if low is not None:  # positive, e.g. a variance
            return self.const(self.rng.uniform(low, 1.0 + low, shape))
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        return self.const(self.rng.normal(0.0, scale if scale is not None else np.sqrt(2.0 / fan_in), shape))

    def op(self, op: str, inputs: Sequence[str], name: str | None = None, **attrs: Any) -> str:
        self.n += 1
        out = f"t{self.n}_{op}"
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=name if name is not None else f"{op}_{self.n}",
                                           **attrs))
        return out

    # layers ---------------------------------------------------------------

    def conv(self, x: str, cin: int, cout: int, k: int | tuple[int, int], *, groups: int = 1, bias: bool = True,
             **attrs: Any) -> str:
        kh, kw = (k, k) if isinstance(k, int) else k
        ins = [x, self.rand(cout, cin // groups, kh, kw)]
        if bias:
            ins.append(self.rand(cout, scale=0.1))
        return self.op("Conv", ins, kernel_shape=[kh, kw], group=groups, **attrs)

    def bn(self, x: str, c: int, eps: float = 1e-5) -> str:
        return self.op("BatchNormalization", [x, self.rand(c, low=0.5), self.rand(c, scale=0.2),
                                              self.rand(c, scale=0.3), self.rand(c, low=0.2)], epsilon=eps)

    def gemm(self, x: str, k: int, n: int, trans_b: bool = True) -> str:
        w = self.rand(n, k) if trans_b else self.rand(k, n, scale=np.sqrt(2.0 / k))
        return self.op("Gemm", [x, w, self.rand(n, scale=0.1)], transB=int(trans_b))

    def model(self, out: str) -> Any:
        return finish(self.nodes, self.inits, self.shape, out, self.opset)


def finish(nodes: Sequence[Any], inits: Sequence[Any], shape: Sequence[int | str], out: str, opset: int = 17) -> Any:
    """The model of ``nodes``: input ``x`` of ``shape``, output ``out`` with its inferred shape, checked."""
    g = helper.make_graph(list(nodes), "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="tests")
    m.ir_version = 8
    inferred = onnx.shape_inference.infer_shapes(m)
    known = {vi.name: vi for vi in inferred.graph.value_info}
    if out in known:
        m.graph.output[0].CopyFrom(known[out])
    else:  # shape inference could not tell (e.g. a dynamic input): any rank
        m.graph.output[0].type.tensor_type.shape.SetInParent()
    onnx.checker.check_model(m)
    return m


def lenet() -> Any:
    """LeNet-5 on 1×32×32: tanh/sigmoid, average and max pooling, Flatten → Gemm, MatMul + Add, Softmax."""
    g = Graph(1, 32, 32, seed=1)
    x = g.op("Tanh", [g.conv("x", 1, 6, 5)])
    x = g.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = g.op("Sigmoid", [g.conv(x, 6, 16, 5)])
    x = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = g.op("Flatten", [x], axis=1)
    x = g.op("Relu", [g.gemm(x, 16 * 5 * 5, 120)])
    x = g.op("Relu", [g.gemm(x, 120, 84, trans_b=False)])
    x = g.op("MatMul", [x, g.rand(84, 10, scale=0.2)])
    x = g.op("Add", [x, g.rand(10, scale=0.1)])
    return g.model(g.op("Softmax", [x], axis=1))


def vgg_bn() -> Any:
    """A VGG block: two 3×3 convs (no bias) with BatchNorm and ReLU, then a 2×2 max pool, on 3×24×24."""
    g = Graph(3, 24, 24, seed=2)
    x = g.op("Relu", [g.bn(g.conv("x", 3, 16, 3, pads=[1, 1, 1, 1], bias=False), 16)])
    x = g.op("Relu", [g.bn(g.conv(x, 16, 16, 3, pads=[1, 1, 1, 1], bias=False), 16, eps=1e-3)])
    return g.model(g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2]))


def resnet_block(c: int = 16, size: int = 32, seed: int = 3) -> Any:
    """A stem, then a ResNet basic block that halves the size: the shortcut is a strided 1×1 conv + BN."""
    g = Graph(3, size, size, seed=seed)
    stem = g.op("Relu", [g.bn(g.conv("x", 3, c, 3, pads=[1, 1, 1, 1], bias=False), c)])
    y = g.op("Relu", [g.bn(g.conv(stem, c, 2 * c, 3, strides=[2, 2], pads=[1, 1, 1, 1], bias=False), 2 * c)])
    y = g.bn(g.conv(y, 2 * c, 2 * c, 3, pads=[1, 1, 1, 1], bias=False), 2 * c)
    short = g.bn(g.conv(stem, c, 2 * c, 1, strides=[2, 2], bias=False), 2 * c)
    return g.model(g.op("Relu", [g.op("Add", [y, short])]))


def mobilenet_v2(opset: int = 11) -> Any:
    """A MobileNetV2 inverted residual: 1×1 expand, 3×3 depthwise (groups = channels), Clip 0..6, 1×1 project, Add."""
    g = Graph(3, 20, 20, seed=4, opset=opset)
    lo, hi = g.const(0.0), g.const(6.0)
    stem = g.op("Clip", [g.bn(g.conv("x", 3, 8, 3, pads=[1, 1, 1, 1], bias=False), 8), lo, hi])
    y = g.op("Clip", [g.bn(g.conv(stem, 8, 48, 1, bias=False), 48), lo, hi])
    y = g.op("Clip", [g.bn(g.conv(y, 48, 48, 3, groups=48, pads=[1, 1, 1, 1], bias=False), 48), lo, hi])
    y = g.bn(g.conv(y, 48, 8, 1, bias=False), 8)
    return g.model(g.op("Add", [stem, y]))


def squeezenet_fire() -> Any:
    """A SqueezeNet fire module: squeeze 1×1, then 1×1 and 3×3 expands joined by Concat on the channels."""
    g = Graph(3, 18, 18, seed=5)
    x = g.op("Relu", [g.conv("x", 3, 16, 3, strides=[2, 2])])
    s = g.op("Relu", [g.conv(x, 16, 4, 1)])
    e1 = g.op("Relu", [g.conv(s, 4, 8, 1)])
    e3 = g.op("Relu", [g.conv(s, 4, 8, 3, pads=[1, 1, 1, 1])])
    return g.model(g.op("Concat", [e1, e3], axis=1))


def se_block() -> Any:
    """Squeeze and excitation: GlobalAveragePool → 1×1 conv → ReLU → 1×1 conv → Sigmoid → Mul with the maps."""
    g = Graph(3, 16, 16, seed=6)
    x = g.op("Relu", [g.conv("x", 3, 16, 3, pads=[1, 1, 1, 1])])
    s = g.op("GlobalAveragePool", [x])
    s = g.op("Relu", [g.conv(s, 16, 4, 1)])
    s = g.op("Sigmoid", [g.conv(s, 4, 16, 1)])
    return g.model(g.op("Mul", [x, s]))


def alexnet_block() -> Any:
    """AlexNet-style: an 11×11 stride-4 conv with asymmetric pads, LRN, overlapping max pool, a grouped dilated conv."""
    g = Graph(3, 67, 61, seed=7)
    x = g.op("Relu", [g.conv("x", 3, 16, 11, strides=[4, 4], pads=[2, 1, 3, 2])])
    x = g.op("LRN", [x], size=5, alpha=1e-3, beta=0.75, bias=2.0)
    x = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2])
    x = g.op("Relu", [g.conv(x, 16, 24, 3, groups=2, dilations=[2, 2], pads=[2, 2, 2, 2])])
    return g.model(x)


def same_upper() -> Any:
    """auto_pad SAME_UPPER with stride 2 on an odd size (conv and max pool), SAME_LOWER, and VALID."""
    g = Graph(1, 15, 13, seed=8)
    x = g.op("Relu", [g.conv("x", 1, 6, 4, strides=[2, 2], auto_pad="SAME_UPPER")])
    x = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_UPPER")
    x = g.conv(x, 6, 4, 2, auto_pad="SAME_LOWER")
    return g.model(g.conv(x, 4, 3, 2, auto_pad="VALID"))


def pools() -> Any:
    """MaxPool with ceil_mode, AveragePool with and without count_include_pad, GlobalMaxPool."""
    g = Graph(3, 16, 16, seed=9)
    x = g.op("Relu", [g.conv("x", 3, 8, 3)])                                       # 14×14
    a = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)      # 7×7
    b = g.op("AveragePool", [a], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)
    c = g.op("AveragePool", [a], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=0)
    d = g.op("AveragePool", [c], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    e = g.op("Add", [b, c])
    return g.model(g.op("Add", [g.op("GlobalMaxPool", [e]), g.op("GlobalMaxPool", [d])]))


def flatten_gemm() -> Any:
    """A Gemm after a Flatten of a (C, H, W) map with H ≠ W (and a Reshape to (1, -1)): the column order matters."""
    g = Graph(3, 9, 7, seed=10)
    x = g.op("Relu", [g.conv("x", 3, 5, 3)])                                       # 5×7×5
    f = g.op("Flatten", [x], axis=1)
    y1 = g.gemm(f, 5 * 7 * 5, 6)
    r = g.op("Reshape", [x, g.const(np.array([1, -1]))])
    y2 = g.op("MatMul", [r, g.rand(5 * 7 * 5, 6, scale=0.1)])
    return g.model(g.op("Softmax", [g.op("Add", [y1, y2])], axis=-1))


def activations() -> Any:
    """Every pointwise op: LeakyRelu, HardSigmoid, HardSwish, Clip (opset 21), Tanh; Dropout/Identity vanish;
    a reflect Pad folds into a conv; Add and Mul of per-channel constants."""
    g = Graph(3, 12, 12, seed=11, opset=21)
    x = g.op("Pad", ["x", g.const(np.array([0, 0, 1, 2, 0, 0, 2, 1]))], mode="reflect")
    x = g.conv(x, 3, 8, 3)
    x = g.op("LeakyRelu", [x], alpha=0.2)
    x = g.op("Dropout", [x])
    x = g.op("Mul", [x, g.rand(1, 8, 1, 1, scale=1.0)])
    x = g.op("Add", [g.rand(1, 8, 1, 1, scale=0.5), x])
    x = g.op("HardSigmoid", [x], alpha=0.3, beta=0.4)
    x = g.op("Identity", [x])
    y = g.op("HardSwish", [g.conv(x, 8, 8, 1)])
    y = g.op("Clip", [y, g.const(-0.1), g.const(0.25)])
    return g.model(g.op("Tanh", [g.op("Mul", [y, g.const(3.0)])]))


GRAPHS: dict[str, Callable[[], Any]] = {
    "lenet": lenet, "vgg_bn": vgg_bn, "resnet_block": resnet_block, "mobilenet_v2": mobilenet_v2,
    "squeezenet_fire": squeezenet_fire, "se_block": se_block, "alexnet_block": alexnet_block,
    "same_upper": same_upper, "pools": pools, "flatten_gemm": flatten_gemm, "activations": activations,
}
