#!/usr/bin/env python3
"""Train the small digits CNN that ships with cnnviz, export it to ONNX, and write sample digits.

    python scripts/train_digits.py           # retrain: configs/digits.onnx, configs/digits/{0..9}.png, README.md
    python scripts/train_digits.py --check   # train nothing: classify configs/digits/k.png with the .onnx

The data are scikit-learn's bundled handwritten digits (``load_digits``: 1797
8x8 images, values 0..16), scaled to [0, 1] by /16 and split 80/20,
stratified, with a fixed seed.  The network is

    conv1 Conv2d(1, 8, 3, padding=1) -> bn1 BatchNorm2d(8) -> relu1 ReLU
    -> conv2 Conv2d(8, 16, 3, padding=1) -> relu2 ReLU -> pool MaxPool2d(2)
    -> flatten Flatten -> fc Linear(16*4*4, 10) -> softmax Softmax(dim=1)

trained (without the softmax) with cross-entropy and Adam on one CPU thread,
with fixed seeds and deterministic algorithms, so that a rerun gives the same
weights.  The exported model's one input is ``digit`` (1, 1, 8, 8) float32 in
[0, 1]; its one output is ``probabilities`` (1, 10).  The BatchNormalization
is kept as its own ONNX node (export with ``TrainingMode.PRESERVE`` of a model
in eval mode: ``TrainingMode.EVAL`` would fold it into conv1), so an imported
stack shows a ``batchnorm`` stage.

The export is checked with ``onnx.checker`` and, with onnxruntime, against
PyTorch's probabilities on the whole test set (1e-5).  The sample images are,
for each class, the first test digit the exported model classifies correctly
from its 8-bit PNG, written as ``round(v / 16 * 255)``.

``--check`` needs only numpy, pillow and onnxruntime (no torch, no training);
``tests/test_digits_model.py`` calls :func:`check`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "configs" / "digits.onnx"
IMAGES = ROOT / "configs" / "digits"

SEED = 0
SETTINGS: dict[str, Any] = {
    "seed": SEED,
    "test_fraction": 0.2,
    "epochs": 40,
    "batch_size": 32,
    "optimizer": "Adam",
    "learning_rate": 0.003,
    "weight_decay": 0.0001,
    "loss": "cross-entropy",
    "threads": 1,
}
OPSET = 17
TOLERANCE = 1e-5


# --------------------------------------------------------------------------- the check (no torch)

def load_image(path: Path) -> np.ndarray:
    """An 8-bit grayscale PNG as a (1, 1, H, W) float32 batch in [0, 1]."""
    from PIL import Image

    with Image.open(path) as im:
        a = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    return a[None, None]


def session(model: Path = MODEL):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])


def check(model: Path = MODEL, images: Path = IMAGES, out=sys.stdout) -> list[str]:
    """Classify ``images/k.png`` (k = 0..9) with ``model``; return one message per failure (empty: all right).

    Prints each image's class, probability and all ten probabilities.
    """
    failures: list[str] = []
    if not model.is_file():
        return [f"{model}: no such model (run python scripts/train_digits.py)"]
    sess = session(model)
    name = sess.get_inputs()[0].name
    for k in range(10):
        path = images / f"{k}.png"
        if not path.is_file():
            failures.append(f"{path}: missing")
            continue
        p = sess.run(None, {name: load_image(path)})[0][0]
        got = int(np.argmax(p))
        probs = " ".join(f"{v:.4f}" for v in p)
        print(f"{path.name}: class {got} p={p[got]:.4f}  [{probs}]", file=out)
        if got != k:
            failures.append(f"{path.name} is classified as {got} (p={p[got]:.4f}), not {k} (p={p[k]:.4f})")
        if abs(float(p.sum()) - 1.0) > 1e-4:
            failures.append(f"{path.name}: probabilities sum to {p.sum():.6f}, not 1")
    return failures


# --------------------------------------------------------------------------- training (torch)

def seed_everything(seed: int) -> None:
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def build_model():
    from torch import nn

    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 8, 3, padding=1)),
        ("bn1", nn.BatchNorm2d(8)),
        ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(8, 16, 3, padding=1)),
        ("relu2", nn.ReLU()),
        ("pool", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc", nn.Linear(16 * 4 * 4, 10)),
        ("softmax", nn.Softmax(dim=1)),
    ]))


def load_data(seed: int, test_fraction: float):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None]  # (N, 1, 8, 8) in [0, 1]
    y = d.target.astype(np.int64)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=test_fraction, stratify=y, random_state=seed)
    return d.images, x, y, tr, te


def train(model, x: np.ndarray, y: np.ndarray, s: dict[str, Any]) -> None:
    import torch
    from torch import nn

    logits = model[:-1]  # the same modules, without the softmax
    opt = torch.optim.Adam(model.parameters(), lr=s["learning_rate"], weight_decay=s["weight_decay"])
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    g = torch.Generator().manual_seed(s["seed"])
    model.train()
    for _ in range(s["epochs"]):
        perm = torch.randperm(len(yt), generator=g)
        for i in range(0, len(perm), s["batch_size"]):
            b = perm[i:i + s["batch_size"]]
            opt.zero_grad()
            loss = loss_fn(logits(xt[b]), yt[b])
            loss.backward()
            opt.step()
    model.eval()


def export(model, path: Path) -> None:
    import onnx
    import torch

    dummy = torch.zeros(1, 1, 8, 8)
    assert not model.training
    with warnings.catch_warnings():
        # The legacy exporter is asked for on purpose (dynamo=False); and constant folding with PRESERVE is safe
        # here since the model is in eval mode (its warning is about models in training mode).
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*constant folding be turned off", category=UserWarning)
        torch.onnx.export(model, (dummy,), str(path), dynamo=False, opset_version=OPSET, do_constant_folding=True,
                          input_names=["digit"], output_names=["probabilities"],
                          training=torch.onnx.TrainingMode.PRESERVE)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def add_metadata(path: Path, meta: dict[str, str]) -> None:
    import onnx

    m = onnx.load(str(path))
    m.doc_string = "cnnviz digits CNN (scikit-learn load_digits), made by scripts/train_digits.py"
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, str(path))


def node_table(path: Path) -> list[tuple[str, str]]:
    import onnx

    return [(n.name, n.op_type) for n in onnx.load(str(path)).graph.node]


def write_png(a: np.ndarray, path: Path) -> None:
    from PIL import Image

    u8 = np.round(a / 16.0 * 255.0).astype(np.uint8)
    Image.fromarray(u8)  # uint8 (H, W): mode "L".save(path, optimize=True)


def main_train() -> int:
    t_start = time.perf_counter()
    seed_everything(SEED)
    import torch

    s = SETTINGS
    raw, x, y, tr, te = load_data(s["seed"], s["test_fraction"])
    model = build_model()
    n_params = sum(p.numel() for p in model.parameters())
    t0 = time.perf_counter()
    train(model, x[tr], y[tr], s)
    t_train = time.perf_counter() - t0

    with torch.no_grad():
        p_torch = model(torch.from_numpy(x[te])).numpy()
    acc = float((p_torch.argmax(1) == y[te]).mean())
    n_right = int((p_torch.argmax(1) == y[te]).sum())
    print(f"test accuracy {acc:.4f} ({n_right}/{len(te)}), training {t_train:.1f} s, {n_params} parameters")

    MODEL.parent.mkdir(parents=True, exist_ok=True)
    export(model, MODEL)

    sess = session(MODEL)
    p_onnx = np.concatenate([sess.run(None, {"digit": x[i:i + 1]})[0] for i in te])
    diff = float(np.abs(p_onnx - p_torch).max())
    if diff > TOLERANCE:
        print(f"onnxruntime differs from PyTorch by {diff:.2e} (> {TOLERANCE:g})", file=sys.stderr)
        return 1
    print(f"onnxruntime equals PyTorch on all {len(te)} test digits (max |diff| {diff:.2e})")

    meta = {"test_accuracy": f"{acc:.4f}", "test_correct": f"{n_right}/{len(te)}",
            "parameters": str(n_params), "training": json.dumps(s, sort_keys=True),
            "input": "digit (1, 1, 8, 8) float32, 0..1 (load_digits / 16)",
            "output": "probabilities (1, 10), classes 0..9"}
    add_metadata(MODEL, meta)
    nodes = node_table(MODEL)
    print("ONNX nodes:", ", ".join(f"{n} ({t})" for n, t in nodes))

    # One correctly classified held-out digit per class, chosen from its 8-bit PNG values.
    IMAGES.mkdir(parents=True, exist_ok=True)
    sess = session(MODEL)
    chosen: dict[int, tuple[int, float]] = {}
    for i in te:
        k = int(y[i])
        if k in chosen:
            continue
        q = (np.round(raw[i] / 16.0 * 255.0) / 255.0).astype(np.float32)[None, None]
        p = sess.run(None, {"digit": q})[0][0]
        if int(np.argmax(p)) == k:
            chosen[k] = (int(i), float(p[k]))
    for k in range(10):
        i, _ = chosen[k]
        write_png(raw[i], IMAGES / f"{k}.png")

    onnx_size = MODEL.stat().st_size
    png_sizes = [(IMAGES / f"{k}.png").stat().st_size for k in range(10)]
    write_readme(acc, n_right, len(te), t_train, n_params, onnx_size, png_sizes, chosen, nodes)
    print(f"wrote {MODEL.relative_to(ROOT)} ({onnx_size} bytes), "
          f"{IMAGES.relative_to(ROOT)}/0..9.png ({sum(png_sizes)} bytes in all), README.md")

    failures = check()
    for f in failures:
        print(f, file=sys.stderr)
    print(f"total {time.perf_counter() - t_start:.1f} s")
    return 1 if failures else 0


def write_readme(acc, n_right, n_test, t_train, n_params, onnx_size, png_sizes, chosen, nodes) -> None:
    import onnx
    import onnxruntime
    import sklearn
    import torch

    s = SETTINGS
    rows = "\n".join(f"| `{k}.png` | {chosen[k][0]} | {chosen[k][1]:.4f} |" for k in range(10))
    node_rows = "\n".join(f"| `{n}` | {t} |" for n, t in nodes)
    text = f"""# The digits model and its sample images

