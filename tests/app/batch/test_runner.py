"""cnnviz batch: outputs, skips, --force, shared scale, failures, progress, dask."""

# The batches are small (two small stacks, images resized to 64 px) and run with ``-j 2`` through the
# command line (click's CliRunner); the dask path runs on a LocalCluster on 127.0.0.1 (skipped without
# dask, unless ``CNNVIZ_REQUIRE_EXTRAS=1``).

from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cnnviz.app.batch.contact_sheet import STAMP, THUMB_BOX
from cnnviz.app.batch.runner import BatchRequest, run_batch
from cnnviz.cli import Progress, main
from tests.helpers import ALPHA, _png, _require

OLD = 1_000_000_000  # a mtime (2001) that no render writes


def batch(*args: str):
    return CliRunner().invoke(main, ["batch", *args], catch_exceptions=False)


IMAGES = ("-i", "camera", "-i", "pics/a.png", "-i", "more/*.png")


def outputs(out: Path) -> dict[str, float]:
    """Every file batch wrote under OUT/<config>/<image>/, relative path -> mtime."""
    return {str(p.relative_to(out)): p.stat().st_mtime for p in sorted(out.glob("*/*/**/*"))
            if p.is_file() or p.is_symlink()}


def age(out: Path) -> None:
    """Set every output's mtime to OLD, so that a rewritten file shows."""
    for rel in outputs(out):
        os.utime(out / rel, (OLD, OLD))


def rewritten(out: Path) -> set[str]:
    """The output folders (``config/image``) in which some file was written since :func:`age`."""
    return {"/".join(Path(rel).parts[:2]) for rel, t in outputs(out).items() if t != OLD}


ALL = {f"{c}/{i}" for c in ("alpha", "beta") for i in ("camera", "a", "b")}


def test_batch_renders_skips_forces_and_follows_edits(project):
    out = project / "out"
    r = batch("alpha.yaml", "beta.yaml", *IMAGES, "-o", "out", "-j", "2")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("6 outputs: 6 rendered, 0 skipped (up to date), 0 failed")
    assert "contact sheet: out/index.html" in r.stdout and r.stderr == ""
    for folder in ALL:
        d = out / folder
        manifest = json.loads((d / "manifest.json").read_text())
        assert all((d / f).is_file() for f in manifest["files"]), folder
        assert (d / "00_input.png").is_file() and (d / STAMP).is_file()
        thumbs = sorted(p.name for p in (d / "thumbs").iterdir())
        assert thumbs == sorted(["00_input.png"] + [st["files"][0] for st in manifest["stages"]])
        for t in thumbs:  # every thumbnail the same size, whatever the image's and the stage's
            with Image.open(d / "thumbs" / t) as im:
                assert im.size == THUMB_BOX
    assert json.loads((out / "beta/a/manifest.json").read_text())["stages"][2]["output_shape"] == [1, 1, 3]

    age(out)  # second run: everything is up to date
    r = batch("alpha.yaml", "beta.yaml", *IMAGES, "-o", "out", "-j", "2")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("6 outputs: 0 rendered, 6 skipped (up to date), 0 failed")
    assert rewritten(out) == set()

    r = batch("alpha.yaml", "beta.yaml", *IMAGES, "-o", "out", "-j", "2", "--force")
    assert r.exit_code == 0 and "6 rendered, 0 skipped" in r.stdout
    assert rewritten(out) == ALL

    age(out)  # editing one config re-renders that config's items only
    (project / "alpha.yaml").write_text(ALPHA.replace("cmap: gray", "cmap: viridis"))
    r = batch("alpha.yaml", "beta.yaml", *IMAGES, "-o", "out", "-j", "2")
    assert r.exit_code == 0 and "3 rendered, 3 skipped" in r.stdout, r.output
    assert rewritten(out) == {f"alpha/{i}" for i in ("camera", "a", "b")}

    age(out)  # ... and so does editing a filter file it names
    np.save(project / "k.npy", np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]))
    r = batch("alpha.yaml", "beta.yaml", *IMAGES, "-o", "out", "-j", "2")
    assert r.exit_code == 0 and "3 rendered, 3 skipped" in r.stdout, r.output
    assert rewritten(out) == {f"beta/{i}" for i in ("camera", "a", "b")}

    age(out)  # ... and editing an image re-renders that image's items only
    _png(project / "more" / "b.png", 60, 40, seed=7)
    r = batch("alpha.yaml", "beta.yaml", *IMAGES, "-o", "out", "-j", "2")
    assert r.exit_code == 0 and "2 rendered, 4 skipped" in r.stdout, r.output
    assert rewritten(out) == {"alpha/b", "beta/b"}

    age(out)  # --set is part of the key
    r = batch("alpha.yaml", *IMAGES, "-o", "out", "-j", "2", "--set", "render.max_maps=1")
    assert r.exit_code == 0 and "3 rendered, 0 skipped" in r.stdout, r.output
    assert rewritten(out) == {f"alpha/{i}" for i in ("camera", "a", "b")}


