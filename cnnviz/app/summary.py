"""``cnnviz summary``: a stack's numbers per stage, computed by the plan and formatted here.

:func:`summary_rows` takes the numbers from the planned stages (shapes,
parameter counts, multiply-adds, receptive fields, memory) as plain values;
:func:`format_summary` lays them out as an aligned text table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..formatting import format_bytes, times
from ..importers import load_config_file
from ..stages import PlannedStage

__all__ = ["SummaryRow", "summary_rows", "format_summary", "summary_command"]


@dataclass(frozen=True)
class SummaryRow:
    """One row of the table: a stage (or the input, index 0), its numbers unformatted."""

    index: int
    name: str
    type: str
    parameters: str
    output_shape: tuple[int, ...]
    param_count: int
    macs: int
    receptive_field: tuple[int, int]
    jump: tuple[int, int]
    memory: int
    inputs: str = ""
    start: tuple[float, float] = (0.0, 0.0)


def summary_rows(stages: Sequence[PlannedStage], input_shape: Sequence[int], input_label: str,
                 itemsize: int) -> list[SummaryRow]:
    """The input's row, then one per stage."""
    shape = tuple(int(v) for v in input_shape)
    rows = [SummaryRow(0, "input", "", input_label, shape, 0, 0, (1, 1), (1, 1),
                       shape[0] * shape[1] * shape[2] * itemsize, "", (0.0, 0.0))]
    names = {0: "input"} | {s.index: s.name for s in stages}
    for s in stages:
        takes = ", ".join(names[i] for i in s.sources) if s.config.inputs is not None else ""
        rows.append(SummaryRow(s.index, s.name, s.type, s.summarize(), s.output_shape, s.param_count, s.macs,
                               s.receptive_field, s.jump, s.output_bytes, takes, s.start))
    return rows


def _start(t: tuple[float, float]) -> str:
    return ",".join(f"{v:g}" for v in t)


def _count(n: int) -> str:
    return f"{n:,}" if n else "-"


def format_summary(rows: Sequence[SummaryRow]) -> str:
    """The aligned table, with totals (the input's memory not counted in them).

    ``start`` is the input coordinate (row, column) of output cell (0, 0)'s
    receptive-field centre; an ``inputs`` column appears when a stage names
    its inputs (a graph), listing them.
    """
    graph = any(r.inputs for r in rows)
    header = ["#", "stage", "type", *(["inputs"] if graph else []), "parameters", "output", "params", "mult-adds",
              "receptive field", "jump", "start", "memory"]
    cells = []
    for r in rows:
        cells.append([str(r.index), r.name, r.type, *([r.inputs] if graph else []), r.parameters,
                      times(*r.output_shape), _count(r.param_count), _count(r.macs), times(*r.receptive_field),
                      times(*r.jump), _start(r.start), format_bytes(r.memory)])
    stages = rows[1:]
    total = ["", "total", "", *([""] if graph else []), "", "", _count(sum(r.param_count for r in stages)),
             _count(sum(r.macs for r in stages)), "", "", "", format_bytes(sum(r.memory for r in stages))]
    shift = 1 if graph else 0
    right = {0, 5 + shift, 6 + shift, 10 + shift}
    widths = [max(len(c[i]) for c in [*cells, total, header]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    rule = line(["-" * w for w in widths])
    return "\n".join([line(header), rule, *(line(c) for c in cells), rule, line(total)])


def summary_command(config_path: str, image: str | None = None, overrides: Sequence[str] = ()) -> str:
    """The ``summary`` table for a config, planned on ``image``.

    Without an image the input shape comes from ``input.resize: [h, w]`` when
    it fixes the shape, else from the ``chelsea`` sample.
    """
    from ..pipeline.plan import plan
    from .session import Session

    config = load_config_file(config_path, overrides)
    if image is None and config.fixed_input_shape is not None:
        shape, label = config.fixed_input_shape, "input.resize"
        stages = plan(config, shape)
    else:
        label = image or "chelsea"
        session = Session(config, label)
        shape, stages = session.shape, session.stages
    return format_summary(summary_rows(stages, shape, label, config.np_dtype.itemsize))