`configs/digits.onnx` is a small CNN trained on the handwritten digits bundled
with scikit-learn (`sklearn.datasets.load_digits()`: 1797 images of 8×8
pixels, values 0..16, from the UCI "Optical Recognition of Handwritten
Digits" data set). `0.png` … `9.png` here are held-out test digits, one per
class, each classified correctly by the model.

Reproduce everything (model, images, this file) with

    python scripts/train_digits.py

and check the shipped model against the images (no training, no torch;
needs onnxruntime) with

    python scripts/train_digits.py --check

## Data

- pixels scaled to [0, 1] by /16; the model's input `digit` is (1, 1, 8, 8)
  float32, its output `probabilities` (1, 10) for the classes 0..9
- split 80/20, stratified, `random_state={s['seed']}`: {1797 - n_test} training and {n_test} test digits
- the images are 8-bit grayscale PNGs, `round(v / 16 * 255)`; read back as
  value/255 they give the model's [0, 1] input

## Model

conv1 Conv2d(1, 8, 3, padding=1) → bn1 BatchNorm2d(8) → relu1 ReLU →
conv2 Conv2d(8, 16, 3, padding=1) → relu2 ReLU → pool MaxPool2d(2) →
flatten → fc Linear(256, 10) → softmax

- {n_params} trainable parameters (plus bn1's 16 running statistics);
  `digits.onnx` is {onnx_size} bytes, the ten PNGs {sum(png_sizes)} bytes in all
- ONNX opset {OPSET}, exported by `torch.onnx.export(dynamo=False,
  do_constant_folding=True)` of the model in eval mode with
  `TrainingMode.PRESERVE` (so BatchNormalization stays a node of its own),
  fixed input shape; checked with `onnx.checker` and against PyTorch's
  probabilities on the whole test set (to {TOLERANCE:g})

| ONNX node | op |
|---|---|
{node_rows}

## Training

- seed {s['seed']} (`random`, numpy, `torch.manual_seed`, the batch order's
  generator), `torch.use_deterministic_algorithms(True)`, {s['threads']} CPU thread
- {s['epochs']} epochs, batch size {s['batch_size']} (reshuffled each epoch),
  {s['optimizer']} (lr {s['learning_rate']}, weight decay {s['weight_decay']}),
  {s['loss']} on the logits (the softmax is only in the exported model)
- training took {t_train:.1f} s on the CPU (the only line of this file that
  changes from run to run: the .onnx and the PNGs come out byte for byte the same)
- made with torch {torch.__version__}, scikit-learn {sklearn.__version__},
  onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}

**Test accuracy: {acc * 100:.2f} % ({n_right}/{n_test})**

## Images

| file | index in `load_digits()` | probability of its class |
|---|---|---|
{rows}
"""
    (IMAGES / "README.md").write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="train nothing: classify configs/digits/k.png with configs/digits.onnx (exit 0 if all right)")
    ap.add_argument("--model", type=Path, default=MODEL, help="the .onnx for --check")
    ap.add_argument("--images", type=Path, default=IMAGES, help="the folder of 0.png..9.png for --check")
    a = ap.parse_args(argv)
    if a.check:
        failures = check(a.model, a.images)
        for f in failures:
            print(f, file=sys.stderr)
        print("all 10 digits classified correctly" if not failures else f"{len(failures)} failure(s)")
        return 1 if failures else 0
    return main_train()


if __name__ == "__main__":
    sys.exit(main())
