"""--set key.path=value: apply_overrides and its errors."""

from __future__ import annotations

import pytest

from cnnviz.config import apply_overrides, load_config
from cnnviz.errors import CnnvizError


def test_set_overrides():
    c = load_config("stages:\n  - {type: conv, filters: [[[1]]]}\n  - relu\n")
    c2 = apply_overrides(c, ["stages[0].stride=2", "render.cmap=viridis", "stages.1.type=abs", "seed=7"])
    assert c2.stages[0].params["stride"] == (2, 2)
    assert c2.render["cmap"] == "viridis" and c2.stages[1].type == "abs" and c2.seed == 7
    assert c.stages[0].params["stride"] == (1, 1)  # the original is untouched


def test_set_errors():
    c = load_config("stages:\n  - relu\n")
    with pytest.raises(CnnvizError) as info:
        apply_overrides(c, ["stages[4].type=relu"])
    assert str(info.value) == "--set 'stages[4].type=relu': stages[4] does not exist"
    with pytest.raises(CnnvizError) as info:
        apply_overrides(c, ["nonsense"])
    assert str(info.value) == "--set 'nonsense': expected key.path=value, e.g. render.cmap=viridis"
    with pytest.raises(CnnvizError) as info:
        apply_overrides(c, ["stages[0].size=3"])
    assert str(info.value) == "--set stages[0].size=3: stages[0].size: unknown key 'size'"
