"""cnnviz.importers.onnx: every layer cnnviz computes equals onnxruntime's (SPEC §7).

Each graph in :mod:`tests.importers.graphs` is run by onnxruntime with every
node's output requested; the imported stack is run by cnnviz; every stage is
compared with the ONNX tensor it computes, (1, C, H, W) → (H, W, C), to 1e-4
of the tensor's largest magnitude (float32 precision).  Skipped when onnx or
onnxruntime is missing, unless ``CNNVIZ_REQUIRE_EXTRAS=1``.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np
import pytest

for _module in ("onnx", "onnxruntime"):
    if importlib.util.find_spec(_module) is None:
        if os.environ.get("CNNVIZ_REQUIRE_EXTRAS") == "1":
            raise ImportError(f"{_module} is not installed and CNNVIZ_REQUIRE_EXTRAS=1")
        pytest.skip(f"{_module} is not installed (pip install 'cnnviz[test]')", allow_module_level=True)

import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

import cnnviz  # noqa: E402
from cnnviz.importers.onnx import import_onnx  # noqa: E402

from .graphs import GRAPHS, Graph, finish  # noqa: E402
from .reference import RTOL, as_hwc, cnnviz_layers, compare, image_for, ort_outputs, save  # noqa: E402


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_every_layer_equals_onnxruntime(tmp_path, name):
    model = GRAPHS[name]()
    path = save(model, tmp_path)
    imported = import_onnx(path)
    x = image_for(model)
    layers = cnnviz_layers(imported, path, x)
    n = compare(imported, layers, ort_outputs(model, x))
    folded = {"Flatten", "Reshape", "Dropout", "Identity", "Pad", "Constant"}
    weights = {t.name for t in model.graph.initializer}
    merged = sum(1 for node in model.graph.node if node.op_type == "MatMul"  # MatMul + Add(bias): one dense
                 and any(m.op_type == "Add" and node.output[0] in m.input and set(m.input) & weights
                         for m in model.graph.node))
    assert n == sum(node.op_type not in folded for node in model.graph.node) - merged


def test_stage_kinds_follow_the_nodes(tmp_path):
    """What each architecture imports to, written out by hand."""
    types = {name: [s["type"] for s in import_onnx(save(GRAPHS[name](), tmp_path, f"{name}.onnx")).data["stages"]]
             for name in ("lenet", "se_block", "squeezenet_fire", "activations")}
    assert types["lenet"] == ["conv", "tanh", "pool", "conv", "sigmoid", "pool", "dense", "relu", "dense", "relu",
                              "dense", "softmax"]
    assert types["se_block"] == ["conv", "relu", "global_pool", "conv", "relu", "conv", "sigmoid", "mul"]
    assert types["squeezenet_fire"] == ["conv", "relu", "conv", "relu", "conv", "relu", "conv", "relu", "concat"]
    assert types["activations"] == ["conv", "leaky_relu", "batchnorm", "batchnorm", "hardsigmoid", "conv",
                                    "hardswish", "clip", "batchnorm", "tanh"]
    stages = import_onnx(save(GRAPHS["squeezenet_fire"](), tmp_path)).data["stages"]
    assert [s.get("inputs") for s in stages] == [None, None, None, None, None, None,
                                                 [stages[3]["name"]], None, [stages[5]["name"], stages[7]["name"]]]


@pytest.mark.parametrize("doctor, name", [
    (lambda a: {k: (v.transpose(0, 2, 1, 3) if k.endswith(".weight") and v.ndim == 4 else v) for k, v in a.items()},
     "alexnet_block"),                      # kernels (N, kw, kh, C) instead of (N, kh, kw, C)
    (lambda a: {k: (v[..., ::-1] if k.endswith(".weight") and v.ndim == 4 else v) for k, v in a.items()},
     "vgg_bn"),                             # input channels reversed
])
def test_a_wrong_kernel_layout_fails_the_comparison(tmp_path, doctor, name):
    """The comparison can fail: the same graph with its kernels laid out wrongly differs from onnxruntime."""
    model = GRAPHS[name]()
    path = save(model, tmp_path)
    imported = import_onnx(path)
    imported.arrays = doctor(imported.arrays)
    x = image_for(model)
    with pytest.raises(AssertionError):
        compare(imported, cnnviz_layers(imported, path, x), ort_outputs(model, x))


def test_dense_columns_in_chw_order_fail_the_comparison(tmp_path):
    """Without permuting a Gemm's columns from ONNX's (C, H, W) to cnnviz's (H, W, C) order the numbers differ."""
    model = GRAPHS["flatten_gemm"]()
    path = save(model, tmp_path)
    imported = import_onnx(path)
    x = image_for(model)
    ref = ort_outputs(model, x)
    compare(imported, cnnviz_layers(imported, path, x), ref)  # right as imported
    w = imported.arrays
    key = next(k for k in w if k.endswith(".weight") and w[k].ndim == 2)
    units = w[key].shape[0]
    # undo the permutation: (units, H, W, C) back to (units, C, H, W) order
    w[key] = np.ascontiguousarray(w[key].reshape(units, 7, 5, 5).transpose(0, 3, 1, 2).reshape(units, -1))
    with pytest.raises(AssertionError):
        compare(imported, cnnviz_layers(imported, path, x), ref)


