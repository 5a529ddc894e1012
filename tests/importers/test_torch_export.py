"""A model exported by PyTorch (``torch.onnx.export``, both exporters) imports and equals onnxruntime and torch.

The network is a small ResNet/MobileNet mix written here (no torchvision):
a stem with BatchNorm and ReLU6, a depthwise conv, HardSwish, a ceil-mode
max pool, two basic blocks (one with a strided 1×1 shortcut), an adaptive
average pool, Dropout, Linear and Softmax.  Skipped when torch, onnx or
onnxruntime is missing, unless ``CNNVIZ_REQUIRE_EXTRAS=1``; the dynamo
exporter also needs onnxscript.
"""

from __future__ import annotations

import importlib.util
import os
import warnings

import numpy as np
import pytest

for _module in ("torch", "onnx", "onnxruntime", "onnxscript"):
    if importlib.util.find_spec(_module) is None:
        if os.environ.get("CNNVIZ_REQUIRE_EXTRAS") == "1":
            raise ImportError(f"{_module} is not installed and CNNVIZ_REQUIRE_EXTRAS=1")
        pytest.skip(f"{_module} is not installed (pip install 'cnnviz[test]')", allow_module_level=True)

import onnx  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import cnnviz  # noqa: E402
from cnnviz.importers.onnx import import_onnx  # noqa: E402

from .reference import RTOL, cnnviz_layers, compare, ort_outputs  # noqa: E402


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.short = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                      if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.short(x))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.BatchNorm2d(8), nn.ReLU6())
        self.dw = nn.Conv2d(8, 8, 3, 1, 1, groups=8)
        self.pool = nn.MaxPool2d(3, 2, 1, ceil_mode=True)
        self.block1, self.block2 = Block(8, 16, 2), Block(16, 16, 1)
        self.gap, self.drop, self.fc = nn.AdaptiveAvgPool2d(1), nn.Dropout(0.2), nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(nn.functional.hardswish(self.dw(self.stem(x))))
        x = self.block2(self.block1(x))
        return torch.softmax(self.fc(self.drop(torch.flatten(self.gap(x), 1))), 1)


@pytest.fixture(scope="module")
def net() -> Net:
    torch.manual_seed(0)
    model = Net().eval()
    for m in model.modules():  # trained-looking statistics, so BatchNorm is not the identity
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    return model


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_a_torch_export_imports_and_every_layer_matches(tmp_path, net, dynamo):
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    path = tmp_path / "net.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporters' deprecation and progress notes
        torch.onnx.export(net, (x,), str(path), dynamo=dynamo, input_names=["x"], opset_version=18)
    model = onnx.load(str(path))
    imported = import_onnx(path)
    layers = cnnviz_layers(imported, path, x.numpy())
    assert compare(imported, layers, ort_outputs(model, x.numpy())) == len(imported.data["stages"]) >= 15
    with torch.no_grad():
        expected = net(x).numpy().reshape(1, 1, -1)
    np.testing.assert_allclose(layers[-1].output, expected, rtol=RTOL, atol=RTOL)
    types = [s["type"] for s in imported.data["stages"]]
    assert types[:5] == ["conv", "clip", "conv", "hardswish", "pool"] and types[-3:] == [
        "global_pool", "dense", "softmax"]
    assert cnnviz.load_config(path).stages[-1].type == "softmax"