def test_interrupted_or_damaged_output_is_rendered_again(project):
    out = project / "out"
    assert batch("alpha.yaml", "-i", "camera", "-i", "pics/a.png", "-o", "out", "-j", "1").exit_code == 0
    (out / "alpha/camera" / STAMP).unlink()  # as if the render had been interrupted
    (out / "alpha/a/03_pool1.png").unlink()  # a file listed in the manifest went missing
    age(out)
    r = batch("alpha.yaml", "-i", "camera", "-i", "pics/a.png", "-o", "out", "-j", "1")
    assert r.exit_code == 0 and "2 rendered, 0 skipped" in r.stdout, r.output
    assert rewritten(out) == {"alpha/camera", "alpha/a"}
    assert (out / "alpha/a/03_pool1.png").is_file()
    r = batch("alpha.yaml", "-i", "camera", "-o", "out", "-j", "1", "--save-arrays")  # part of the key
    assert r.exit_code == 0 and "1 rendered, 0 skipped" in r.stdout, r.output
    with np.load(out / "alpha/camera/activations.npz") as z:
        assert sorted(z.files) == ["01_conv1", "02_relu1", "03_pool1"]


def test_shared_scale_gives_every_image_the_same_range_per_stage(project):
    out = project / "out"
    r = batch("alpha.yaml", "beta.yaml", *IMAGES, "-o", "out", "-j", "2", "--shared-scale")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("6 outputs: 6 rendered")
    for config, centred in (("alpha", False), ("beta", True)):
        manifests = [json.loads((out / config / i / "manifest.json").read_text()) for i in ("camera", "a", "b")]
        n = len(manifests[0]["stages"])
        for s in range(n):
            stages = [m["stages"][s] for m in manifests]
            if stages[0]["output_shape"][:2] == [1, 1]:  # a vector: a bar chart, no colour scale
                assert all("color_range" not in st for st in stages)
                continue
            ranges = [st["color_range"] for st in stages]
            assert ranges[0] == ranges[1] == ranges[2], (config, s, ranges)
            lo, hi = min(st["min"] for st in stages), max(st["max"] for st in stages)
            if centred:  # RdBu_r is diverging: the shared range is centred on zero
                m = max(abs(lo), abs(hi))
                assert ranges[0] == pytest.approx([-m, m])
            else:
                assert ranges[0] == pytest.approx([lo, hi])
            assert lo < hi
        # the ranges are not each image's own ones: at least one image's range is narrower
        mins = [m["stages"][0]["min"] for m in manifests]
        maxs = [m["stages"][0]["max"] for m in manifests]
        assert len(set(mins)) > 1 or len(set(maxs)) > 1
    # the shared scale changes the picture (its colours and its colorbar's numbers), and only it is recorded
    with Image.open(out / "alpha/camera/01_conv1.png") as im:
        shared = np.asarray(im.convert("RGB"))
    r = batch("alpha.yaml", "-i", "camera", "-o", "plain", "-j", "1")
    with Image.open(project / "plain/alpha/camera/01_conv1.png") as im:
        plain = np.asarray(im.convert("RGB"))
    assert shared.shape != plain.shape or not np.array_equal(shared, plain)
    assert "color_range" not in (project / "plain/alpha/camera/manifest.json").read_text()
    # up to date the second time, and the first pass is skipped too
    age(out)
    r = batch("alpha.yaml", "beta.yaml", *IMAGES, "-o", "out", "-j", "2", "--shared-scale")
    assert r.exit_code == 0 and "0 rendered, 6 skipped" in r.stdout
    assert rewritten(out) == set()


def test_one_bad_image_does_not_stop_the_others(project):
    (project / "pics" / "x.png").write_text("this is not a picture\n")
    _png(project / "pics" / "thin.png", 1, 40)  # resized to 2×64: too small for a 3×3 kernel
    r = batch("alpha.yaml", "-i", "camera", "-i", "pics", "-o", "out", "-j", "2")
    assert r.exit_code == 1
    assert r.stdout.startswith("4 outputs: 2 rendered, 0 skipped (up to date), 2 failed")
    lines = r.stderr.splitlines()
    assert "Error: alpha × x: pics/x.png: not an image file cnnviz can read" in lines
    thin = [x for x in lines if x.startswith("Error: alpha × thin: ")]
    assert len(thin) == 1 and "conv1" in thin[0] and "2×64" in thin[0], lines
    assert len(lines) == 2
    for label in ("camera", "a"):
        assert (project / "out/alpha" / label / "manifest.json").is_file()
    assert not (project / "out/alpha/x").exists()
    page = (project / "out/index.html").read_text()
    assert "pics/x.png: not an image file cnnviz can read" in page


