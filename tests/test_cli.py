"""The command line, driven with click's CliRunner: output, errors, exit codes."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from cnnviz import __version__
from cnnviz.cli import Progress, main
from tests.helpers import NUMPYCNN, ROOT


def invoke(runner: CliRunner, *args: str):
    return runner.invoke(main, list(args), catch_exceptions=False)


def test_version_and_help(runner):
    r = invoke(runner, "--version")
    assert r.exit_code == 0 and r.output.strip() == f"cnnviz, version {__version__}"
    r = invoke(runner, "--help")
    assert r.exit_code == 0
    for cmd in ("run", "validate", "summary", "presets", "samples", "init", "inspect", "batch", "watch"):
        assert cmd in r.output
        sub = invoke(runner, cmd, "--help")
        assert sub.exit_code == 0 and "Example" in sub.output, cmd


def test_help_imports_nothing_heavy():
    code = ("import sys; from cnnviz.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('numpy', 'matplotlib', 'skimage', 'PIL', 'yaml') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_run_writes_into_the_named_folder(runner, tmp_path):
    out = tmp_path / "out"
    r = invoke(runner, "run", NUMPYCNN, "chelsea", "-o", str(out))
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in out.iterdir())
    assert "01_edges.png" in names and "09_pool3.png" in names and "00_input.png" in names
    assert r.output.startswith("wrote ") and str(out) in r.output


def test_run_default_folder_names_config_and_image(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke(runner, "run", NUMPYCNN, "camera")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "cnnviz-out" / "numpycnn" / "camera" / "01_edges.png").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["cnnviz-out"]


def test_run_several_images_with_jobs(runner, tmp_path):
    r = invoke(runner, "run", NUMPYCNN, "camera", "coins", "-o", str(tmp_path), "-j", "2")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "camera" / "09_pool3.png").exists() and (tmp_path / "coins" / "09_pool3.png").exists()


def test_bad_config_is_one_line_exit_1_and_writes_nothing(runner, tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("stages:\n  - relu\n  - {type: pool, sise: 2}\n")
    out = tmp_path / "out"
    r = runner.invoke(main, ["run", str(cfg), "chelsea", "-o", str(out)])
    assert r.exit_code == 1
    assert r.stderr == f"Error: {cfg}:3:18: stages[1].sise: unknown key 'sise' (did you mean 'size'?)\n"
    assert r.stdout == ""
    assert not out.exists()


def test_bad_image_writes_nothing(runner, tmp_path):
    out = tmp_path / "out"
    r = runner.invoke(main, ["run", NUMPYCNN, "chelsea", "chelsa", "-o", str(out)])
    assert r.exit_code == 1
    assert r.stderr == ("Error: no image file or sample named 'chelsa' (did you mean 'chelsea'?); "
                        "'cnnviz samples' lists the samples\n")
    assert not out.exists()


def test_kernel_too_big_for_image_writes_nothing(runner, tmp_path):
    cfg = tmp_path / "big.yaml"
    cfg.write_text("input: {resize: [8, 8]}\nstages:\n  - type: conv\n    filters: [{random: {size: 9}}]\n")
    out = tmp_path / "out"
    r = runner.invoke(main, ["run", str(cfg), "camera", "-o", str(out)])
    assert r.exit_code == 1
    assert r.stderr == (f"Error: {cfg}:3:5: stages[0]: conv stage 'conv1': kernel 9×9 is larger than "
                        "its padded input 8×8\n")
    assert not out.exists()


def test_debug_shows_the_traceback(runner, tmp_path):
    from cnnviz.errors import CnnvizError

    r = runner.invoke(main, ["--debug", "run", str(tmp_path / "none.yaml"), "chelsea"])
    assert r.exit_code == 1 and isinstance(r.exception, CnnvizError)


def test_usage_error_exit_2(runner):
    r = runner.invoke(main, ["run", NUMPYCNN])
    assert r.exit_code == 2 and "Missing argument 'IMAGES...'" in r.stderr
    r = runner.invoke(main, ["run", NUMPYCNN, "chelsea", "--normalize", "bogus"])
    assert r.exit_code == 2


def test_option_overrides_reach_the_config(runner, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("stages:\n  - relu\n")
    r = runner.invoke(main, ["run", str(cfg), "camera", "-o", str(tmp_path / "o"), "--cmap", "viridiss"])
    assert r.exit_code == 1
    assert r.stderr == "Error: --set render.cmap=viridiss: render.cmap: unknown colormap 'viridiss' (did you mean 'viridis'?)\n"
    r = runner.invoke(main, ["run", str(cfg), "camera", "-o", str(tmp_path / "o"), "--set", "stages[0].type=relx"])
    assert r.exit_code == 1
    assert r.stderr == "Error: --set stages[0].type=relx: stages[0].type: unknown stage type 'relx' (did you mean 'relu'?)\n"
    r = runner.invoke(main, ["run", str(cfg), "camera", "-o", str(tmp_path / "o"), "--set", "stages[0].slope=2"])
    assert r.exit_code == 1
    assert r.stderr == "Error: --set stages[0].slope=2: stages[0].slope: unknown key 'slope'\n"
    assert not (tmp_path / "o").exists()


def test_validate_ok_and_all_errors(runner, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  - rleu\n  - {type: pool, size: 0}\n")
    r = runner.invoke(main, ["validate", NUMPYCNN, str(bad)])
    assert r.exit_code == 1
    assert r.stdout == f"{NUMPYCNN}: ok\n"
    assert r.stderr == (
        f"Error: {bad}:2:5: stages[0]: unknown stage type 'rleu' (did you mean 'relu'?)\n"
        f"Error: {bad}:3:24: stages[1].size: must be at least 1, not 0\n"
    )
    r = runner.invoke(main, ["validate", NUMPYCNN])
    assert r.exit_code == 0 and r.stdout == f"{NUMPYCNN}: ok\n"


def test_validate_plans_when_the_shape_is_fixed(runner, tmp_path):
    cfg = tmp_path / "v.yaml"
    cfg.write_text("input: {color: gray, resize: [4, 4]}\nstages:\n  - {type: pool, size: 5}\n")
    r = runner.invoke(main, ["validate", str(cfg)])
    assert r.exit_code == 1
    assert r.stderr == f"Error: {cfg}:3:5: stages[0]: pool stage 'pool1': window 5×5 is larger than its padded input 4×4\n"


def test_summary_numbers_for_numpycnn(runner):
    r = invoke(runner, "summary", NUMPYCNN, "chelsea")
    assert r.exit_code == 0
    rows = {}
    for line in r.output.splitlines()[2:]:
        cells = line.split()
        if cells and not cells[0].startswith("-"):
            rows[cells[1] if cells[0].isdigit() else cells[0]] = line
    # hand-computed: conv1 2 kernels 3x3 on 1 channel + 2 biases; output 298x449x2
    assert "298×449×2" in rows["edges"] and " 20 " in rows["edges"]
    assert f"{298 * 449 * 2 * 9:,}" in rows["edges"]
    # conv2: 3 kernels 5x5x2 + 3 biases = 153; 145*220*3*25*2 mult-adds
    assert "145×220×3" in rows["conv2"] and " 153 " in rows["conv2"] and f"{145 * 220 * 3 * 50:,}" in rows["conv2"]
    # conv3: 1 kernel 7x7x3 + 1 bias = 148; receptive field 38, jump 4
    assert " 148 " in rows["conv3"] and "38×38" in rows["conv3"] and "4×4" in rows["conv3"]
    assert "33×52×1" in rows["pool3"] and "42×42" in rows["pool3"] and "8×8" in rows["pool3"]
    total = rows["total"].split()
    assert "321" in total and f"{298 * 449 * 18 + 145 * 220 * 150 + 66 * 104 * 147:,}" in total
    # memory column: float32 bytes of 298*449*2
    assert "1.0 MiB" in rows["edges"]


def test_presets_and_samples(runner):
    r = invoke(runner, "presets")
    assert r.exit_code == 0
    for name in ("sobel_x", "gabor_bank", "log", "dog", "gaussian"):
        assert any(line.startswith(f"{name}: ") for line in r.output.splitlines()), name
    assert "    orientations (int, default 8)" in r.output
    r = invoke(runner, "samples")
    names = [line.split()[0] for line in r.output.splitlines()]
    assert {"chelsea", "camera", "astronaut", "coffee"} <= set(names)


def test_init_writes_a_valid_config_and_refuses_to_overwrite(runner, tmp_path):
    p = tmp_path / "my.yaml"
    r = invoke(runner, "init", str(p))
    assert r.exit_code == 0 and p.exists()
    assert invoke(runner, "validate", str(p)).exit_code == 0
    r = runner.invoke(main, ["init", str(p)])
    assert r.exit_code == 1 and r.stderr == f"Error: {p} already exists (use --force to overwrite it)\n"
    assert invoke(runner, "init", str(p), "--force").exit_code == 0
    r = invoke(runner, "run", str(p), "camera", "-o", str(tmp_path / "o"))
    assert r.exit_code == 0, r.output


def test_max_memory_refuses_before_writing(runner, tmp_path):
    out = tmp_path / "o"
    r = runner.invoke(main, ["run", NUMPYCNN, "chelsea", "-o", str(out), "--max-memory", "1M"])
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: this stack needs about ")
    assert r.stderr.endswith(" of memory for a 300×451 input, more than the limit of 1.0 MiB; raise the limit "
                             "with --max-memory, or shrink the input with input.resize\n")
    assert not out.exists()
    r = runner.invoke(main, ["run", NUMPYCNN, "chelsea", "-o", str(out), "--max-memory", "lots"])
    assert r.exit_code == 2  # a usage error, like -j 0
    assert "Invalid value for '--max-memory': expected a size such as 2G or 512M, not 'lots'" in r.stderr
    assert not out.exists()


@pytest.mark.parametrize("normalize", ["map", "global"])
def test_stream_and_no_stream_write_the_same_pictures(runner, tmp_path, normalize):
    import json

    import numpy as np
    from PIL import Image

    a, b = tmp_path / "a", tmp_path / "b"
    for out, flag in ((a, "--stream"), (b, "--no-stream")):
        r = invoke(runner, "run", NUMPYCNN, "chelsea", "-o", str(out), flag, "--save-arrays",
                   "--normalize", normalize)
        assert r.exit_code == 0, r.output
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    assert ma["files"] == mb["files"]
    for sa, sb in zip(ma["stages"], mb["stages"]):
        assert (sa["min"], sa["max"], sa["mean"], sa["output_shape"]) == (sb["min"], sb["max"], sb["mean"], sb["output_shape"])
    for name in ma["files"]:
        if name.endswith(".png"):
            np.testing.assert_array_equal(np.asarray(Image.open(a / name)), np.asarray(Image.open(b / name)))
    za, zb = np.load(a / "activations.npz"), np.load(b / "activations.npz")
    assert za.files == zb.files == [f"{i:02d}_{n}" for i, n in enumerate(
        ["edges", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3", "pool3"], start=1)]
    for key in za.files:
        np.testing.assert_array_equal(za[key], zb[key])




@pytest.mark.parametrize("name, sample", [
    ("numpycnn", "chelsea"), ("padding", "camera"), ("edges", "camera"), ("gabor", "astronaut"),
    ("rgb", "coffee"), ("tiny-cnn", "astronaut"), ("digits", str(ROOT / "configs" / "digits" / "7.png")),
])
def test_every_example_config_runs(runner, tmp_path, name, sample):
    import json

    cfg = ROOT / "configs" / f"{name}.yaml"
    r = invoke(runner, "run", str(cfg), sample, "-o", str(tmp_path))
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert len(manifest["stages"]) == len(__import__("cnnviz").load_config(cfg).stages)
    for f in manifest["files"]:
        assert (tmp_path / f).stat().st_size > 0
    assert (tmp_path / "overview.png").exists()


def test_example_configs_are_all_tested():
    names = sorted(p.stem for p in (ROOT / "configs").glob("*.yaml"))
    assert names == ["digits", "edges", "gabor", "numpycnn", "padding", "rgb", "tiny-cnn"]




def test_progress_bar_last_line_is_clean():
    """The closing line overwrites the longer line before it: no item name is left over at its end."""
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    bar = Progress(tty)
    bar.update(1, 2, "tiny-cnn × chelsea")
    bar.update(2, 2, "a-config-with-a-long-name × chelsea")
    bar.close()
    text = tty.getvalue()
    last = text.split("\r")[-1]
    assert last.endswith("\n") and "×" not in last and "chelsea" not in last
    previous = text.split("\r")[-2]
    assert len(last.rstrip("\n")) >= len(previous)  # padded over every character of the line before
    assert last.rstrip().endswith("in 0:00")


def test_a_swallowed_signal_is_sent_again():
    """A Ctrl-C that lands in a weakref callback is swallowed by Python; the hook sends it again."""
    import types

    from cnnviz.cli import Interrupted, _redeliver

    got: list[object] = []
    old = signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
    try:
        hook = _redeliver(lambda args: got.append("passed on"))
        hook(types.SimpleNamespace(exc_type=Interrupted, exc_value=Interrupted(signal.SIGUSR1)))
        hook(types.SimpleNamespace(exc_type=ValueError, exc_value=ValueError("x")))
        deadline = time.monotonic() + 5
        while signal.SIGUSR1 not in got and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert got == ["passed on", signal.SIGUSR1]


def test_the_process_ends_with_its_objects_frozen_for_the_last_collections(tmp_path):
    # Registered before cnnviz.cli is imported, this handler runs after cli's own (exit handlers run last-in,
    # first-out): by then every object must be frozen, so Python's final cycle collections skip them.
    code = ("import atexit, gc, sys\n"
            "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 1000))\n"
            "from cnnviz.cli import main\n"
            f"sys.argv = ['cnnviz', 'run', {NUMPYCNN!r}, 'chelsea', '-o', {str(tmp_path / 'out')!r}]\n"
            "main()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "frozen True"
    assert (tmp_path / "out" / "manifest.json").is_file()
