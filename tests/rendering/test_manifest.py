"""What render() records: manifest.json and the PNG metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

import cnnviz
import cnnviz.io.images
from cnnviz.io.pngio import read_png_metadata
from tests.helpers import NUMPYCNN, ROOT, cli


def test_png_metadata_round_trip(rendered):
    out, config, x, layers, files = rendered
    from cnnviz.rendering.manifest import jsonable as _jsonable

    for f in files:
        if f.suffix != ".png":
            continue
        md = read_png_metadata(f)
        assert md["version"] == cnnviz.__version__
        assert md["image"] == "noise"
        assert yaml.safe_load(md["config"]) == _jsonable(config.resolved())
    assert read_png_metadata(out / "01_edges.png")["stage"] == "01_edges"
    assert read_png_metadata(out / "01_edges.png")["title"].startswith("01 edges (conv)")


def test_manifest_contents(rendered):
    out, config, x, layers, files = rendered
    m = json.loads((out / "manifest.json").read_text())
    assert m["cnnviz_version"] == cnnviz.__version__
    assert m["config"] == {"path": "cfg.yaml", "sha256": config.sha256, "name": None, "description": None}
    assert m["image"]["name"] == "noise" and m["image"]["shape"] == list(x.shape)
    resolved = config.resolved()
    assert len(m["stages"]) == len(layers)
    for st, layer in zip(m["stages"], layers, strict=True):
        y = layer.output
        assert st["index"] == layer.index and st["name"] == layer.name and st["type"] == layer.type
        assert st["output_shape"] == list(y.shape)
        assert st["min"] == pytest.approx(float(y.min()))
        assert st["max"] == pytest.approx(float(y.max()))
        assert st["mean"] == pytest.approx(float(y.astype(np.float64).mean()))
        assert st["milliseconds"] == pytest.approx(layer.seconds * 1000, abs=1e-3)
        entry = {k: v for k, v in resolved["stages"][layer.index - 1].items() if k not in ("type", "name")}
        assert st["params"] == json.loads(json.dumps(entry))
        assert st["files"] and all((out / f).is_file() for f in st["files"])
    assert m["stages"][0]["files"] == ["01_edges.png", "filters_01_edges.png"]
    assert m["stages"][4]["params"]["labels"] == ["cat", "dog", "owl"]
    listed = set(m["files"])
    on_disk = {p.name for p in out.iterdir()} - {"manifest.json"}
    assert listed == on_disk


def test_description_reaches_manifest(tmp_path):
    import json

    import cnnviz

    cfg = cnnviz.load_config({"description": "two edge filters", "input": {"resize": 32},
                              "stages": [{"type": "conv", "filters": [{"preset": "sobel_x"}]}]})
    cnnviz.render(cfg, cnnviz.run(cfg, "camera"), tmp_path, image_name="camera")
    assert json.loads((tmp_path / "manifest.json").read_text())["config"]["description"] == "two edge filters"


def test_a_file_named_like_a_sample_the_manifest_says_the_sample(tmp_path):
    (tmp_path / "chelsea").write_bytes(b"not this")
    r = cli("run", NUMPYCNN, "chelsea", "-o", "o", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    image = json.loads((tmp_path / "o" / "manifest.json").read_text())["image"]
    assert image["sample"] == "chelsea" and image["name"] == "chelsea"
    assert image["path"] == str(cnnviz.io.images.sample_path("chelsea").resolve())


def test_the_manifest_gives_each_stage_its_inputs_and_geometry(tmp_path):
    """Worked by hand for numpycnn: a valid 3x3 conv centres cell (0, 0) at input (1, 1); a 2x2 pool of it at
    (1.5, 1.5) with jump 2 and field 4; the 5x5 conv after it widens the field by 4 jumps (4 + 4·2 = 12)."""
    import json

    from tests.helpers import NUMPYCNN, cli

    assert cli("run", NUMPYCNN, "chelsea", "-o", str(tmp_path)).exit_code == 0
    stages = json.loads((tmp_path / "manifest.json").read_text())["stages"]
    got = [(s["name"], s["inputs"], s["receptive_field"], s["jump"], s["start"]) for s in stages[:4]]
    assert got == [("edges", ["input"], [3, 3], [1, 1], [1.0, 1.0]),
                   ("relu1", ["edges"], [3, 3], [1, 1], [1.0, 1.0]),
                   ("pool1", ["relu1"], [4, 4], [2, 2], [1.5, 1.5]),
                   ("conv2", ["pool1"], [12, 12], [2, 2], [5.5, 5.5])]


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_embedded_config_text_is_what_the_pure_python_dumper_writes(name):
    # config_text uses libyaml's dumper for speed; the text must be the one yaml.safe_dump writes
    from cnnviz.config import load_config
    from cnnviz.rendering.manifest import config_text, jsonable

    config = load_config(ROOT / "configs" / name)
    expected = yaml.safe_dump(jsonable(config.resolved()), sort_keys=False, allow_unicode=True,
                              default_flow_style=None, width=100)
    assert config_text(config) == expected
