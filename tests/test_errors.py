"""CnnvizError and ConfigErrors: one line per error, every error shown."""

from __future__ import annotations

import pytest

import cnnviz
import cnnviz.io.images


def test_config_errors_at_the_top_level_and_str_shows_all():
    with pytest.raises(cnnviz.ConfigErrors) as info:
        cnnviz.load_config({"stages": [{"type": "pool", "sise": 2}, "reluu"]})
    err = info.value
    assert isinstance(err, cnnviz.CnnvizError) and len(err.errors) == 2
    assert str(err) == ("stages[0].sise: unknown key 'sise' (did you mean 'size'?)\n"
                        "stages[1]: unknown stage type 'reluu' (did you mean 'relu'?)")
    assert err.lines() == str(err).split("\n")
