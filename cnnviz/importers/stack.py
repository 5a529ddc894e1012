"""An imported model as a cnnviz stack: its config data, weights and the YAML a person reads.

:class:`Imported` holds what :func:`cnnviz.importers.onnx.import_onnx` made of
a model; :func:`node_stage_name` and :func:`stack_names` are the naming rules that
turn node names (``/layer1/layer1.0/conv1/Conv``) into stage names
(``layer1.0.conv1``).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Imported", "node_stage_name", "stack_names", "padding_value"]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_RESERVED = {"con", "prn", "aux", "nul", "input"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)}


@dataclass
class Imported:
    """A model as a cnnviz stack.

    Attributes
    ----------
    data : dict
        The config as plain data (``stages`` name the weights as ``{file: <weights_name>, key: ...}``).
    arrays : dict of str to ndarray
        The weights, in cnnviz's layout, by key.
    weights_name : str
        The ``.npz`` file name the stages use.
    comments : dict of int to str
        The ONNX node each stage came from, by stage position.
    header : list of str
        The YAML's opening comment lines.
    tensors : dict of str to str
        The ONNX tensor each stage's output is, by stage name.
    """

    data: dict[str, Any]
    arrays: dict[str, np.ndarray]
    weights_name: str
    comments: dict[int, str] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)
    tensors: dict[str, str] = field(default_factory=dict)

    def npz(self) -> bytes:
        """The weights file's bytes (an uncompressed ``.npz``)."""
        buf = io.BytesIO()
        np.savez(buf, **self.arrays)  # type: ignore[arg-type]
        return buf.getvalue()

    def yaml(self) -> str:
        """The stack as YAML a person reads: the input section, then one commented stage per node."""
        import yaml

        def flow(v: Any) -> str:
            text = yaml.safe_dump(v, default_flow_style=True, width=10_000, sort_keys=False).strip()
            return text[:-3].strip() if text.endswith("\n...") else text  # a plain scalar's document end

        lines = [f"# {h}" if h else "#" for h in self.header]
        lines.append(f"name: {self.data['name']}")
        inp = self.data["input"]
        lines += ["input:", f"  color: {inp['color']}", f"  resize: {flow(inp['resize'])}",
                  "  range: [0, 1]          # what the model expects pixels to span (ONNX does not say)",
                  "  normalize: null        # e.g. ImageNet: {mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}",
                  "stages:"]
        for i, st in enumerate(self.data["stages"]):
            if i in self.comments:
                lines.append(f"  # {self.comments[i]}")
            first = True
            for k, v in st.items():
                lines.append(f"  {'- ' if first else '  '}{k}: {flow(v)}")
                first = False
        if self.data.get("render"):
            lines.append("render:")
            lines += [f"  {k}: {flow(v)}" for k, v in self.data["render"].items()]
        return "\n".join(lines) + "\n"


def node_stage_name(raw: str, fallback: str, op: str = "") -> str:
    """An ONNX node name made a cnnviz stage name: ``/layer1/layer1.0/conv1/Conv`` -> ``layer1.0.conv1``."""
    parts = [p for p in raw.split("/") if p]
    if len(parts) > 1 and parts[-1].lower() == op.lower():
        parts = parts[:-1]
    kept: list[str] = []
    for p in parts:
        if kept and p.startswith(kept[-1]):
            kept[-1] = p
        else:
            kept.append(p)
    s = _SAFE.sub("_", ".".join(kept))
    s = re.sub(r"\.{2,}", ".", s).strip("._-")[:64].rstrip("._-")
    if not s or not s[0].isalnum():
        s = fallback
    if s.split(".")[0].lower() in _RESERVED:
        s = s + "_"
    return s


def stack_names(model: Any) -> list[str]:
    """The stage name each node of ``model`` would get (nameless and clashing names made unique)."""
    counts: dict[str, int] = {}
    used: set[str] = set()
    out = []
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
        name = node_stage_name(node.name, f"{node.op_type.lower()}{counts[node.op_type]}", node.op_type)
        base, k = name, 2
        while name in used:
            name, k = f"{base[:60]}_{k}", k + 1
        used.add(name)
        out.append(name)
    return out


def padding_value(pads: tuple[tuple[int, int], tuple[int, int]]) -> Any:
    """``[[t, b], [l, r]]`` written as briefly as cnnviz reads it: ``p``, ``[ph, pw]`` or the pairs."""
    (t, b), (left, r) = pads
    if t == b == left == r:
        return t
    if t == b and left == r:
        return [t, left]
    return [[t, b], [left, r]]
