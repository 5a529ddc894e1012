"""Config loading and validation: every key, default and error message (asserted verbatim)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.config import RENDER_DEFAULTS, load_config
from cnnviz.errors import CnnvizError, ConfigErrors
from tests.helpers import errors_of, one_error, write

# ---------------------------------------------------------------------------
# loading from the three kinds of source


def test_defaults_from_minimal_dict():
    c = load_config({"stages": ["relu"]})
    assert c.color == "keep" and c.resize is None and c.seed == 0 and c.dtype == "float32"
    assert dict(c.render) == RENDER_DEFAULTS
    assert len(c.stages) == 1 and c.stages[0].type == "relu" and c.stages[0].name == "relu1"


def test_text_path_and_dict_agree(tmp_path):
    text = "seed: 3\nstages:\n  - {type: pool, size: 3}\n  - relu\n"
    p = write(tmp_path, text)
    a, b = load_config(p), load_config(text)
    c = load_config({"seed": 3, "stages": [{"type": "pool", "size": 3}, "relu"]})
    for cfg in (a, b, c):
        assert cfg.seed == 3
        assert cfg.stages[0].params == {"mode": "max", "size": (3, 3), "stride": (3, 3), "padding": (0, 0),
                                        "ceil": False, "count_pad": False}
    assert a.source == str(p) and b.source == "<string>" and c.source is None
    assert load_config(str(p)).stages == a.stages


def test_default_names_count_per_type():
    c = load_config({"stages": [
        {"type": "conv", "filters": [[[1]]]}, "relu", {"type": "pool"},
        {"type": "conv", "name": "mine", "filters": [[[1]]]}, "relu",
        {"type": "conv", "filters": [[[1]]]},
    ]})
    assert [s.name for s in c.stages] == ["conv1", "relu1", "pool1", "mine", "relu2", "conv3"]


def test_every_stage_type_with_defaults():
    c = load_config({"stages": [
        {"type": "conv", "filters": [[[1, 0], [0, 1]]]},
        "relu", "leaky_relu", "sigmoid", "tanh", "abs", "pool", "global_pool",
        "norm", {"type": "dense", "units": 3}, "softmax",
    ]})
    p = {s.type: dict(s.params) for s in c.stages}
    conv = p["conv"]
    assert conv["padding"] == "valid" and conv["pad_mode"] == "constant" and conv["pad_value"] == 0
    assert conv["stride"] == (1, 1) and conv["dilation"] == (1, 1)
    assert conv["flip"] is False and conv["bias"] == 0 and conv["depthwise"] is False
    assert p["leaky_relu"] == {"slope": 0.01}
    assert p["pool"] == {"mode": "max", "size": (2, 2), "stride": (2, 2), "padding": (0, 0), "ceil": False,
                         "count_pad": False}
    assert p["global_pool"] == {"mode": "avg"}
    assert p["norm"] == {"mode": "lrn", "size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}
    assert p["dense"]["units"] == 3 and p["dense"]["labels"] is None
    assert p["dense"]["weights"].spec == {"dist": "glorot"}


def test_pairs_and_padding_forms():
    c = load_config({"stages": [
        {"type": "conv", "filters": [[[1]]], "padding": [1, 2], "stride": [2, 3], "dilation": 2},
        {"type": "conv", "filters": [[[1]]], "padding": 3},
        {"type": "conv", "filters": [[[1]]], "padding": "full"},
    ]})
    assert c.stages[0].params["padding"] == (1, 2)
    assert c.stages[0].params["stride"] == (2, 3) and c.stages[0].params["dilation"] == (2, 2)
    assert c.stages[1].params["padding"] == (3, 3)
    assert c.stages[2].params["padding"] == "full"


def test_input_and_render_sections():
    c = load_config({"input": {"color": "gray", "resize": [100, 120]}, "dtype": "float64",
                     "render": {"cmap": "viridis", "normalize": "layer", "columns": 4, "scale": "auto"},
                     "stages": ["relu"]})
    assert c.color == "gray" and c.resize == (100, 120) and c.np_dtype == np.float64
    assert c.render["cmap"] == "viridis" and c.render["normalize"] == "layer"
    assert c.render["columns"] == 4 and c.render["scale"] is None
    assert load_config({"input": {"resize": 256}, "stages": ["relu"]}).resize == 256


def test_filter_entries_resolve(tmp_path):
    np.save(tmp_path / "k.npy", np.arange(9.0).reshape(3, 3))
    p = write(tmp_path, """
        stages:
          - type: conv
            filters:
              - [[1, 2], [3, 4]]
              - {preset: sobel_x}
              - {random: {count: 2, size: [3, 5]}}
              - {file: k.npy}
        """)
    c = load_config(p)
    f = c.stages[0].params["filters"]
    assert f[0].array.shape == (2, 2)
    assert f[1].array.shape == (1, 3, 3)
    assert f[2].count == 2 and f[2].size == (3, 5) and f[2].entry == 2
    assert f[3].array.shape == (1, 3, 3) and f[3].origin == str((tmp_path / "k.npy").resolve())


# ---------------------------------------------------------------------------
# errors: file, line, column, key path, exact words


def test_unknown_stage_type_did_you_mean(tmp_path):
    assert one_error(tmp_path, """
        stages:
          - relu
          - rleu
        """) == "x.yaml:3:5: stages[1]: unknown stage type 'rleu' (did you mean 'relu'?)"
    assert one_error(tmp_path, """
        stages:
          - type: maxpool
        """) == "x.yaml:2:11: stages[0].type: unknown stage type 'maxpool' (did you mean 'pool'?)"


def test_unknown_key_points_at_key(tmp_path):
    assert one_error(tmp_path, """
        stages:
          - type: pool
            sise: 3
        """) == "x.yaml:3:5: stages[0].sise: unknown key 'sise' (did you mean 'size'?)"
    assert one_error(tmp_path, """
        stages: [relu]
        rendr: {cmap: gray}
        """) == "x.yaml:2:1: rendr: unknown key 'rendr' (did you mean 'render'?)"


def test_wrong_types_and_values(tmp_path):
    errs = errors_of(tmp_path, """
        seed: -1
        dtype: float16
        input: {color: grey, resize: [1, 2, 3]}
        stages:
          - {type: pool, size: 0, mode: mean}
          - {type: conv, filters: [[[1]]], padding: sam, flip: yes please, stride: 1.5}
          - {type: leaky_relu, slope: abc}
        render: {max_maps: 0, normalize: layers, labels: 1}
        """)
    assert errs == [
        "x.yaml:1:7: seed: must be at least 0, not -1",
        "x.yaml:2:8: dtype: must be one of float32, float64, not 'float16' (did you mean 'float64'?)",
        "x.yaml:3:16: input.color: must be one of gray, rgb, keep, not 'grey' (did you mean 'gray'?)",
        "x.yaml:3:30: input.resize: must be an integer or a list of 2 integers, not a list of 3",
        "x.yaml:5:24: stages[0].size: must be at least 1, not 0",
        "x.yaml:5:33: stages[0].mode: must be one of max, avg, min, not 'mean'",
        "x.yaml:6:45: stages[1].padding: must be valid, same, full, an integer, [pad_h, pad_w] or "
        "[[top, bottom], [left, right]], "
        "not 'sam' (did you mean 'same'?)",
        "x.yaml:6:56: stages[1].flip: must be true or false, not 'yes please'",
        "x.yaml:6:76: stages[1].stride: must be an integer or a list of 2 integers, not 1.5",
        "x.yaml:7:31: stages[2].slope: must be a number, not 'abc'",
        "x.yaml:8:20: render.max_maps: must be at least 1, not 0",
        "x.yaml:8:34: render.normalize: must be one of map, layer, global, not 'layers' (did you mean 'layer'?)",
        "x.yaml:8:50: render.labels: must be true or false, not 1",
    ]


def test_missing_and_empty(tmp_path):
    assert one_error(tmp_path, "seed: 1\n") == "x.yaml:1:1: missing required key 'stages'"
    assert one_error(tmp_path, "stages: []\n") == "x.yaml:1:9: stages: needs at least one stage"
    assert one_error(tmp_path, "# nothing\n") == "x.yaml: the config is empty: it needs at least a 'stages' list"
    assert one_error(tmp_path, "- relu\n") == "x.yaml:1:1: must be a mapping with a 'stages' list, not a list"
    assert one_error(tmp_path, """
        stages:
          - type: conv
            stride: 2
        """) == "x.yaml:2:5: stages[0]: missing required key 'filters'"
    assert one_error(tmp_path, """
        stages:
          - {type: dense}
        """) == "x.yaml:2:5: stages[0]: missing required key 'units'"
    assert one_error(tmp_path, """
        stages:
          - {size: 3}
        """) == "x.yaml:2:5: stages[0]: missing required key 'type'"


def test_filter_entry_errors(tmp_path):
    errs = errors_of(tmp_path, """
        stages:
          - type: conv
            filters:
              - [[1, 2], [3]]
              - [[1, .nan]]
              - {preset: sobelx}
              - {preset: gaussian, sigm: 2}
              - {random: {count: 0}}
              - {file: missing.npy}
              - {convolve: [[1]]}
              - 5
        """)
    full = (tmp_path / "missing.npy").resolve()
    assert errs == [
        "x.yaml:4:9: stages[0].filters[0]: an inline kernel must be a rectangular list of rows of numbers",
        "x.yaml:5:9: stages[0].filters[1]: kernel contains NaN or inf",
    ] + errs[2:]
    assert errs[2].startswith("x.yaml:6:18: stages[0].filters[2].preset: unknown preset 'sobelx'")
    assert "(did you mean 'sobel_x'?)" in errs[2]
    assert errs[3].startswith("x.yaml:7:28: stages[0].filters[3].sigm: ")
    assert "'sigm'" in errs[3] and "did you mean 'sigma'" in errs[3]
    assert errs[4].startswith("x.yaml:8:26: stages[0].filters[4].random.count: ")
    assert errs[5] == f"x.yaml:9:16: stages[0].filters[5].file: filter file not found: {full}"
    assert errs[6] == ("x.yaml:10:10: stages[0].filters[6].convolve: unknown filter entry 'convolve': expected "
                       "a 2-D or 3-D list of numbers, or a mapping with 'preset', 'random' or 'file'")
    assert errs[7] == ("x.yaml:11:9: stages[0].filters[7]: must be a 2-D or 3-D list of numbers, "
                       "or a mapping with 'preset', 'random' or 'file', not 5")


def test_only_first_error_of_a_stage_key_but_all_stages(tmp_path):
    errs = errors_of(tmp_path, """
        stages:
          - {type: pool, size: -1}
          - relu
          - {type: pool, stride: 0}
        """)
    assert errs == [
        "x.yaml:2:24: stages[0].size: must be at least 1, not -1",
        "x.yaml:4:26: stages[2].stride: must be at least 1, not 0",
    ]


def test_cross_key_rules(tmp_path):
    assert one_error(tmp_path, """
        stages:
          - {type: norm, mode: minmax, alpha: 0.1}
        """) == "x.yaml:2:39: stages[0].alpha: 'alpha' applies only to mode: lrn"
    assert one_error(tmp_path, """
        stages:
          - {type: pool, size: 2, padding: 2}
        """) == "x.yaml:2:36: stages[0].padding: pool padding 2 must be at most half the window (2 // 2 = 1)"
    assert one_error(tmp_path, """
        stages:
          - {type: dense, units: 2, labels: [cat]}
        """) == "x.yaml:2:37: stages[0].labels: 1 labels given for 2 units"


def test_names(tmp_path):
    assert one_error(tmp_path, """
        stages:
          - {type: relu, name: ../evil}
        """) == ("x.yaml:2:24: stages[0].name: the name '../evil' may only use letters, digits, '_', '-' "
                 "and single '.', start with a letter or digit, and be at most 64 characters")
    assert one_error(tmp_path, """
        stages:
          - {type: relu, name: a}
          - {type: abs, name: a}
        """) == "x.yaml:3:23: stages[1].name: the name 'a' is already used by stages[0]"
    assert one_error(tmp_path, """
        stages:
          - {type: relu, name: CON}
        """) == "x.yaml:2:24: stages[0].name: the name 'CON' is reserved on Windows; choose another"


def test_unknown_colormap(tmp_path):
    assert one_error(tmp_path, """
        stages: [relu]
        render: {cmap: viridiss}
        """) == "x.yaml:2:16: render.cmap: unknown colormap 'viridiss' (did you mean 'viridis'?)"


def test_dict_errors_have_no_position():
    with pytest.raises(ConfigErrors) as info:
        load_config({"stages": [{"type": "pool", "size": "big"}]})
    assert str(info.value) == "stages[0].size: must be an integer or a list of 2 integers, not 'big'"


def test_missing_config_file(tmp_path):
    with pytest.raises(CnnvizError) as info:
        load_config(tmp_path / "nope.yaml")
    assert str(info.value) == f"config file not found: {tmp_path / 'nope.yaml'}"
    with pytest.raises(CnnvizError) as info:
        load_config(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, not a config file"
    bad = tmp_path / "bin.yaml"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CnnvizError) as info:
        load_config(bad)
    assert str(info.value) == f"{bad}: the config is not UTF-8 text (byte 0)"
