"""cnnviz watch, driven by real file edits: re-renders, errors, watched files, start and stop."""

# Every re-render here is caused by writing a file on disk (an atomic save: a temporary file renamed
# over the original, or an in-place write) and observed the way a user would see it: the line on
# stdout, the manifest and PNGs in the output folder.  Both backends run: the polling fallback and
# watchfiles (skipped when it is not installed, unless CNNVIZ_REQUIRE_EXTRAS=1).

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import cnnviz
from cnnviz.app.watch import (
    Watcher,
    WatchRequest,
    have_watchfiles,
    referenced_files,
    watch_command,
)
from cnnviz.cli import main
from cnnviz.config import load_config
from tests.helpers import BAD, KERNELS, Lines, config_text, save_atomic, start


def save_in_place(path: Path, text: str) -> None:
    """How some editors (and shell redirections) save: truncate and write the same file."""
    ino = path.stat().st_ino
    with open(path, "r+", encoding="utf-8") as f:
        f.truncate(0)
        f.write(text)
    assert path.stat().st_ino == ino


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino) for p in sorted(folder.iterdir())}


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


LINE = re.compile(r"^rendered (\d+) stages? \((all computed|nothing recomputed|recomputed from stage (\d+))\) "
                  r"in \d+\.\d\d s -> (.+)$")


