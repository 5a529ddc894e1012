"""Plain helpers shared by several test files: paths, comparisons, config, rendering, batch and watch set-ups."""

from __future__ import annotations

import os
import textwrap
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import cnnviz
from cnnviz.app.watch import Watcher, WatchRequest
from cnnviz.config import load_config
from cnnviz.errors import CnnvizError
from cnnviz.rendering.palette import LEVELS

# ---------------------------------------------------------------------------
# paths


ROOT = Path(__file__).resolve().parent.parent
NUMPYCNN = str(ROOT / "configs" / "numpycnn.yaml")


# ---------------------------------------------------------------------------
# numbers (tests/ops)


TOL: dict[Any, float] = {np.float32: 1e-4, np.float64: 1e-9}


def close(actual: np.ndarray, expected: np.ndarray, dtype: Any = np.float64) -> None:
    """Compare at rtol = atol = 1e-4 for float32 and 1e-9 for float64."""
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=TOL[dtype], atol=TOL[dtype])


# ---------------------------------------------------------------------------
# errors (tests/ops, tests/io)


def error_of(func, *args, **kwargs) -> CnnvizError:  # type: ignore[no-untyped-def]
    with pytest.raises(CnnvizError) as excinfo:
        func(*args, **kwargs)
    return excinfo.value


# ---------------------------------------------------------------------------
# configs in files (tests/config)


def write(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text).lstrip("\n"))
    return p


def errors_of(tmp_path: Path, text: str) -> list[str]:
    p = write(tmp_path, text)
    with pytest.raises(CnnvizError) as info:
        load_config(p)
    err = info.value
    prefix = str(p)
    lines = [str(e) for e in getattr(err, "errors", [err])]
    return [line.replace(prefix, "x.yaml") for line in lines]


def one_error(tmp_path: Path, text: str) -> str:
    errs = errors_of(tmp_path, text)
    assert len(errs) == 1, errs
    return errs[0]


# ---------------------------------------------------------------------------
# pictures (tests/rendering, tests/io)


def read_indexed(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A palette PNG -> (indices (H, W) uint8, palette (256, 3) uint8)."""
    with Image.open(path) as im:
        assert im.mode == "P"
        idx = np.asarray(im).copy()
        pal = np.array(im.getpalette(), np.uint8).reshape(-1, 3)
    return idx, pal


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


def expected_rgb(values: np.ndarray, lo: float, hi: float, cmap: str) -> np.ndarray:
    """Independent reference: quantise to LEVELS steps, then matplotlib's colormap."""
    from matplotlib import colormaps

    t = np.clip((values.astype(np.float64) - lo) / (hi - lo), 0, 1)
    t = np.round(t * (LEVELS - 1)) / (LEVELS - 1)
    return np.round(colormaps[cmap](t)[..., :3] * 255).astype(np.uint8)


def tile_pixels(rgb: np.ndarray, pic, j: int) -> np.ndarray:
    """The j-th tile of a grid picture, reduced back to map resolution."""
    top, left, bottom, right = pic.layout.tile_box(j)
    s = pic.layout.scale
    return rgb[top:bottom:s, left:right:s]


def smooth_maps(h: int, w: int, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((h, w, n)).cumsum(0).cumsum(1)
    return (x / np.abs(x).max()).astype(np.float32)


def small_run(stages: list, image: np.ndarray | None = None, render_opts: dict | None = None):
    config = cnnviz.load_config({"seed": 3, "stages": stages, "render": render_opts or {}})
    if image is None:
        image = np.random.default_rng(1).random((24, 30))
    x = cnnviz.load_image(image, config)
    return config, x, cnnviz.run(config, x)


# ---------------------------------------------------------------------------
# batch (tests/app/batch)


ALPHA = """\
name: alpha
input: {color: gray, resize: 64}
stages:
  - type: conv
    filters: [{preset: sobel_x}, {preset: sobel_y}]
  - relu
  - {type: pool, size: 2}
render: {cmap: gray}
"""


# no name: the folder is the file stem; a filter file (edited by a test); a vector stage
BETA = """\
input: {color: gray, resize: 64}
seed: 1
stages:
  - type: conv
    filters: [{file: k.npy}, {random: {count: 2, size: 3}}]
  - tanh
  - {type: global_pool, mode: max}
render: {cmap: RdBu_r, filters: false}
"""


def _png(path: Path, h: int, w: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    a = (np.sin(xx / 5.0 + seed) * np.cos(yy / 7.0) * 100 + 128 + rng.normal(0, 10, (h, w)))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(path)
    return path


def _require(env: str) -> bool:
    return os.environ.get(env) == "1"


# ---------------------------------------------------------------------------
# watch (tests/app/watch)


KERNELS = np.array([[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
                    [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]], dtype=np.float64)


def config_text(*, last: str = "relu", count: int = 2, cmap: str = "gray", name: str = "edges",
                kernels: str = "kernels.npy", seed: int = 0, resize: int = 64) -> str:
    return f"""\
input: {{color: gray, resize: {resize}}}
seed: {seed}
stages:
  - type: conv
    name: {name}
    padding: same
    filters:
      - {{file: {kernels}}}
      - [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
  - relu
  - {{type: pool, size: 2}}
  - type: conv
    filters: [{{random: {{count: {count}, size: 3}}}}]
  - {last}
render:
  cmap: {cmap}
"""


BAD = """\
input: {color: gray, resize: 64}
seed: 0
stages:
  - type: conv
    name: edges
    padding: same
    filters:
      - {file: kernels.npy}
  - reluu
  - {type: pool, size: 0}
"""


class Lines:
    """A text stream that keeps the lines written to it (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buf = ""

    def write(self, s: str) -> int:
        with self._lock:
            self._buf += s
        return len(s)

    def flush(self) -> None:
        pass

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return self._buf.splitlines()


def save_atomic(path: Path, text: str) -> None:
    """How most editors save: a temporary file in the same folder renamed over the original."""
    tmp = path.with_name(f".{path.name}.swp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def start(cfg: Path, out: Path, backend: str = "polling", **kw) -> tuple[Watcher, Lines, Lines]:
    o, e = Lines(), Lines()
    w = Watcher(WatchRequest(str(cfg), "camera", str(out), **kw), o, e, backend=backend)
    w.start()
    assert w.backend_name == backend
    return w, o, e


# ---------------------------------------------------------------------------
# the command line in this process (tests of error lines and exit codes)


def cli(*args: str, cwd: Path | None = None) -> Any:
    """``cnnviz ARGS`` through click's CliRunner (stderr kept apart), in ``cwd`` when given."""
    from click.testing import CliRunner

    from cnnviz.cli import main

    runner = CliRunner()
    if cwd is None:
        return runner.invoke(main, list(args))
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(main, list(args))
    finally:
        os.chdir(old)
