"""The incremental renderer on its own: what each kind of edit recomputes."""

from __future__ import annotations

import numpy as np

import cnnviz
from cnnviz.app.watch import (
    IncrementalRenderer,
)
from cnnviz.config import load_config
from tests.helpers import KERNELS, config_text


def test_incremental_renderer_recomputes_from_the_first_change(project):
    cfg, out = project
    r = IncrementalRenderer(str(cfg), "camera", out)
    assert r.update().computed == [1, 2, 3, 4, 5]

    def edit(**kw) -> list[int]:
        cfg.write_text(config_text(**kw), encoding="utf-8")
        rep = r.update()
        fresh = cnnviz.run(load_config(cfg), "camera")
        for a, b in zip(r.layers, fresh, strict=True):
            assert np.array_equal(a.output, b.output), (kw, a.name)
        return rep.computed

    assert edit() == []                                  # nothing changed
    assert edit(cmap="viridis") == []                    # render only
    assert edit(name="renamed") == []                    # a name: same outputs
    assert edit(count=3) == [4, 5]                       # the random conv
    assert edit(count=3, seed=1) == [4, 5]               # the seed only draws the random kernels
    assert edit(count=3, seed=1, last="abs") == [5]      # the last stage
    assert edit(count=3, seed=1, resize=48) == [1, 2, 3, 4, 5]  # the input
    np.save(cfg.parent / "k2.npy", KERNELS)              # same kernels, another file: reused
    assert edit(count=3, seed=1, resize=48, kernels="k2.npy") == []
    cfg.write_text(config_text(count=3, seed=1, resize=48, kernels="k2.npy") + "dtype: float64\n")
    assert r.update().computed == [1, 2, 3, 4, 5]        # the dtype


def test_an_edit_in_one_branch_recomputes_it_and_what_follows_only(tmp_path):
    """A graph: editing the shortcut branch recomputes the shortcut and the join, not the main branch."""
    from cnnviz.app.watch.incremental import IncrementalRenderer

    def text(short_kernel: str) -> str:
        return ("input: {color: gray, resize: [32, 32]}\nstages:\n"
                "  - {type: conv, name: main, padding: same, filters: [{preset: sobel_x}]}\n"
                "  - {type: relu, name: act}\n"
                f"  - {{type: conv, name: short, inputs: input, filters: [[[{short_kernel}]]]}}\n"
                "  - {type: add, name: join, inputs: [act, short]}\n"
                "  - {type: abs, name: after}\n")

    cfg = tmp_path / "g.yaml"
    cfg.write_text(text("1"))
    r = IncrementalRenderer(str(cfg), "camera", tmp_path / "out")
    assert r.update().computed == [1, 2, 3, 4, 5]
    cfg.write_text(text("2"))
    assert r.update().computed == [3, 4, 5]
    fresh = cnnviz.run(cnnviz.load_config(cfg), "camera")
    for a, b in zip(r.layers, fresh, strict=True):
        np.testing.assert_array_equal(a.output, b.output)