@pytest.fixture(params=["polling", "watchfiles"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "watchfiles" and not have_watchfiles():
        if os.environ.get("CNNVIZ_REQUIRE_EXTRAS") == "1":
            pytest.fail("watchfiles is not installed and CNNVIZ_REQUIRE_EXTRAS=1")
        pytest.skip("watchfiles is not installed (pip install cnnviz[watch])")
    return request.param


def wait_reports(w: Watcher, n: int, timeout: float = 10.0) -> None:
    assert w.wait_until(lambda: len(w.reports) >= n, timeout), \
        f"expected {n} renders, got {len(w.reports)}; errors: {w.errors}"


# ---------------------------------------------------------------------------
# Watching: real edits, both backends.


def test_atomic_saves_rerender(project, backend):
    cfg, out = project
    w, o, e = start(cfg, out, backend)
    try:
        assert len(w.reports) == 1 and w.reports[0].first
        m = LINE.match(o.lines[0])
        assert m and m.group(1) == "5" and m.group(2) == "all computed" and m.group(4) == str(out)
        assert o.lines[-1] == f"watching {cfg} and 1 filter file ({backend}); press Ctrl-C to stop"
        assert manifest(out)["stages"][3]["output_shape"] == [30, 30, 2]
        ino = cfg.stat().st_ino
        # two saves in a row: the second proves the watch survived the first rename
        for n, count in ((2, 3), (3, 4)):
            before = (out / "04_conv2.png").stat().st_mtime_ns
            save_atomic(cfg, config_text(count=count))
            wait_reports(w, n)
            assert cfg.stat().st_ino != ino
            assert manifest(out)["stages"][3]["output_shape"] == [30, 30, count]
            assert (out / "04_conv2.png").stat().st_mtime_ns != before
            line = [ln for ln in o.lines if ln.startswith("rendered")][-1]
            m = LINE.match(line)
            assert m and m.group(3) == "4", line
            assert w.reports[-1].computed == [4, 5]
        assert e.lines == []
    finally:
        w.stop()


def test_save_that_moves_the_original_away_first(project, backend):
    """vim's way with backupcopy=no: rename the config to a backup, then write a new file."""
    cfg, out = project
    w, _o, e = start(cfg, out, backend)
    try:
        os.replace(cfg, cfg.with_name(cfg.name + "~"))
        time.sleep(0.05)
        cfg.write_text(config_text(count=3), encoding="utf-8")
        wait_reports(w, 2)
        time.sleep(0.4)
        assert len(w.reports) == 2 and e.lines == []
        assert manifest(out)["stages"][3]["output_shape"] == [30, 30, 3]
        save_atomic(cfg, config_text(count=4))  # still watched
        wait_reports(w, 3)
    finally:
        w.stop()


def test_in_place_writes_rerender(project, backend):
    cfg, out = project
    w, o, e = start(cfg, out, backend)
    try:
        for n, cmap in ((2, "viridis"), (3, "magma")):
            sha = manifest(out)["config"]["sha256"]
            save_in_place(cfg, config_text(cmap=cmap))
            wait_reports(w, n)
            assert manifest(out)["render"]["cmap"] == cmap
            assert manifest(out)["config"]["sha256"] != sha
            # only render: changed -> no stage computed again
            assert w.reports[-1].computed == []
            assert "(nothing recomputed)" in [ln for ln in o.lines if ln.startswith("rendered")][-1]
        assert e.lines == []
    finally:
        w.stop()


def test_filter_file_edit_rerenders(project, backend):
    cfg, out = project
    npy = cfg.parent / "kernels.npy"
    w, o, e = start(cfg, out, backend)
    try:
        first = (out / "filters_01_edges.png").read_bytes()
        np.save(npy, KERNELS * 3)  # in place
        wait_reports(w, 2)
        assert w.reports[-1].recomputed_from == 1
        assert (out / "filters_01_edges.png").read_bytes() != first
        assert np.array_equal(w.renderer.layers[0].stage.kernels[:2, :, :, 0], (KERNELS * 3).astype(np.float32))
        tmp = cfg.parent / ".kernels.tmp.npy"
        np.save(tmp, -KERNELS)
        os.replace(tmp, npy)  # by rename
        wait_reports(w, 3)
        assert np.array_equal(w.renderer.layers[0].stage.kernels[:2, :, :, 0], (-KERNELS).astype(np.float32))
        assert "recomputed from stage 1" in o.lines[-1]
        assert e.lines == []
    finally:
        w.stop()


def test_editing_the_last_stage_recomputes_only_it(project, backend):
    cfg, out = project
    w, o, _e = start(cfg, out, backend)
    try:
        save_atomic(cfg, config_text(last="{type: leaky_relu, slope: 0.2}"))
        wait_reports(w, 2)
        assert w.reports[-1].computed == [5]
        assert "(recomputed from stage 5)" in o.lines[-1]
        # what was reused and what was computed equals a fresh run of the new config
        fresh = cnnviz.run(load_config(cfg), "camera")
        assert [la.name for la in w.renderer.layers] == [la.name for la in fresh]
        for a, b in zip(w.renderer.layers, fresh):
            assert np.array_equal(a.output, b.output), a.name
        assert manifest(out)["stages"][4]["type"] == "leaky_relu"
    finally:
        w.stop()


def test_invalid_edit_keeps_output_then_fix_rerenders(project, backend):
    cfg, out = project
    w, _o, e = start(cfg, out, backend)
    try:
        before = snapshot(out)
        save_atomic(cfg, BAD)
        assert w.wait_until(lambda: len(w.errors) >= 2, 10)
        expected = [
            f"Error: {cfg}:9:5: stages[1]: unknown stage type 'reluu' (did you mean 'relu'?)",
            f"Error: {cfg}:10:24: stages[2].size: must be at least 1, not 0",
        ]
        assert e.lines == expected
        assert w.errors == expected
        time.sleep(0.3)
        assert snapshot(out) == before  # same names, bytes, mtimes, inodes: nothing written
        assert len(w.reports) == 1
        save_atomic(cfg, config_text(name="edges2"))
        wait_reports(w, 2)
        assert (out / "01_edges2.png").exists() and not (out / "01_edges.png").exists()
        assert w.reports[-1].computed == []  # a rename changes no output
        assert e.lines == expected  # no new error
    finally:
        w.stop()


def test_a_burst_of_writes_renders_once(project, backend):
    cfg, out = project
    w, _o, _e = start(cfg, out, backend)
    try:
        for count in range(3, 11):  # 8 saves over ~0.15 s, alternating in place and by rename
            (save_in_place if count % 2 else save_atomic)(cfg, config_text(count=count))
            time.sleep(0.02)
        wait_reports(w, 2)
        time.sleep(0.6)
        assert len(w.reports) == 2
        assert manifest(out)["stages"][3]["output_shape"][2] == 10
    finally:
        w.stop()


def test_watched_files_follow_the_config(project, backend):
    cfg, out = project
    sub = cfg.parent / "more"
    sub.mkdir()
    np.save(sub / "other.npy", KERNELS[:1])
    w, _o, e = start(cfg, out, backend)
    try:
        assert w.watched == {str(cfg), str(cfg.parent / "kernels.npy")}
        save_atomic(cfg, config_text(kernels="more/other.npy"))
        wait_reports(w, 2)
        assert w.watched == {str(cfg), str(sub / "other.npy")}
        np.save(sub / "other.npy", KERNELS[1:] * 2)  # the newly named file, in a new folder
        wait_reports(w, 3)
        assert w.reports[-1].recomputed_from == 1
        np.save(cfg.parent / "kernels.npy", KERNELS * 5)  # no longer named: ignored
        time.sleep(0.8)
        assert len(w.reports) == 3
        assert e.lines == []
    finally:
        w.stop()


# ---------------------------------------------------------------------------
# Start, stop, exit status.


def test_invalid_config_at_start_is_reported_and_watched(project):
    cfg, out = project
    cfg.write_text(BAD, encoding="utf-8")
    w, _o, e = start(cfg, out)
    try:
        assert len(w.reports) == 0 and len(e.lines) == 2 and not out.exists()
        save_in_place(cfg, config_text())
        wait_reports(w, 1)
        assert w.reports[0].first and (out / "manifest.json").exists()
    finally:
        w.stop()


def test_missing_image_or_config_exits_1(project):
    cfg, out = project
    o, e = Lines(), Lines()
    assert watch_command(WatchRequest(str(cfg), "chelsa", str(out)), o, e) == 1
    assert e.lines == ["Error: no image file or sample named 'chelsa' (did you mean 'chelsea'?); "
                       "'cnnviz samples' lists the samples"]
    assert o.lines == []
    assert not out.exists()
    o, e = Lines(), Lines()
    assert watch_command(WatchRequest(str(cfg.parent / "nope.yaml"), "camera", str(out)), o, e) == 1
    assert e.lines == [f"Error: config file not found: {cfg.parent / 'nope.yaml'}"]
    o, e = Lines(), Lines()
    assert watch_command(WatchRequest(str(cfg), "camera", str(out), overrides=["render.cmap=nope"]), o, e) == 1
    assert e.lines == ["Error: --set render.cmap=nope: render.cmap: unknown colormap 'nope' (did you mean 'copper'?)"]
    r = CliRunner().invoke(main, ["watch", str(cfg), str(cfg.parent / "missing.png"), "-o", str(out)])
    assert r.exit_code == 1
    assert r.output == f"Error: image file not found: {cfg.parent / 'missing.png'}\n"


def test_watch_command_stops_on_event(project):
    cfg, out = project
    stop = threading.Event()
    o, e = Lines(), Lines()
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(
        watch_command(WatchRequest(str(cfg), "camera", str(out), poll=True), o, e, stop_event=stop)))
    t.start()
    deadline = time.monotonic() + 10
    while not any(ln.startswith("watching") for ln in o.lines) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "(polling)" in o.lines[-1]
    save_atomic(cfg, config_text(count=3))
    while sum(ln.startswith("rendered") for ln in o.lines) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    t.join(10)
    assert result == [0] and sum(ln.startswith("rendered") for ln in o.lines) == 2


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_exits_cleanly(project, sig):
    cfg, out = project
    proc = subprocess.Popen([sys.executable, "-m", "cnnviz.cli", "watch", str(cfg), "camera", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cfg.parent)
    try:
        lines = []
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("watching"):
                break
        proc.send_signal(sig)
        rest, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and err == ""
    assert LINE.match(lines[0].rstrip("\n"))
    assert rest.strip() == "stopped"
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


# ---------------------------------------------------------------------------
# What is watched.


def test_referenced_files(tmp_path):
    data = {"stages": [{"type": "conv", "filters": [{"file": "a.npy"}, [[1]], {"file": "/abs/b.npz", "key": "k"}]},
                       "relu", {"type": "dense", "units": 2, "weights": {"file": "sub/w.npy"}}]}
    cfg = tmp_path / "c.yaml"
    assert referenced_files(cfg, data) == {str(tmp_path / "a.npy"), "/abs/b.npz", str(tmp_path / "sub" / "w.npy")}
    assert referenced_files(cfg, None) == set()


def test_dense_weights_file_is_watched(tmp_path):
    np.save(tmp_path / "w.npy", np.ones((3, 16 * 16), np.float32))
    cfg = tmp_path / "d.yaml"
    cfg.write_text("input: {color: gray, resize: 16}\nstages:\n  - {type: dense, units: 3, weights: {file: w.npy}}\n")
    w, _o, _e = start(cfg, tmp_path / "out")
    try:
        assert str(tmp_path / "w.npy") in w.watched
        np.save(tmp_path / "w.npy", np.full((3, 16 * 16), 2, np.float32))
        wait_reports(w, 2)
        assert w.reports[-1].computed == [1]
    finally:
        w.stop()


def test_image_file_is_watched(project):
    from PIL import Image

    cfg, out = project
    img = cfg.parent / "photo.png"
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(img)
    o, e = Lines(), Lines()
    w = Watcher(WatchRequest(str(cfg), str(img), str(out)), o, e, backend="polling").start()
    try:
        assert o.lines[-1] == f"watching {cfg}, 1 filter file and {img} (polling); press Ctrl-C to stop"
        assert manifest(out)["stages"][0]["max"] == 0
        tmp = cfg.parent / ".photo.tmp.png"
        Image.fromarray(np.tri(40, dtype=np.uint8) * 255).save(tmp)
        os.replace(tmp, img)
        wait_reports(w, 2)
        assert w.reports[-1].computed == [1, 2, 3, 4, 5]
        assert manifest(out)["stages"][0]["max"] > 0
        assert e.lines == []
    finally:
        w.stop()
