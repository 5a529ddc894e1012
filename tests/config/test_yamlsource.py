"""YAML parsing: floats without a dot, bad YAML, duplicate keys, refused tags and alias bombs, with positions."""

from __future__ import annotations

import pytest

from cnnviz.config import load_config
from tests.helpers import cli, one_error


def test_exponent_without_dot_is_a_float():
    c = load_config("stages:\n  - {type: norm, alpha: 1e-4, k: 1}\n")
    assert c.stages[0].params["alpha"] == pytest.approx(1e-4)


def test_bad_yaml(tmp_path):
    assert one_error(tmp_path, "stages: [relu\n") == (
        "x.yaml:2:1: invalid YAML: while parsing a flow sequence, did not find expected ',' or ']'")
    assert one_error(tmp_path, "stages:\n  - relu\n bad: 1\n").startswith("x.yaml:3:2: invalid YAML: ")


def test_duplicate_keys(tmp_path):
    assert one_error(tmp_path, """
        stages:
          - type: pool
            size: 2
            size: 3
        """) == "x.yaml:4:5: stages[0].size: duplicate key 'size'"


def test_python_tag_refused(tmp_path):
    assert one_error(tmp_path, """
        stages:
          - !!python/object/apply:os.system ["echo hi"]
        """) == "x.yaml:2:5: stages[0]: the YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"


def test_alias_bomb_refused(tmp_path):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]")
    lines.append("stages: [relu]")
    msg = one_error(tmp_path, "\n".join(lines) + "\n")
    assert "the document has more than 200,000 values (with aliases expanded)" in msg


def test_yaml_merge_keys_get_their_own_message(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("base: &b {type: relu}\nstages:\n  - <<: *b\n")
    r = cli("validate", str(cfg))
    assert r.exit_code == 1
    assert r.stderr == f"Error: {cfg}:3:5: stages[0]: YAML merge keys ('<<') are not supported\n"