def test_invalid_config_and_empty_pattern_are_reported_and_the_rest_runs(project):
    (project / "broken.yaml").write_text("stages:\n  - type: konv\n")
    r = batch("alpha.yaml", "broken.yaml", "-i", "camera", "-i", "nowhere/*.png", "-i", "chelsa",
              "-o", "out", "-j", "2")
    assert r.exit_code == 1
    assert r.stdout.startswith("2 outputs: 1 rendered, 0 skipped (up to date), 1 failed")
    lines = r.stderr.splitlines()
    assert lines[0] == "Error: nowhere/*.png: no image file matches"
    assert lines[1].startswith("Error: no image file or sample named 'chelsa' (did you mean 'chelsea'?)")
    assert lines[2].startswith("Error: broken × all 1 image: broken.yaml:2:11: stages[0].type: ")
    assert "konv" in lines[2] and len(lines) == 3
    assert (project / "out/alpha/camera/manifest.json").is_file()
    assert not (project / "out/broken").exists()
    r = batch("broken.yaml", "-i", "nowhere.png", "-o", "out")  # nothing to run, every problem still reported
    assert r.exit_code == 1 and r.stdout.startswith("0 outputs:")
    assert r.stderr.splitlines()[0] == "Error: image file not found: nowhere.png"
    assert r.stderr.splitlines()[1].startswith("Error: broken: broken.yaml:2:11: stages[0].type: ")






def test_missing_dask_is_one_clear_line(project, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    r = batch("alpha.yaml", "-i", "camera", "-o", "out", "--scheduler", "tcp://127.0.0.1:1")
    assert r.exit_code == 1
    assert r.stderr.strip() == ("Error: --scheduler needs dask.distributed, which is not installed; "
                                "install it with: pip install 'cnnviz[dask]'")


# ---------------------------------------------------------------------------
# dask


def test_batch_on_a_dask_local_cluster(project):
    try:
        from distributed import LocalCluster
    except ImportError:
        if _require("CNNVIZ_REQUIRE_EXTRAS"):
            raise
        pytest.skip("dask.distributed is not installed")
    t0 = time.monotonic()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        r = batch("alpha.yaml", "beta.yaml", "-i", "camera", "-i", "pics/a.png", "-o", "out",
                  "--scheduler", cluster.scheduler_address)
        assert r.exit_code == 0, r.output
        assert r.stdout.startswith("4 outputs: 4 rendered")
        for c in ("alpha", "beta"):
            for i in ("camera", "a"):
                d = project / "out" / c / i
                assert (d / STAMP).is_file() and (d / "manifest.json").is_file()
        # the same stamps as a local run: up to date
        r = batch("alpha.yaml", "beta.yaml", "-i", "camera", "-i", "pics/a.png", "-o", "out", "-j", "2")
        assert "0 rendered, 4 skipped" in r.stdout
        r = batch("alpha.yaml", "-i", "camera", "-i", "pics/a.png", "-o", "out", "--shared-scale",
                  "--scheduler", cluster.scheduler_address)
        assert r.exit_code == 0 and r.stdout.startswith("2 outputs: 2 rendered"), r.output
    assert time.monotonic() - t0 < 60


def test_progress_bar_only_on_a_terminal(project):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    bar = Progress(tty)
    report = run_batch(BatchRequest(["alpha.yaml"], ["camera", "pics/a.png"], "out", jobs=2), progress=bar.update)
    bar.close()
    assert report.rendered == 2 and not report.failed
    text = tty.getvalue()
    assert text.count("\r") >= 2 and text.endswith("\n")
    last = text.rstrip("\n").split("\r")[-1]
    assert "2/2" in last and "/s" in last and " in 0:0" in last
    assert "ETA" in text.split("\r")[1]
    bar = Progress(pipe)
    report = run_batch(BatchRequest(["alpha.yaml"], ["camera", "pics/a.png"], "out", jobs=2, force=True),
                       progress=bar.update)
    bar.close()
    assert report.rendered == 2 and pipe.getvalue() == ""
    bar = Progress(Tty())
    bar.start -= 2.0
    bar.done, bar.total = 2, 4
    assert "2/4" in bar.line() and "1.00/s" in bar.line() and "ETA 0:02" in bar.line()
