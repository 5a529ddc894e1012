"""The stacks the benchmark runs, as cnnviz config dicts and as reference stacks.

A reference stack (see :mod:`references`) is a list of ``("conv", kernels)``,
``("relu",)`` and ``("pool", size)``.  The kernels given to the references are
taken from ``cnnviz.pipeline.plan`` so that every candidate multiplies by the
very same numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NUMPYCNN_YAML = ROOT / "configs" / "numpycnn.yaml"
#: Row 6: eight edge/blob filters in one conv stage, then abs.
EDGES_YAML = ROOT / "configs" / "edges.yaml"

#: Rows 2 and 3: conv 16×3×3 → relu → pool 2 → conv 32×3×3 → relu → pool 2 → conv 64×5×5.
DEEP_SPEC: list[tuple] = [
    ("conv", 16, 3),
    ("relu",),
    ("pool", 2),
    ("conv", 32, 3),
    ("relu",),
    ("pool", 2),
    ("conv", 64, 5),
]


def numpycnn_config() -> dict[str, Any]:
    """configs/numpycnn.yaml as a plain dict (NumPyCNN's stack, the two fixed edge filters first)."""
    import yaml

    with open(NUMPYCNN_YAML, encoding="utf-8") as f:
        return yaml.safe_load(f)


def spec_config(spec: list[tuple], color: str, seed: int = 0) -> dict[str, Any]:
    """A cnnviz config dict for ``spec`` with He-normal random kernels."""
    stages: list[Any] = []
    for st in spec:
        if st[0] == "conv":
            stages.append({"type": "conv", "filters": [{"random": {"count": st[1], "size": st[2], "dist": "he"}}]})
        elif st[0] == "relu":
            stages.append("relu")
        else:
            stages.append({"type": "pool", "size": st[1]})
    return {"input": {"color": color}, "seed": seed, "stages": stages}


def stack_from_plan(planned: list[Any]) -> list[tuple]:
    """Reference stack from ``cnnviz.pipeline.plan`` output (conv / relu / max-pool stages only)."""
    out: list[tuple] = []
    for ps in planned:
        p = ps.config.params
        if ps.type == "conv":
            assert p["stride"] == (1, 1) and p["dilation"] == (1, 1) and not p["flip"] and not p["depthwise"]
            assert ps.padding == ((0, 0), (0, 0)), ps.padding
            assert ps.bias is None or not np.any(ps.bias)
            out.append(("conv", np.ascontiguousarray(ps.kernels, dtype=np.float32)))
        elif ps.type == "relu":
            out.append(("relu",))
        elif ps.type == "pool":
            assert p["mode"] == "max" and p["size"][0] == p["size"][1] and p["padding"] == (0, 0)
            assert p["stride"] in (None, p["size"])
            out.append(("pool", p["size"][0]))
        else:  # pragma: no cover
            raise ValueError(f"stage type {ps.type!r} has no reference")
    return out


def random_stack(spec: list[tuple], channels: int, seed: int = 0) -> list[tuple]:
    """A reference stack with He-normal kernels drawn here (same shapes as cnnviz's, other values)."""
    rng = np.random.default_rng(seed)
    out: list[tuple] = []
    c = channels
    for st in spec:
        if st[0] == "conv":
            n, k = st[1], st[2]
            std = np.sqrt(2.0 / (k * k * c))
            out.append(("conv", (rng.standard_normal((n, k, k, c)) * std).astype(np.float32)))
            c = n
        else:
            out.append(st)
    return out


def random_image(h: int, w: int, channels: int, seed: int = 1) -> np.ndarray:
    """A float32 (H, W, C) image with values in [0, 1)."""
    return np.random.default_rng(seed).random((h, w, channels), dtype=np.float32)