def test_several_images_and_a_different_seed(tmp_path):
    model = GRAPHS["resnet_block"]()
    path = save(model, tmp_path)
    imported = import_onnx(path)
    for seed in (1, 2, 3):
        x = image_for(model, seed)
        compare(imported, cnnviz_layers(imported, path, x), ort_outputs(model, x))


def test_an_8bit_png_through_the_cli_matches_onnxruntime(tmp_path):
    """The whole path a user takes: a PNG in, the .onnx as the config, --save-arrays out."""
    from PIL import Image

    from tests.helpers import cli

    model = GRAPHS["mobilenet_v2"]()
    path = save(model, tmp_path)
    pixels = np.random.default_rng(5).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "img.png")
    r = cli("run", str(path), str(tmp_path / "img.png"), "-o", str(tmp_path / "out"), "--save-arrays")
    assert r.exit_code == 0, r.output
    got = np.load(tmp_path / "out" / "activations.npz")
    imported = import_onnx(path)
    ref = ort_outputs(model, (pixels / 255.0).astype(np.float32).transpose(2, 0, 1)[None])
    for i, s in enumerate(imported.data["stages"], start=1):
        expected = as_hwc(ref[imported.tensors[s["name"]]])
        np.testing.assert_allclose(got[f"{i:02d}_{s['name']}"], expected, rtol=RTOL,
                                   atol=RTOL * float(np.abs(expected).max()))


def test_import_yaml_validate_run_equals_running_the_onnx(tmp_path):
    from tests.helpers import cli

    path = save(GRAPHS["lenet"](), tmp_path)
    assert cli("import", str(path), "-o", str(tmp_path / "stack" / "lenet.yaml")).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "stack").iterdir()) == ["lenet.npz", "lenet.yaml"]
    v = cli("validate", str(tmp_path / "stack" / "lenet.yaml"))
    assert v.exit_code == 0, v.output
    image = np.random.default_rng(0).random((32, 32))
    direct = cnnviz.run(cnnviz.load_config(path), image)
    written = cnnviz.run(cnnviz.load_config(tmp_path / "stack" / "lenet.yaml"), image)
    assert [a.name for a in direct] == [b.name for b in written]
    for a, b in zip(direct, written, strict=True):
        np.testing.assert_array_equal(a.output, b.output)


def test_the_written_yaml_reads_like_a_stack(tmp_path):
    model = GRAPHS["resnet_block"]()
    path = save(model, tmp_path, "resnet.onnx")
    imported = import_onnx(path)
    text = imported.yaml()
    first = model.graph.node[0].name
    assert f"  # ONNX Conv '{first}'\n  - type: conv\n    name: {first}\n" in text
    assert "name: resnet" in text and "color: rgb" in text and "resize: [32, 32]" in text
    assert "mean: [0.485, 0.456, 0.406]" in text  # the ImageNet example, as a comment
    conv = imported.arrays[f"{imported.data['stages'][0]['name']}.weight"]
    w = onnx.numpy_helper.to_array(model.graph.initializer[0])
    assert conv.shape == (16, 3, 3, 3) and w.shape == (16, 3, 3, 3)
    np.testing.assert_array_equal(conv, w.transpose(0, 2, 3, 1))  # (M, C, kh, kw) → (N, kh, kw, C)


# errors: one line naming the model, the node and its op; exit status 1; nothing written

SUPPORTED_LIST = ("Conv, BatchNormalization, Relu, LeakyRelu, Sigmoid, Tanh, Clip, HardSigmoid, HardSwish, Add, "
                  "Mul, Concat, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, LRN, Flatten, Reshape, "
                  "Gemm, MatMul, Softmax, Dropout, Identity, Pad, ReduceMean, ReduceMax")


