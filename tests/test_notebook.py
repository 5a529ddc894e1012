"""cnnviz in Jupyter (SPEC §4): a run, a layer and a projection show themselves as pictures, written nowhere.

The kernel tests execute real notebooks with nbclient in an ipykernel running
this interpreter (a kernelspec written to a temporary folder), one kernel per
notebook; they are skipped when nbclient, nbformat or ipykernel is missing,
unless ``CNNVIZ_REQUIRE_EXTRAS=1``.  The pictures must be the files ``cnnviz
run`` writes, pixel for pixel.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import io
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import cnnviz
from cnnviz.cli import main
from cnnviz.notebook import layer_png, layers_html, projection_png, register
from cnnviz.notebook.text import layer_text, layers_text, projection_text
from cnnviz.pipeline.run import Layer, Layers
from tests.helpers import ROOT

CONFIG = ROOT / "configs" / "numpycnn.yaml"
IMG = '<img src="data:image/png;base64,'


def need(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        if os.environ.get("CNNVIZ_REQUIRE_EXTRAS") == "1":
            pytest.fail(f"{module} is not installed and CNNVIZ_REQUIRE_EXTRAS=1")
        pytest.skip(f"{module} is not installed (the notebook tests need nbclient, nbformat and ipykernel)")


def pixels(data: bytes | str | Path) -> np.ndarray:
    """Decoded RGB pixels of a PNG (bytes, base64 text, or a file)."""
    if isinstance(data, str):
        data = base64.b64decode(data)
    with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


def html_pngs(html: str) -> list[np.ndarray]:
    return [pixels(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """What ``cnnviz run configs/numpycnn.yaml chelsea`` writes: file stem -> pixels."""
    out = tmp_path_factory.mktemp("cli")
    r = CliRunner().invoke(main, ["run", str(CONFIG), "chelsea", "-o", str(out)])
    assert r.exit_code == 0, r.output
    return {p.stem: pixels(p) for p in out.glob("*.png")}


@pytest.fixture(scope="module")
def layers():
    return cnnviz.run(CONFIG, "chelsea")


# -- the run's list, its layers, a projection (in this process) -------------

def test_run_returns_a_list_that_keeps_its_input(layers):
    assert isinstance(layers, list) and type(layers) is Layers and len(layers) == 9
    assert layers == list(layers) and type(layers[1:3]) is list
    src = layers.source
    assert src.config.render["cmap"] == "gray" and src.image_name == "chelsea"
    assert src.image.shape == (300, 451, 1) and src.layers() is layers
    assert all(la.source is src for la in layers)
    assert "RunSource" not in repr(layers[0]) and layers[0] == Layer(1, "edges", "conv", layers[0].output,
                                                                  layers[0].stage, layers[0].seconds)
    for other in (pickle.loads(pickle.dumps(layers)), copy.deepcopy(layers)):
        assert type(other) is Layers and other.source.layers() is other and other[0].source is other.source
        np.testing.assert_array_equal(other[2].output, layers[2].output)
    shallow = copy.copy(layers)
    assert type(shallow) is Layers and shallow.source is src and src.layers() is layers


def test_the_list_layers_and_overview_are_what_cnnviz_run_writes(layers, written):
    html = layers_html(layers)
    assert html is not None and html.count(IMG) == 10
    shown = html_pngs(html)
    stems = ["overview"] + [f"{la.index:02d}_{la.name}" for la in layers]
    for stem, px in zip(stems, shown, strict=True):
        np.testing.assert_array_equal(px, written[stem], err_msg=stem)
    for la in (layers[0], layers[4], layers[8]):
        np.testing.assert_array_equal(pixels(layer_png(la)), written[f"{la.index:02d}_{la.name}"])


def test_a_layer_kept_without_its_list_is_still_drawn_with_its_config(written):
    one = cnnviz.run(CONFIG, "chelsea")[3]  # the list is gone at once
    assert one.source.layers() is None
    np.testing.assert_array_equal(pixels(layer_png(one)), written["04_conv2"])


def test_global_range_and_dpi_as_the_writer_has_them(tmp_path):
    cfg = {"name": "g", "render": {"normalize": "global", "dpi": 150, "cmap": "RdBu_r"},
           "stages": [{"type": "conv", "filters": [{"preset": "sobel_x"}, {"preset": "laplacian"}]}, "relu",
                      {"type": "pool", "size": 2}]}
    layers = cnnviz.run(cfg, "camera")
    cnnviz.render(layers.source.config, layers, tmp_path, image=layers.source.image, image_name="camera")
    html = layers_html(layers)
    assert html is not None
    shown = html_pngs(html)
    stems = ["overview"] + [f"{la.index:02d}_{la.name}" for la in layers]
    for stem, px in zip(stems, shown, strict=True):
        np.testing.assert_array_equal(px, pixels(tmp_path / f"{stem}.png"), err_msg=stem)
    widths = [int(w) for w in re.findall(r' width="(\d+)"', html)]  # each shown at its 100-dpi size
    assert widths == [round(px.shape[1] * 100 / 150) for px in shown]


def test_projection_is_its_map_blended_over_the_input(layers):
    p = cnnviz.project(layers[3], 1)
    assert p.image is layers.source.image
    png = projection_png(p)
    assert png is not None
    px = pixels(png)
    assert px.shape[0] > 300 and px.shape[1] > 451  # the input at 1:1 (it is 300x451), a title and a colorbar
    # given explicitly, or none at all
    assert cnnviz.project(layers[3], 1, image=np.zeros((300, 451))).image.shape == (300, 451)
    with pytest.raises(ValueError, match="the image is 10×10 but the input is 300×451"):
        cnnviz.project(layers[3], 1, image=np.zeros((10, 10)))
    bare = cnnviz.project(Layer(4, "conv2", "conv", layers[3].output, layers[3].stage, 0.0), 1)
    assert bare.image is None and projection_png(bare) is None
    np.testing.assert_array_equal(bare.values, p.values)
    assert "no input kept" in projection_text(bare) and "receptive field 12×12" in projection_text(p)


def test_what_is_not_a_run_shows_no_picture(layers):
    assert layers_html(list(layers)) is None
    assert layer_png(Layer(1, "x", "relu", np.zeros((4, 4, 1), np.float32), None, 0.0)) is None
    assert layers_text([]) == "cnnviz run: no layers"
    text = layers_text(layers)
    assert text.startswith("cnnviz run of ") and text.endswith("09 pool3 (pool) · 33×52×1 float32")
    assert layer_text(layers[0]).startswith("Layer 01 edges (conv) · 298×449×2 float32 · ")


def test_no_file_is_written(layers, tmp_path, monkeypatch):
    work, temp = tmp_path / "work", tmp_path / "temp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    layers_html(layers)
    layer_png(layers[2])
    projection_png(cnnviz.project(layers[2], 0))
    assert list(work.iterdir()) == [] and list(temp.iterdir()) == []


def test_register_without_ipython_does_nothing():
    assert register() is False  # no IPython is running here


def test_import_and_run_stay_cheap():
    """Outside IPython, ``import cnnviz`` and ``cnnviz.run`` import no drawing code (and no IPython)."""
    code = ("import sys, cnnviz; cnnviz.run(sys.argv[1], 'chelsea'); "
            "print(sorted(m for m in sys.modules if m.startswith(('cnnviz.rendering', 'cnnviz.notebook', "
            "'matplotlib', 'IPython'))))")
    out = subprocess.run([sys.executable, "-c", code, str(CONFIG)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- in a real Jupyter kernel ------------------------------------------------

@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    """Run a notebook in an ipykernel of this interpreter, in a given folder; the executed notebook."""
    for module in ("nbclient", "nbformat", "ipykernel"):
        need(module)
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "cnnviz-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "cnnviz test", "language": "python"}))
    env = {**os.environ, "IPYTHONDIR": str(root / "ipython"), "JUPYTER_RUNTIME_DIR": str(root / "runtime")}

    def execute(nb, cwd: Path):
        ksm = KernelSpecManager(kernel_dirs=[str(root / "kernels")], ensure_native_kernel=False)
        km = AsyncKernelManager(kernel_name="cnnviz-test", kernel_spec_manager=ksm,
                                connection_file=str(root / "runtime" / f"kernel-{os.getpid()}-{id(nb)}.json"))
        client = NotebookClient(nb, km=km, timeout=120, allow_errors=False, record_timing=False,
                                resources={"metadata": {"path": str(cwd)}})
        (root / "runtime").mkdir(exist_ok=True)
        client.execute(env=env)
        return nb

    execute.nbformat = nbformat
    return execute


def outputs(cell) -> list[dict]:
    return [dict(o) for o in cell.outputs]


def data_of(cell) -> dict:
    (out,) = [o for o in cell.outputs if o.output_type in ("execute_result", "display_data")]
    return dict(out.data)


@pytest.fixture(scope="module")
def executed(jupyter, tmp_path_factory):
    nbf = jupyter.nbformat
    cells = [
        "import os, sys\nimport cnnviz\nprint(sys.executable)",
        f"layers = cnnviz.run({str(CONFIG)!r}, 'chelsea')\n"
        "sorted(m for m in sys.modules if m.startswith(('cnnviz.rendering', 'cnnviz.notebook.pictures', "
        "'matplotlib')))",
        "layers",
        "layers[0]",
        "cnnviz.project(layers[3], 1)",
        "display(layers[8])",
        "sorted(os.listdir('.'))",
    ]
    nb = nbf.v4.new_notebook(cells=[nbf.v4.new_code_cell(c) for c in cells])
    work = tmp_path_factory.mktemp("work")
    jupyter(nb, work)
    return nb, work


def test_the_kernel_is_this_python_and_run_imports_no_drawing_code(executed):
    nb, _ = executed
    (out,) = outputs(nb.cells[0])
    assert out["name"] == "stdout" and out["text"].strip() == sys.executable
    assert data_of(nb.cells[1])["text/plain"] == "[]"


def test_in_jupyter_the_list_shows_the_overview_and_every_grid(executed, written, layers):
    nb, _ = executed
    data = data_of(nb.cells[2])
    assert set(data) == {"text/html", "text/plain"}
    html = data["text/html"]
    assert html.count(IMG) == 10
    shown = html_pngs(html)
    np.testing.assert_array_equal(shown[0], written["overview"])
    for la, px in zip(layers, shown[1:], strict=True):
        np.testing.assert_array_equal(px, written[f"{la.index:02d}_{la.name}"])
    assert data["text/plain"].splitlines()[0].endswith("on chelsea (input 300×451×1): 9 layers")


def test_in_jupyter_a_layer_and_a_projection_are_pngs(executed, written, layers):
    nb, _ = executed
    one = data_of(nb.cells[3])
    assert set(one) == {"image/png", "text/plain"} and one["text/plain"].startswith("Layer 01 edges (conv)")
    np.testing.assert_array_equal(pixels(one["image/png"]), written["01_edges"])
    proj = data_of(nb.cells[4])
    assert set(proj) == {"image/png", "text/plain"} and proj["text/plain"].startswith("Projection of conv2 map 1")
    np.testing.assert_array_equal(pixels(proj["image/png"]), pixels(projection_png(cnnviz.project(layers[3], 1))))
    (shown,) = [o for o in nb.cells[5].outputs if o.output_type == "display_data"]
    assert pixels(shown.data["image/png"]).shape == written["09_pool3"].shape


def test_in_jupyter_no_file_is_written(executed):
    nb, work = executed
    assert data_of(nb.cells[6])["text/plain"] == "[]"
    assert list(work.iterdir()) == []


def test_the_tour_runs_and_shows_pictures(jupyter):
    docs = ROOT / "docs"
    before = sorted(p.name for p in docs.iterdir())
    nb = jupyter.nbformat.read(docs / "tour.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "store the tour without outputs"
    jupyter(nb, docs)
    mimes = [m for c in nb.cells if c.cell_type == "code" for o in c.outputs for m in o.get("data", {})]
    assert "text/html" in mimes and mimes.count("image/png") == 2
    html = next(o.data["text/html"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
                if "text/html" in o.get("data", {}))
    assert html.count(IMG) == 10
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "receptive" in text.lower() and "pool3" in text
    assert sorted(p.name for p in docs.iterdir()) == before
