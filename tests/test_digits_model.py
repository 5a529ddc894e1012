"""The shipped digits model: configs/digits/k.png is classified as k by configs/digits.onnx (onnxruntime).

Runs ``scripts/train_digits.py --check`` in-process (its ``check`` function; no torch, no training).
Skipped when onnxruntime is not installed, unless ``CNNVIZ_REQUIRE_EXTRAS=1``.
"""

from __future__ import annotations

import importlib.util
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "train_digits.py"
MODEL = ROOT / "configs" / "digits.onnx"
IMAGES = ROOT / "configs" / "digits"


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def need(module: str, why: str) -> None:
    if not have(module):
        if os.environ.get("CNNVIZ_REQUIRE_EXTRAS") == "1":
            pytest.fail(f"{module} is not installed and CNNVIZ_REQUIRE_EXTRAS=1")
        pytest.skip(f"{module} is not installed ({why})")


def script():
    spec = importlib.util.spec_from_file_location("train_digits", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_files_are_shipped_and_small():
    assert MODEL.is_file(), "configs/digits.onnx is missing (python scripts/train_digits.py)"
    assert MODEL.stat().st_size < 1_000_000
    assert (IMAGES / "README.md").is_file()
    for k in range(10):
        path = IMAGES / f"{k}.png"
        with Image.open(path) as im:
            assert (im.mode, im.size, im.format) == ("L", (8, 8), "PNG"), path.name
        assert path.stat().st_size < 4096


def test_each_digit_is_classified_as_its_name():
    need("onnxruntime", "pip install onnxruntime")
    out = io.StringIO()
    failures = script().check(MODEL, IMAGES, out=out)
    assert failures == [], "\n".join(failures) + "\n" + out.getvalue()
    lines = out.getvalue().splitlines()
    assert [ln.split(":")[0] for ln in lines] == [f"{k}.png" for k in range(10)]


def test_check_reports_a_wrong_name(tmp_path):
    need("onnxruntime", "pip install onnxruntime")
    for k in range(10):  # 0.png and 1.png swapped
        src = IMAGES / f"{ {0: 1, 1: 0}.get(k, k)}.png"
        (tmp_path / f"{k}.png").write_bytes(src.read_bytes())
    failures = script().check(MODEL, tmp_path, out=io.StringIO())
    assert len(failures) == 2
    assert failures[0].startswith("0.png is classified as 1")
    assert failures[1].startswith("1.png is classified as 0")


def test_check_command_line_exit_code(capsys):
    need("onnxruntime", "pip install onnxruntime")
    assert script().main(["--check"]) == 0
    assert "all 10 digits classified correctly" in capsys.readouterr().out


def test_model_interface():
    need("onnx", "pip install cnnviz[onnx]")
    import onnx

    m = onnx.load(str(MODEL))
    onnx.checker.check_model(m)
    assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [17]
    (inp,), (outp,) = m.graph.input, m.graph.output
    assert inp.name == "digit" and [d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, 1, 8, 8]
    assert outp.name == "probabilities" and [d.dim_value for d in outp.type.tensor_type.shape.dim] == [1, 10]
    assert [(n.name, n.op_type) for n in m.graph.node] == [
        ("/conv1/Conv", "Conv"), ("/bn1/BatchNormalization", "BatchNormalization"), ("/relu1/Relu", "Relu"),
        ("/conv2/Conv", "Conv"), ("/relu2/Relu", "Relu"), ("/pool/MaxPool", "MaxPool"),
        ("/flatten/Flatten", "Flatten"), ("/fc/Gemm", "Gemm"), ("/softmax/Softmax", "Softmax")]


def test_images_are_load_digits_test_samples():
    """Each PNG is round(v / 16 * 255) of the load_digits image the README names."""
    need("sklearn", "pip install scikit-learn")
    import re

    from sklearn.datasets import load_digits

    rows = dict(re.findall(r"^\| `(\d)\.png` \| (\d+) \|", (IMAGES / "README.md").read_text(encoding="utf-8"), re.M))
    assert sorted(rows) == [str(k) for k in range(10)]
    d = load_digits()
    for k, i in rows.items():
        assert d.target[int(i)] == int(k)
        want = np.round(d.images[int(i)] / 16 * 255).astype(np.uint8)
        with Image.open(IMAGES / f"{k}.png") as im:
            np.testing.assert_array_equal(np.asarray(im), want)
