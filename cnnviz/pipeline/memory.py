"""The memory a run needs, estimated from its plan, and the check against a limit (SPEC §5, §6)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..errors import CnnvizError
from ..formatting import format_bytes, times
from ..stages import PlannedStage
from .plan import consumers

__all__ = ["MemoryLimitError", "estimate_memory", "check_memory", "available_memory", "default_memory_limit"]


class MemoryLimitError(CnnvizError):
    """A stack whose estimated peak memory is over the limit.

    ``need`` and ``limit`` are bytes.  ``remedy`` is how the message says the
    limit is raised; a front end may word it for its users (the command line
    names its ``--max-memory`` option).
    """

    def __init__(self, need: int, limit: int, shape: Sequence[int]) -> None:
        self.need, self.limit, self.shape = need, limit, tuple(shape)
        self.remedy = "raise the limit"
        super().__init__(self._text())

    def _text(self) -> str:
        return (f"this stack needs about {format_bytes(self.need)} of memory for a "
                f"{times(*self.shape[:2])} input, more than the limit of {format_bytes(self.limit)}; "
                f"{self.remedy}, or shrink the input with input.resize")

    def __str__(self) -> str:
        self.message = self._text()
        return super().__str__()


def estimate_memory(stages: Sequence[PlannedStage], input_shape: Sequence[int], *, keep: bool = True,
                    extra: int = 0) -> int:
    """Peak bytes a run of ``stages`` needs for its arrays.

    ``keep`` (what :func:`cnnviz.run` does): every stage's output stays
    alive, so the peak at stage i is the input, the outputs of stages 1..i
    and stage i's temporaries.  Without ``keep`` (streaming) an output lives
    until its last consumer has run.  ``extra``: bytes held besides (the
    image as read, while it is resized).
    """
    if not stages:
        return extra
    item = stages[0].dtype.itemsize
    input_bytes = int(np.prod(input_shape)) * item
    users = consumers(stages)
    last = {pos: (max(u) if u else 0) for pos, u in users.items()}
    sizes = {0: input_bytes} | {ps.index: ps.output_bytes for ps in stages}
    peak = 0
    held = input_bytes
    for ps in stages:
        here = ps.output_bytes + ps.temp_bytes()
        if keep:
            peak = max(peak, held + here)
            held += ps.output_bytes
        else:
            # alive while stage i runs: every earlier output some stage from i on still takes
            alive = sum(size for pos, size in sizes.items() if pos < ps.index and last.get(pos, 0) >= ps.index)
            peak = max(peak, alive + here)
    return peak + extra


def available_memory() -> int:
    """Bytes of memory available to this process (``MemAvailable`` on Linux)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 8 << 30


def default_memory_limit() -> int:
    """Three quarters of the memory available now."""
    return available_memory() * 3 // 4


def check_memory(stages: Sequence[PlannedStage], input_shape: Sequence[int], limit: int | None, *,
                 keep: bool = True, extra: int = 0) -> int:
    """The estimate; raise :class:`MemoryLimitError` when it exceeds ``limit`` (None: the default limit)."""
    need = estimate_memory(stages, input_shape, keep=keep, extra=extra)
    limit = default_memory_limit() if limit is None else limit
    if need > limit:
        raise MemoryLimitError(need, limit, input_shape)
    return need
