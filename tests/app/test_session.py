"""The one session: a config validated once per run, a plan once per input shape, global scales in one pass when they fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cnnviz
import cnnviz.app.session as session_module
import cnnviz.config.overrides as overrides_module
import cnnviz.config.schema as schema_module
import cnnviz.io.images
from cnnviz.app.commands import RunRequest, run_command
from cnnviz.app.session import Session, default_outdir
from tests.helpers import NUMPYCNN, cli


def counting(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def pixels(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for p in sorted(folder.glob("*.png")):
        with Image.open(p) as im:
            out[p.name] = np.asarray(im.convert("RGB"))
    return out


def test_run_validates_once_and_plans_once_per_shape(tmp_path, monkeypatch):
    validations = counting(monkeypatch, schema_module, "validate")
    plans = counting(monkeypatch, session_module, "plan")
    # camera twice (one shape, two folders) and coins (another shape), with a --set
    Image.open(cnnviz.io.images.sample_path("camera")).save(tmp_path / "again.png")
    overrides_calls = counting(monkeypatch, overrides_module, "validate")
    run_command(RunRequest(NUMPYCNN, ["camera", str(tmp_path / "again.png"), "coins"], str(tmp_path / "o"),
                           overrides=["render.cmap=viridis"]))
    assert len(validations) + len(overrides_calls) == 1
    assert [args[1] for args in plans] == [(512, 512, 1), (303, 384, 1)]


def test_global_scale_is_one_pass_when_the_outputs_fit_and_two_when_not(tmp_path):
    config = cnnviz.load_config(NUMPYCNN)
    config = cnnviz.config.apply_overrides(config, ["render.normalize=global"])
    one = Session(config, "chelsea").render(tmp_path / "one")
    assert one.passes == 1
    probe = Session(config, "chelsea")
    keep, stream = probe.check(keep=True), probe.check(keep=False)
    assert stream < keep
    two = Session(config, "chelsea", max_memory=(keep + stream) // 2).render(tmp_path / "two")
    assert two.passes == 2
    a, b = pixels(tmp_path / "one"), pixels(tmp_path / "two")
    assert a.keys() == b.keys() and len(a) == 14
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    with pytest.raises(cnnviz.CnnvizError, match="more than the limit"):
        Session(config, "chelsea", max_memory=stream - 1).render(tmp_path / "three")
    assert not (tmp_path / "three").exists()


def test_keep_returns_every_layer_and_reuse_skips_computing(tmp_path):
    config = cnnviz.load_config(NUMPYCNN)
    first = Session(config, "camera").render(tmp_path / "a", keep=True)
    assert first.computed == list(range(1, 10)) and len(first.layers) == 9
    reuse = {la.index: la for la in first.layers[:5]}
    again = Session(config, "camera").render(tmp_path / "b", keep=True, reuse=reuse)
    assert again.computed == [6, 7, 8, 9]
    for x, y in zip(first.layers, again.layers, strict=True):
        np.testing.assert_array_equal(x.output, y.output)


@pytest.mark.parametrize("stem, expected", [("...", "_"), ("..", "_"), ("my config", "my config"), ("a:b", "a_b")])
def test_default_folder_is_always_inside_cnnviz_out(stem, expected):
    config = cnnviz.load_config({"stages": ["relu"]})
    out = default_outdir(config, f"/somewhere/{stem}.yaml", "../../x.png")
    assert out == Path("cnnviz-out") / expected / "x"
    assert ".." not in out.parts


def test_default_folder_of_a_dot_dot_config_stays_inside(tmp_path):
    cfg = tmp_path / "...yaml"
    cfg.write_text("stages: [relu]\n")
    work = tmp_path / "work"
    work.mkdir()
    r = cli("run", str(cfg), "camera", cwd=work)
    assert r.exit_code == 0, r.output
    assert (work / "cnnviz-out" / "_" / "camera" / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["...yaml", "work"]
