"""--set key.path=value: apply_overrides and its errors."""

from __future__ import annotations

import pytest

import cnnviz
import cnnviz.io.images
from cnnviz.config import apply_overrides, load_config
from cnnviz.errors import CnnvizError
from tests.helpers import NUMPYCNN, cli


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


def test_set_errors_found_above_or_below_name_the_set(tmp_path):
    r = cli("run", NUMPYCNN, "chelsea", "-o", str(tmp_path / "o"), "--set", "nothere.deep.key=1")
    assert r.exit_code == 1
    assert r.stderr == "Error: --set nothere.deep.key=1: nothere: unknown key 'nothere'\n"
    r = cli("run", NUMPYCNN, "chelsea", "-o", str(tmp_path / "o"), "--set", "stages[0].filters[0][0][0]=.nan")
    assert r.exit_code == 1
    assert r.stderr == ("Error: --set stages[0].filters[0][0][0]=.nan: stages[0].filters[0]: "
                        "kernel contains NaN or inf\n")
    assert not (tmp_path / "o").exists()


def test_set_counts_negative_indices_from_the_end(tmp_path):
    config = cnnviz.config.load_config_file(NUMPYCNN, ["stages[-1].size=3"])
    assert config.stages[-1].params["size"] == (3, 3) and config.stages[8].params["size"] == (3, 3)
    with pytest.raises(cnnviz.CnnvizError) as info:
        cnnviz.config.load_config_file(NUMPYCNN, ["stages[-10].size=3"])
    assert str(info.value) == "--set 'stages[-10].size=3': stages[-10] does not exist"
