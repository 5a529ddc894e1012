"""The memory estimate: streaming needs less than keeping every stage, and what it counts."""

from __future__ import annotations

from tests.helpers import NUMPYCNN


def test_streaming_keeps_only_one_stage_alive():
    """The memory a streaming run may need is below keep-everything's: it is what --max-memory checks."""
    from cnnviz.config import load_config
    from cnnviz.pipeline import estimate_memory, plan

    cfg = load_config(NUMPYCNN)
    stages = plan(cfg, (300, 451, 1))
    keep, stream = estimate_memory(stages, (300, 451, 1)), estimate_memory(stages, (300, 451, 1), keep=False)
    assert stream < keep
    # the first conv's output and its relu are the largest pair alive at once when streaming
    assert stream >= stages[0].output_bytes + stages[1].output_bytes
