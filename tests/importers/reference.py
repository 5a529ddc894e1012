"""onnxruntime as the reference: every node's output of a model, and the comparison with cnnviz's stages.

Imported only by test modules that have checked onnx and onnxruntime are installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

import cnnviz
from cnnviz.importers import imported_config
from cnnviz.importers.onnx import Imported

#: float32 precision, relative to a tensor's largest magnitude (SPEC §7).
RTOL = 1e-4


def save(model: Any, tmp_path: Path, name: str = "m.onnx") -> Path:
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def ort_outputs(model: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """onnxruntime's value of every node output (each one requested as a graph output)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for node in m.graph.node:
        for t in node.output:
            if t and t not in have:
                m.graph.output.append(helper.make_tensor_value_info(t, TensorProto.FLOAT, None))
                have.add(t)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, {"x": x}), strict=True))


def image_for(model: Any, seed: int = 0) -> np.ndarray:
    """A random image in [0, 1] of the model's input size, (1, C, H, W) float32."""
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    return np.random.default_rng(seed).random(dims).astype(np.float32)


def as_hwc(t: np.ndarray) -> np.ndarray:
    """An ONNX tensor of one image as cnnviz holds it: (1, C, H, W) → (H, W, C); (1, N) → (1, 1, N)."""
    if t.ndim == 4:
        return t[0].transpose(1, 2, 0)
    assert t.ndim == 2 and t.shape[0] == 1, t.shape
    return t.reshape(1, 1, -1)


def cnnviz_layers(imported: Imported, path: Path, x: np.ndarray) -> list[Any]:
    image = x[0].transpose(1, 2, 0)
    return cnnviz.run(imported_config(imported, path), image[..., 0] if image.shape[2] == 1 else image)


def compare(imported: Imported, layers: list[Any], ref: dict[str, np.ndarray]) -> int:
    """Assert every stage equals onnxruntime's tensor; returns how many were compared."""
    assert [layer.name for layer in layers] == [s["name"] for s in imported.data["stages"]]
    for layer in layers:
        expected = as_hwc(ref[imported.tensors[layer.name]])
        assert layer.output.shape == expected.shape, (layer.name, layer.output.shape, expected.shape)
        scale = float(np.abs(expected).max()) or 1.0
        np.testing.assert_allclose(layer.output, expected, rtol=RTOL, atol=RTOL * scale, err_msg=layer.name)
    return len(layers)