def one_node(op: str, shape: Any = (1, 1, 8, 8), inits: Any = (), opset: int = 17, inputs: Any = ("x",),
             **attrs: Any) -> Any:
    return finish([helper.make_node(op, list(inputs), ["y"], name="the_node", **attrs)], list(inits), shape, "y",
                  opset)


def floor_after_conv() -> Any:
    g = Graph(1, 8, 8)
    g.nodes.append(helper.make_node("Floor", [g.conv("x", 1, 2, 3)], ["f"], name="rounding"))
    return g.model("f")


def two_inputs() -> Any:
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 1, 8, 8]) for n in ("x", "z", "y")]
    g = helper.make_graph([helper.make_node("Add", ["x", "z"], ["y"], name="the_node")], "g", vi[:2], vi[2:])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


@pytest.mark.parametrize("make, message", [
    (floor_after_conv, "node 'rounding' (Floor): the op Floor is not supported; cnnviz imports " + SUPPORTED_LIST),
    (lambda: one_node("Relu", shape=["N", 1, 8, 8]),
     "the input 'x' has a dynamic shape ('N', 1, 8, 8); cnnviz needs a fixed (1, C, H, W): export the model with a "
     "fixed input size"),
    (lambda: one_node("Relu", shape=[2, 3, 8, 8]),
     "the input 'x' is a batch of 2 images; cnnviz feeds one, (1, C, H, W)"),
    (lambda: one_node("Relu", shape=[1, 4, 8, 8]),
     "the input 'x' has 4 channels; cnnviz feeds images of 1 (gray) or 3 (rgb)"),
    (lambda: one_node("Relu", shape=[1, 8, 8]),
     "the input 'x' has shape (1, 8, 8); cnnviz feeds a batch of one image, (1, C, H, W)"),
    (lambda: one_node("LRN", shape=[1, 3, 8, 8], size=4),
     "node 'the_node' (LRN): LRN size 4 is even: ONNX's window then differs from cnnviz's (one channel further "
     "up); only odd sizes convert exactly"),
    (lambda: one_node("Relu", opset=9), "opset 9 is not supported; cnnviz reads opsets 11 to 21"),
    (two_inputs, "the model takes 2 inputs; cnnviz feeds it one image"),
    (lambda: one_node("Concat", shape=[1, 3, 8, 8], inputs=("x", "x"), axis=2),
     "node 'the_node' (Concat): only Concat along channels (axis 1) is supported, not axis 2"),
    (lambda: one_node("MaxPool", kernel_shape=[2, 2], dilations=[2, 2]),
     "node 'the_node' (MaxPool): dilated pooling is not supported"),
])
def test_what_cannot_be_imported_is_one_line_and_nothing_is_written(tmp_path, make, message):
    from tests.helpers import cli

    path = save(make(), tmp_path, "bad.onnx")
    for args in (("import", str(path), "-o", str(tmp_path / "out" / "s.yaml")),
                 ("run", str(path), "camera", "-o", str(tmp_path / "out")),
                 ("validate", str(path))):
        r = cli(*args)
        assert (r.exit_code, r.stdout, r.stderr) == (1, "", f"Error: {path}: {message}\n"), args
        assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_a_model(tmp_path):
    from tests.helpers import cli

    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07not a model at all")
    r = cli("import", str(tmp_path / "junk.onnx"))
    assert (r.exit_code, r.stderr) == (1, f"Error: {tmp_path / 'junk.onnx'}: not an ONNX model cnnviz can read "
                                          "(DecodeError)\n")
    r = cli("import", str(tmp_path / "missing.onnx"))
    assert (r.exit_code, r.stderr) == (1, f"Error: model file not found: {tmp_path / 'missing.onnx'}\n")


def test_import_refuses_to_overwrite_and_names_the_stack(tmp_path):
    from tests.helpers import cli

    path = save(GRAPHS["se_block"](), tmp_path, "se.onnx")
    r = cli("import", str(path), cwd=tmp_path)
    assert (r.exit_code, r.stdout) == (0, "wrote se.yaml and se.npz\n")
    before = (tmp_path / "se.npz").read_bytes()
    r = cli("import", str(path), cwd=tmp_path)
    assert (r.exit_code, r.stderr) == (1, "Error: se.yaml already exists (use --force to overwrite it)\n")
    r = cli("import", str(path), "-o", "se.txt", cwd=tmp_path)
    assert (r.exit_code, r.stderr) == (1, "Error: se.txt: the stack is a YAML file; name it STACK.yaml\n")
    assert cli("import", str(path), "--force", cwd=tmp_path).exit_code == 0
    assert (tmp_path / "se.npz").read_bytes() == before  # the same model imports to the same bytes
