"""render(): the files it writes, re-runs over an old output folder, imports."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

import cnnviz
from cnnviz.pipeline.run import Layer
from cnnviz.rendering.writer import render
from tests.helpers import small_run, smooth_maps


def test_render_writes_every_file(rendered):
    out, config, x, layers, files = rendered
    names = [f.name for f in files]
    assert names[0] == "00_input.png" and names[-1] == "manifest.json"
    for want in ["01_edges.png", "filters_01_edges.png", "02_relu1.png", "03_pool1.png",
                 "04_global_pool1.png", "05_dense1.png", "06_softmax1.png", "overview.png", "activations.npz"]:
        assert want in names
    assert all(f.exists() for f in files)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_activations_npz(rendered):
    out, config, x, layers, files = rendered
    with np.load(out / "activations.npz") as z:
        assert list(z.keys()) == [f"{la.index:02d}_{la.name}" for la in layers]
        for layer in layers:
            a = z[f"{layer.index:02d}_{layer.name}"]
            assert a.shape == layer.output.shape and a.ndim == 3
            assert np.array_equal(a, layer.output)


def test_rerun_removes_only_stale_stage_files(tmp_path):
    stages3 = [{"type": "conv", "filters": [[[1.0, -1.0]]]}, "relu", {"type": "pool", "size": 2}]
    config, x, layers = small_run(stages3, render_opts={"overview": False})
    render(config, layers, tmp_path, image=x, save_arrays=True)
    assert (tmp_path / "03_pool1.png").exists() and (tmp_path / "activations.npz").exists()
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "07_mine.png").write_bytes(b"not listed by any manifest")
    config2, x2, layers2 = small_run(stages3[:2], render_opts={"overview": False})
    files = render(config2, layers2, tmp_path, image=x2)
    names = {p.name for p in tmp_path.iterdir()}
    assert "03_pool1.png" not in names and "activations.npz" not in names
    assert {"notes.txt", "07_mine.png", "00_input.png", "01_conv1.png", "02_relu1.png",
            "filters_01_conv1.png", "manifest.json"} <= names
    assert {f.name for f in files} == names - {"notes.txt", "07_mine.png"}


def test_rerun_ignores_a_hostile_manifest(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    (tmp_path / "manifest.json").write_text(json.dumps({"files": ["keep.txt", "../escape.png", "/etc/passwd"]}))
    config, x, layers = small_run(["relu"], render_opts={"overview": False})
    render(config, layers, tmp_path)
    assert (tmp_path / "keep.txt").exists()


def test_synthetic_layers_and_many_stages(tmp_path):
    """Layers built by hand (no planned stage) render; 100+ stages widen NN."""
    config = cnnviz.load_config({"stages": ["relu"] * 101, "render": {"overview": False}})
    y = smooth_maps(6, 7, 2)
    layers = [Layer(i + 1, f"relu{i + 1}", "relu", y, None, 0.001) for i in range(101)]
    files = render(config, layers, tmp_path)
    assert files[0].name == "001_relu1.png" and (tmp_path / "101_relu101.png").exists()


def test_import_does_not_load_matplotlib():
    code = "import sys, cnnviz.rendering.writer, cnnviz.io.pngio; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cnnviz_render_is_the_function_even_after_the_module_is_imported():
    import cnnviz
    import cnnviz.rendering.writer

    assert callable(cnnviz.render) and cnnviz.render is cnnviz.rendering.writer.render


def _render_files(out, config, x, layers):
    files = render(config, layers, out, image=x, image_name="t")
    return {p.name: p.read_bytes() for p in files if p.suffix == ".png"}


def test_background_writes_give_the_same_files(tmp_path, monkeypatch):
    import cnnviz.rendering.writer as writer

    config, x, layers = small_run([{"type": "conv", "filters": [[[1.0, -1.0]]]}, "relu"])
    plain = _render_files(tmp_path / "plain", config, x, layers)
    monkeypatch.setattr(writer, "BACKGROUND_PIXELS", 1)  # every picture in the background
    assert _render_files(tmp_path / "background", config, x, layers) == plain


def test_a_failed_background_write_stops_the_run_and_writes_no_manifest(tmp_path, monkeypatch):
    import pytest

    import cnnviz.rendering.writer as writer

    config, x, layers = small_run([{"type": "conv", "filters": [[[1.0, -1.0]]]}, "relu", {"type": "pool", "size": 2}])
    real = writer.write_png
    written = []

    def failing(path, *args, **kwargs):
        if path.name == "01_conv1.png":
            raise OSError(28, "No space left on device", str(path))
        written.append(path.name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(writer, "BACKGROUND_PIXELS", 1)
    monkeypatch.setattr(writer, "write_png", failing)
    with pytest.raises(OSError, match="No space left"):
        render(config, layers, tmp_path, image=x, image_name="t")
    assert written[:1] == ["00_input.png"]
    assert "manifest.json" not in {p.name for p in tmp_path.iterdir()}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left
    assert len(written) <= 3  # at most the pictures already queued behind the failed one (depth 2)
