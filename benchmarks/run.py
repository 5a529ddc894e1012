#!/usr/bin/env python
"""cnnviz benchmarks: speed and memory side by side with the tools it replaces.

    python benchmarks/run.py                 # full run (several minutes), prints the tables
    python benchmarks/run.py --quick         # CI smoke mode: every row once, small sizes, < 1 min
    python benchmarks/run.py --json out.json --markdown out.md
    python benchmarks/run.py --rows 1,4      # some rows only
    python benchmarks/run.py --profile       # also cProfile cnnviz.run on rows 1-3 (and row 6's run)

Rows (issue 4):

1. NumPyCNN's stack on ``chelsea`` (gray 300×451): cnnviz (``cnnviz.run`` on a
   config dict, and the array operations directly) vs NumPyCNN's Python loops,
   NumPy ``sliding_window_view`` + ``tensordot``, ``scipy.ndimage.correlate``
   and PyTorch CPU.
2. gray 1024×1024, conv 16×3×3 → relu → pool → conv 32×3×3 → relu → pool →
   conv 64×5×5: cnnviz vs PyTorch, tensordot, ``scipy.signal.correlate2d``;
   GFLOP/s per conv stage against this machine's float32 matmul peak.
3. the same stack on RGB 2048×2048: times, per-stage GFLOP/s, and the peak
   memory of fresh processes that keep every stage's output (and that stream).
4. one grid of 64 maps of 256×256 to PNG: cnnviz's renderer vs matplotlib
   ``subplots`` + ``imshow`` (and a composed array saved by Pillow).
5. whole processes: ``cnnviz --help`` and ``cnnviz run configs/numpycnn.yaml
   chelsea`` vs ``python -c pass`` (and ``import numpy``, ``import matplotlib.pyplot``);
   whether that ``cnnviz run`` imports matplotlib at all (``-X importtime``).
6. a big stage (issue 10): ``cnnviz run configs/edges.yaml camera --set
   input.resize=1536`` vs a bare dump (``bare_dump.py``: ``cnnviz.run``, then one
   plain grey Pillow PNG of tiled maps per stage), both as whole processes.

Method: candidates of a row are timed interleaved (each round calls each
candidate once, in a rotated order) after one untimed warm-up call, and the
figure is the median over rounds; ratios compare medians from the same run.
Before any reference is timed its outputs (every stage) are compared with
cnnviz's: a reference that disagrees (max |diff| / max |cnnviz| > 1e-4) is
not timed and the run exits with status 1.  PyTorch is optional: without it
its rows say "skipped".  No timing is asserted anywhere: the exit status is
0 whether or not a target is met.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")
if "--no-hugepages" in sys.argv[1:]:
    # Must be set before NumPy is imported (and is inherited by every child process).
    os.environ["NUMPY_MADVISE_HUGEPAGE"] = "0"

import harness as H  # noqa: E402
import numpy as np  # noqa: E402
import references as R  # noqa: E402
import stacks as S  # noqa: E402

TOLERANCE = 1e-4
GiB = 1 << 30


class Mismatch(Exception):
    """A reference does not compute what cnnviz computes."""


class Bench:
    """Run-wide settings, the log and the collected results."""

    def __init__(self, quick: bool, repeats: int | None, verbose: bool, wait_idle: float = 0) -> None:
        self.quick = quick
        self.wait_idle = wait_idle
        self.waited = 0.0
        self.repeats = repeats
        self.verbose = verbose
        self.rows: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.matmul: dict[str, Any] | None = None
        ok, info = R.torch_available()
        self.torch = R.torch_setup() if ok else None
        self.torch_note = info
        self.tmp = Path(tempfile.mkdtemp(prefix="cnnviz-bench-"))

    def reps(self, full: int) -> int:
        """Rounds for a measurement: ``full`` in full mode, 1 in quick mode, or --repeats."""
        if self.repeats:
            return self.repeats
        return 1 if self.quick else full

    def settle(self) -> None:
        """Before a round: with --wait-idle, wait (≤ 1/10 of its budget) for other processes to go quiet."""
        if self.wait_idle:
            self.waited += H.wait_idle(self.wait_idle / 10, threshold=0.1, quiet_for=2, sample=0.5)

    def log(self, msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    def vlog(self, msg: str) -> None:
        if self.verbose:
            self.log(msg)

    def check(self, row: dict, name: str, outs: list, ref: list, tol: float = TOLERANCE) -> bool:
        """Compare a candidate's stage outputs with cnnviz's; record the error; False on mismatch."""
        try:
            err = H.max_rel_error(outs, ref)
        except AssertionError as e:
            err, detail = float("inf"), str(e)
        else:
            detail = ""
        row.setdefault("checks", {})[name] = err
        if not err <= tol:
            msg = f"row {row['id']}: {name} disagrees with cnnviz (max rel. error {err:.2e} > {tol:g}) {detail}"
            self.failures.append(msg)
            row["notes"].append("MISMATCH — not timed: " + msg)
            self.log("  " + msg)
            return False
        self.vlog(f"  check {name}: max rel. error {err:.1e}")
        return True


def new_row(rid: int, key: str, title: str) -> dict[str, Any]:
    return {"id": rid, "key": key, "title": title, "candidates": [], "stages": [], "targets": [],
            "notes": [], "memory": [], "checks": {}, "error": None}


def add_candidate(row: dict, name: str, times: list[float] | None, *, flops: float | None = None,
                  note: str = "", base: str | None = None, kernel: list | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "times": times, "note": note, "median": None, "best": None}
    if kernel:
        c["page_faults"] = H.median([k[0] for k in kernel])
        c["sys_seconds"] = H.median([k[1] for k in kernel])
    if times:
        c["median"] = H.median(times)
        c["best"] = min(times)
        c["rounds"] = len(times)
        if flops:
            c["gflops"] = flops / c["median"] / 1e9
    row["candidates"].append(c)
    return c


def finish_ratios(row: dict, base: str) -> None:
    """ratio = candidate median ÷ ``base`` median (> 1: the candidate is slower than cnnviz)."""
    b = next((c for c in row["candidates"] if c["name"] == base), None)
    row["ratio_base"] = base
    for c in row["candidates"]:
        c["ratio"] = c["median"] / b["median"] if b and b["median"] and c["median"] else None


def median_of(row: dict, name: str) -> float | None:
    c = next((c for c in row["candidates"] if c["name"] == name), None)
    return c["median"] if c else None


def best_of(row: dict, name: str) -> float:
    """Best (smallest) time of a candidate; NaN if it was not timed."""
    c = next((c for c in row["candidates"] if c["name"] == name), None)
    return float(c["best"]) if c and c["best"] else float("nan")


def target(row: dict, text: str, value: float | None, ok: bool | None, shown: str, note: str = "") -> None:
    row["targets"].append({"target": text, "value": value, "met": ok, "measured": shown, "note": note})


# ---------------------------------------------------------------------------
# Helpers shared by rows 1-3


def ops_stack(stack: list[tuple]) -> Callable[[np.ndarray], list[np.ndarray]]:
    """The stack through cnnviz.operations directly (no config, no planning)."""
    from cnnviz import ops

    def conv(x: np.ndarray, k: np.ndarray) -> np.ndarray:
        return ops.conv2d(x, k)

    def pool(x: np.ndarray, size: int) -> np.ndarray:
        return ops.pool2d(x, mode="max", size=(size, size))

    return lambda x: R.run_stack(x, stack, conv, ops.relu, pool)


def run_recorder(cfg: Any, img: np.ndarray, sink: list) -> Callable[[], list]:
    """``cnnviz.run(cfg, img)``, remembering each call's per-stage seconds."""
    import cnnviz

    def call() -> list:
        t0 = time.perf_counter()
        layers = cnnviz.run(cfg, img)
        total = time.perf_counter() - t0
        sink.append([la.seconds for la in layers] + [total])
        return layers

    return call


def stage_breakdown(row: dict, planned: list, sink: list, total: float | None) -> None:
    """Median seconds per stage inside cnnviz.run, and what the run spends outside the stages."""
    if not sink or total is None:
        return
    base = next((c for c in row["candidates"] if c["name"].startswith("cnnviz.run")), None)
    rounds = len(base["times"] or []) if base else 0
    runs = np.array(sink[-rounds:] if rounds else sink)  # per run: stage seconds..., total
    per = np.median(runs[:, :-1], axis=0)
    outside = runs[:, -1] - runs[:, :-1].sum(axis=1)
    row["run_breakdown"] = {
        "stages": [{"name": ps.name, "type": ps.type, "seconds": float(s)} for ps, s in zip(planned, per)],
        "outside_stages": float(np.median(outside)),
        "total": total,
    }


def scipy_note() -> str | None:
    """None when SciPy imports, else why not (SciPy comes with the [bench] and [test] extras)."""
    try:
        import scipy.ndimage
        import scipy.signal  # noqa: F401
    except Exception as e:
        return f"scipy not importable ({type(e).__name__}: {e})"
    return None


def add_torch(b: Any, row: dict, cands: dict, img: np.ndarray, stack: Any, ref: list) -> None:
    """Add PyTorch's stack to ``cands`` once its outputs agree with ``ref`` (or note that it is skipped)."""
    if b.torch is None:
        row["notes"].append(f"PyTorch skipped: {b.torch_note}")
        return
    xt, tstack = R.to_torch(img), R.torch_kernels(stack)
    fn = lambda: R.torch_stack(xt, tstack)  # noqa: E731
    if b.check(row, "PyTorch CPU float32", torch_outs(fn()), ref):
        cands["PyTorch CPU float32"] = fn


def torch_outs(ts: list) -> list[np.ndarray]:
    return [R.from_torch(t) for t in ts]


def time_stages(b: Bench, row: dict, stack: list[tuple], inputs: list[np.ndarray], flops: list[int],
                repeats: int, with_tensordot: bool = True) -> None:
    """GFLOP/s of every conv stage alone: cnnviz.operations.conv2d, torch conv2d, tensordot."""
    from cnnviz import ops

    def bind(fn: Callable[[Any, Any], Any], a: Any, k: Any) -> Callable[[], Any]:
        return lambda: fn(a, k)

    torch = b.torch
    convs = [st for st in stack if st[0] == "conv"]
    for i, (st, x, fl) in enumerate(zip(convs, inputs, flops)):
        k = st[1]
        cands: dict[str, Callable[[], Any]] = {"cnnviz": bind(ops.conv2d, x, k)}
        if torch is not None:
            kt = torch.from_numpy(np.ascontiguousarray(k.transpose(0, 3, 1, 2)))

            def tconv(a: Any, kk: Any) -> Any:
                with torch.inference_mode():
                    return R.torch_conv(a, kk)

            cands["torch"] = bind(tconv, R.to_torch(x), kt)
        if with_tensordot:
            cands["tensordot"] = bind(R.tensordot_conv, x, k)
        b.vlog(f"  stage conv{i + 1} {x.shape} x {k.shape}")
        times = H.interleaved(cands, repeats, log=b.vlog, before_round=b.settle)
        n, kh, kw, c = k.shape
        entry: dict[str, Any] = {
            "stage": f"conv{i + 1}",
            "input": list(x.shape),
            "kernels": [n, kh, kw, c],
            "gflop": fl / 1e9,
        }
        for name, ts in times.items():
            med = H.median(ts)
            entry[name] = {"median": med, "best": min(ts), "gflops": fl / med / 1e9}
        row["stages"].append(entry)


# ---------------------------------------------------------------------------
# Row 0: the machine's matrix-multiply peak


def matmul_peak(b: Bench) -> dict[str, Any]:
    n = 1024 if b.quick else 2048
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    c = rng.random((n, n), dtype=np.float32)
    times = H.interleaved({"matmul": lambda: a @ c}, b.reps(15), warmup=2, before_round=b.settle)["matmul"]
    flop = 2 * n**3
    res = {"n": n, "median": H.median(times), "best": min(times), "times": times,
           "gflops_median": flop / H.median(times) / 1e9, "gflops_best": flop / min(times) / 1e9}
    b.matmul = res
    return res


# ---------------------------------------------------------------------------
# Row 1


def row_numpycnn(b: Bench) -> dict[str, Any]:
    import cnnviz
    import cnnviz.pipeline as P

    row = new_row(1, "numpycnn", "")
    cfg = S.numpycnn_config()
    config = cnnviz.load_config(cfg)
    img = cnnviz.load_image("chelsea", config)
    if b.quick:
        img = np.ascontiguousarray(img[:120, :180])
    h, w, c = img.shape
    row["title"] = f"NumPyCNN's stack on chelsea, gray {h}×{w} (configs/numpycnn.yaml)"
    planned = P.plan(config, img.shape)
    stack = S.stack_from_plan(planned)
    flops = R.conv_flops(stack, img.shape)
    row["gflop"] = sum(flops) / 1e9

    sink: list = []
    ops_fn = ops_stack(stack)
    cands: dict[str, Callable[[], Any]] = {
        "cnnviz.run (config dict)": run_recorder(cfg, img, sink),
        "cnnviz operations": lambda: ops_fn(img),
    }
    ref = [la.output for la in cnnviz.run(cfg, img)]
    if not b.check(row, "cnnviz operations", ops_fn(img), ref):
        del cands["cnnviz operations"]
    refs: dict[str, Callable[[], Any]] = {
        "NumPy sliding_window_view + tensordot": lambda: R.tensordot_stack(img, stack),
    }
    if scipy_note() is None:
        refs["scipy.ndimage.correlate"] = lambda: R.ndimage_stack(img, stack)
    else:
        row["notes"].append(f"scipy.ndimage skipped: {scipy_note()}")
    for name, fn in refs.items():
        if b.check(row, name, fn(), ref):
            cands[name] = fn
    add_torch(b, row, cands, img, stack, ref)

    # The loop reference: checked on a crop first (it takes seconds), then timed on its own.
    crop = np.ascontiguousarray(img[:64, :80])
    loop_ok = b.check(row, "NumPyCNN loops", R.loop_stack(crop, stack), [la.output for la in cnnviz.run(cfg, crop)])

    b.log(f"  timing {len(cands)} candidates x {b.reps(21)} rounds")
    kern: dict[str, list] = {}
    times = H.interleaved(cands, b.reps(21), log=b.vlog, before_round=b.settle, kernel=kern)
    loop_times = None
    if loop_ok:
        n_loop = b.reps(3)
        b.log(f"  timing NumPyCNN loops x {n_loop} (the full stack, not extrapolated)")
        loop_times = []
        for _ in range(n_loop):
            b.settle()
            dt, outs = H.timed(lambda: R.loop_stack(img, stack))
            loop_times.append(dt)
        b.check(row, "NumPyCNN loops (full image)", outs, ref)
    for name, ts in times.items():
        add_candidate(row, name, ts, flops=sum(flops), kernel=kern.get(name))
    if loop_ok:
        add_candidate(row, "NumPyCNN loops (Python, float64)", loop_times, flops=sum(flops),
                      note="full stack timed, no extrapolation")
    finish_ratios(row, "cnnviz.run (config dict)")
    stage_breakdown(row, planned, sink, median_of(row, "cnnviz.run (config dict)"))

    run_t = median_of(row, "cnnviz.run (config dict)")
    ops_t = median_of(row, "cnnviz operations")
    loop_t = median_of(row, "NumPyCNN loops (Python, float64)")
    torch_t = median_of(row, "PyTorch CPU float32")
    if loop_t and run_t:
        r = loop_t / run_t
        extra = f"; operations alone {loop_t / ops_t:.0f}×" if ops_t else ""
        extra += f"; best-of runs {best_of(row, 'NumPyCNN loops (Python, float64)') / best_of(row, 'cnnviz.run (config dict)'):.0f}×"
        target(row, "≥ 400× faster than NumPyCNN's loops", r, r >= 400, f"{r:.0f}× faster{extra}")
    if torch_t and run_t:
        r = run_t / torch_t
        extra = f"; operations alone {ops_t / torch_t:.2f}×" if ops_t else ""
        extra += f"; best-of runs {best_of(row, 'cnnviz.run (config dict)') / best_of(row, 'PyTorch CPU float32'):.2f}×"
        target(row, "within 1.5× of PyTorch", r, r <= 1.5, f"cnnviz ÷ torch = {r:.2f}×{extra}")
    else:
        target(row, "within 1.5× of PyTorch", None, None, "skipped (no torch)")
    return row


# ---------------------------------------------------------------------------
# Rows 2 and 3


def row_deep(b: Bench, rid: int, channels: int) -> dict[str, Any]:
    import cnnviz
    import cnnviz.pipeline as P

    color = "rgb" if channels == 3 else "gray"
    size = (128 if channels == 1 else 192) if b.quick else (1024 if channels == 1 else 2048)
    row = new_row(rid, f"deep_{color}", "")
    row["title"] = (f"{'RGB' if channels == 3 else 'gray'} {size}×{size}: conv 16×3×3 → relu → pool 2 → "
                    f"conv 32×3×3 → relu → pool 2 → conv 64×5×5")
    cfg = S.spec_config(S.DEEP_SPEC, color)
    config = cnnviz.load_config(cfg)
    img = S.random_image(size, size, channels)
    planned = P.plan(config, img.shape)
    stack = S.stack_from_plan(planned)
    flops = R.conv_flops(stack, img.shape)
    row["gflop"] = sum(flops) / 1e9

    sink: list = []
    base = "cnnviz.run (config dict)"
    cands: dict[str, Callable[[], Any]] = {base: run_recorder(cfg, img, sink)}
    ref = [la.output for la in cnnviz.run(cfg, img)]
    add_torch(b, row, cands, img, stack, ref)
    td = lambda: R.tensordot_stack(img, stack)  # noqa: E731
    if b.check(row, "NumPy sliding_window_view + tensordot", td(), ref):
        cands["NumPy sliding_window_view + tensordot"] = td

    rounds = b.reps(9 if channels == 1 else 5)
    b.log(f"  timing {len(cands)} candidates x {rounds} rounds")
    kern: dict[str, list] = {}
    times = H.interleaved(cands, rounds, log=b.vlog, before_round=b.settle, kernel=kern)
    for name, ts in times.items():
        add_candidate(row, name, ts, flops=sum(flops), kernel=kern.get(name))

    if channels == 1 and scipy_note() is not None:
        row["notes"].append(f"scipy.signal skipped: {scipy_note()}")
    elif channels == 1:
        # scipy.signal.correlate2d: checked on a crop, then the whole stack timed once (≈ 14 s).
        crop = np.ascontiguousarray(img[:48, :48])
        if b.check(row, "scipy.signal.correlate2d", R.signal_stack(crop, stack),
                   [la.output for la in cnnviz.run(cfg, crop)]):
            b.log("  timing scipy.signal.correlate2d once (the full stack, not extrapolated)")
            b.settle()
            dt, outs = H.timed(lambda: R.signal_stack(img, stack))
            b.check(row, "scipy.signal.correlate2d (full image)", outs, ref)
            add_candidate(row, "scipy.signal.correlate2d", [dt], flops=sum(flops),
                          note="timed once (full stack, no extrapolation)")
    finish_ratios(row, base)
    stage_breakdown(row, planned, sink, median_of(row, base))

    # Per-stage GFLOP/s: each conv alone, on cnnviz's own input for that stage.
    conv_at = [i for i, st in enumerate(stack) if st[0] == "conv"]
    inputs = [img if i == 0 else ref[i - 1] for i in conv_at]
    b.log("  timing each conv stage alone")
    time_stages(b, row, stack, inputs, flops, b.reps(7 if channels == 1 else 5))

    # Targets.
    run_t, torch_t = median_of(row, base), median_of(row, "PyTorch CPU float32")
    limit = 1.5 if channels == 1 else 1.2
    if torch_t and run_t:
        r = run_t / torch_t
        rb = best_of(row, base) / best_of(row, "PyTorch CPU float32")
        target(row, f"within {limit}× of PyTorch", r, r <= limit, f"cnnviz ÷ torch = {r:.2f}×; best-of runs {rb:.2f}×")
    else:
        target(row, f"within {limit}× of PyTorch", None, None, "skipped (no torch)")

    if channels == 3:
        memory_rows(b, row, size, channels)
    return row


def memory_rows(b: Bench, row: dict, size: int, channels: int) -> None:
    names = ["cnnviz-keep", "cnnviz-stream", "tensordot-keep"]
    if b.torch is not None:
        names[2:2] = ["torch-keep", "torch-stream"]
    b.log(f"  peak memory, one fresh process each: {', '.join(names)}")
    res = {}
    for n in names:
        b.settle()
        res[n] = H.measure_memory(n, size, size, channels)
    for n in names:
        r = res[n]
        r.setdefault("candidate", n)
        row["memory"].append(r)
        if "error" in r:
            b.failures.append(f"row 3 memory {n}: {r['error']}")
    keep, stream, tkeep = (res.get(n, {}).get("delta") for n in ("cnnviz-keep", "cnnviz-stream", "torch-keep"))
    scale = " (quick sizes: verdict not meaningful)" if b.quick else ""
    if keep and tkeep:
        target(row, "peak memory keeping every stage ≤ PyTorch's", keep / tkeep, keep <= tkeep,
               f"cnnviz {H.fmt_bytes(keep)} vs torch {H.fmt_bytes(tkeep)} ({keep / tkeep:.2f}×){scale}")
    elif keep:
        target(row, "peak memory keeping every stage ≤ PyTorch's", None, None,
               f"cnnviz {H.fmt_bytes(keep)}; torch skipped")
    if stream:
        target(row, "streaming peak memory < 0.6 GiB", stream / GiB, stream < 0.6 * GiB,
               f"{H.fmt_bytes(stream)}{scale}")


# ---------------------------------------------------------------------------
# Row 4


def grid_maps(size: int, n: int) -> np.ndarray:
    """``n`` realistic feature maps of ``size``²: skimage's camera through random 3×3 kernels."""
    from skimage import data

    from cnnviz import ops

    cam = data.camera().astype(np.float32) / 255
    step = max(1, cam.shape[0] // size)
    img = np.ascontiguousarray(cam[::step, ::step][:size, :size, None])
    k = np.random.default_rng(3).standard_normal((n, 3, 3, 1)).astype(np.float32)
    return ops.conv2d(img, k, padding="same")


def cnnviz_grid_writer() -> tuple[Callable[[np.ndarray, Path], Any] | None, str]:
    """cnnviz's "one grid of maps to PNG": ``render_grid`` then ``write_png``."""
    from cnnviz.io.pngio import write_png
    from cnnviz.rendering.grid import render_grid

    def write(maps: np.ndarray, path: Path) -> Any:
        pic = render_grid(maps, title=f"bench · {maps.shape[2]} maps", cmap="gray")
        write_png(path, pic.pixels, pic.palette)
        return pic

    return write, "cnnviz.rendering.grid.render_grid + cnnviz.io.pngio.write_png (palette PNG)"


def row_grid(b: Bench) -> dict[str, Any]:
    from PIL import Image

    size, n = (64, 16) if b.quick else (256, 64)
    row = new_row(4, "grid", f"one grid of {n} maps of {size}×{size} to PNG")
    maps = grid_maps(size, n)
    out = b.tmp / "grid"
    out.mkdir(exist_ok=True)
    write, how = cnnviz_grid_writer()
    row["notes"].append(f"cnnviz: {how}")
    cands: dict[str, Callable[[], Any]] = {}
    ref01 = R.normalize_per_map(maps.astype(np.float64))
    base = "cnnviz renderer"
    if write is not None:
        pic = write(maps, out / "cnnviz.png")
        if hasattr(pic, "layout"):
            im = Image.open(out / "cnnviz.png")
            idx = np.asarray(im)
            pal = np.asarray((im.getpalette() or [])[: 256 * 3], np.uint8).reshape(-1, 3)
            s = pic.layout.scale
            tiles = []
            for j in range(len(pic.indices)):
                top, left, bottom, right = pic.layout.tile_box(j)
                tiles.append(pal[idx[top:bottom:s, left:right:s]][..., 0].astype(np.float64) / 255)
            got = np.stack(tiles, axis=2)
            err = float(np.abs(got - ref01[:, :, pic.indices]).max())
            row["checks"]["cnnviz renderer"] = err * 255
            if err * 255 > 2.0:
                b.failures.append(f"row 4: cnnviz grid tiles differ from the maps by {err * 255:.1f} gray levels")
        cands[base] = lambda: write(maps, out / "cnnviz.png")
    else:
        row["notes"].append("TODO: cnnviz grid row not measured (no grid API)")
    composed = R.pillow_grid(maps, out / "pillow.png")
    back = np.asarray(Image.open(out / "pillow.png"), np.float64) / 255
    err = float(np.abs(back[:size, :size] - ref01[:, :, 0]).max()) * 255
    row["checks"]["one composed array + Pillow 'L' PNG"] = err
    assert composed.shape == back.shape
    cands["one composed array + Pillow 'L' PNG"] = lambda: R.pillow_grid(maps, out / "pillow.png")
    fig = R.matplotlib_grid(maps, out / "mpl.png")
    same = all(np.array_equal(np.asarray(ax.images[0].get_array()), maps[:, :, i])
               for i, ax in enumerate(fig.axes[:n]))
    row["checks"]["matplotlib subplots + imshow + savefig"] = 0.0 if same else float("inf")
    if not same:
        b.failures.append("row 4: matplotlib reference does not show the maps")
    cands["matplotlib subplots + imshow + savefig"] = lambda: R.matplotlib_grid(maps, out / "mpl.png")

    rounds = b.reps(9)
    b.log(f"  timing {len(cands)} candidates x {rounds} rounds")
    kern: dict[str, list] = {}
    times = H.interleaved(cands, rounds, log=b.vlog, before_round=b.settle, kernel=kern)
    for name, ts in times.items():
        add_candidate(row, name, ts, kernel=kern.get(name))
    for name, fname in ((base, "cnnviz.png"), ("one composed array + Pillow 'L' PNG", "pillow.png"),
                        ("matplotlib subplots + imshow + savefig", "mpl.png")):
        c = next((c for c in row["candidates"] if c["name"] == name), None)
        if c and (out / fname).exists():
            with Image.open(out / fname) as im:
                c["note"] = f"{im.size[0]}×{im.size[1]} {im.mode}, {(out / fname).stat().st_size / 1e6:.2f} MB"
    finish_ratios(row, base)
    t = median_of(row, base)
    mpl = median_of(row, "matplotlib subplots + imshow + savefig")
    if t:
        target(row, "under 0.1 s", t, t < 0.1, f"{H.fmt_time(t)}; best {H.fmt_time(best_of(row, base))}")
        if mpl:
            rb = best_of(row, "matplotlib subplots + imshow + savefig") / best_of(row, base)
            target(row, "≥ 9× faster than matplotlib", mpl / t, mpl / t >= 9,
                   f"{mpl / t:.1f}× faster; best-of runs {rb:.1f}×")
    else:
        target(row, "under 0.1 s", None, None, "TODO: grid API missing")
    return row


# ---------------------------------------------------------------------------
# Row 5


def cnnviz_command() -> list[str]:
    """The installed ``cnnviz`` console script next to this interpreter (not a shell shim)."""
    beside = Path(sys.executable).parent / "cnnviz"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("cnnviz")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from cnnviz.cli import main; sys.exit(main())"]


def process_env(b: Bench, row: dict) -> dict[str, str]:
    """The environment of the timed processes (rows 5 and 6): ``MPLBACKEND=Agg``, and up-to-date bytecode.

    With ``PYTHONDONTWRITEBYTECODE`` set, a module edited since its ``.pyc`` was written is
    compiled again in every process (the working tree's stale bytecode, not what an installed
    package costs).  Then the processes write their bytecode under this run's temporary folder
    instead (``PYTHONPYCACHEPREFIX``; the warm-up call writes it), and nothing in the tree changes.
    """
    env = dict(os.environ, MPLBACKEND="Agg")
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        env["PYTHONPYCACHEPREFIX"] = str(b.tmp / "pycache")
        row["notes"].append("PYTHONDONTWRITEBYTECODE was set: the processes keep their bytecode under the run's "
                            "temporary folder (PYTHONPYCACHEPREFIX), so no module is compiled again in a timed round")
    return env


#: What any PNG run has to import: the floor under row 5's cnnviz run.
UNAVOIDABLE_IMPORTS = "import numpy, PIL.Image, PIL.PngImagePlugin, PIL.ImageFont, yaml, click"
UNAVOIDABLE = f"python -c '{UNAVOIDABLE_IMPORTS}'"


def row_process(b: Bench) -> dict[str, Any]:
    row = new_row(5, "process", "whole process, wall time (subprocess)")
    py = sys.executable
    exe = cnnviz_command()
    row["notes"].append(f"cnnviz command: {' '.join(exe)}")
    runs = b.tmp / "runs"
    runs.mkdir(exist_ok=True)
    counter = iter(range(10**6))
    last_out: list[Path] = []

    def run_argv() -> list[str]:
        d = runs / f"out{next(counter)}"
        last_out.append(d)
        return exe + ["run", str(S.NUMPYCNN_YAML), "chelsea", "-o", str(d)]

    cmds: dict[str, Callable[[], list[str]]] = {
        "python -c pass": lambda: [py, "-c", "pass"],
        "python -c 'import numpy'": lambda: [py, "-c", "import numpy"],
        "python -c 'import matplotlib.pyplot'": lambda: [py, "-c", "import matplotlib.pyplot"],
        UNAVOIDABLE: lambda: [py, "-c", UNAVOIDABLE_IMPORTS],
        "cnnviz --help": lambda: exe + ["--help"],
        "cnnviz run configs/numpycnn.yaml chelsea": run_argv,
    }
    env = process_env(b, row)
    rounds = b.reps(15)
    b.log(f"  timing {len(cmds)} commands x {rounds} rounds")
    times, errors = H.command_times(cmds, rounds, env=env, cwd=b.tmp, warmup=0 if b.quick else 1,
                                    before_round=b.settle)
    for name, err in errors.items():
        b.failures.append(f"row 5: {name}: {err}")
        row["notes"].append(f"FAILED {name}: {err}")
    for name, ts in times.items():
        add_candidate(row, name, ts)
    if last_out and last_out[-1].exists():
        files = sorted(p.name for p in last_out[-1].iterdir())
        c = next(c for c in row["candidates"] if c["name"].startswith("cnnviz run"))
        c["note"] = f"{len(files)} files written ({sum(f.endswith('.png') for f in files)} PNG)"
    finish_ratios(row, "python -c pass")
    h = median_of(row, "cnnviz --help")
    r = median_of(row, "cnnviz run configs/numpycnn.yaml chelsea")
    if h:
        target(row, "cnnviz --help under 0.15 s", h, h < 0.15 and "cnnviz --help" not in errors,
               f"{H.fmt_time(h)}; best {H.fmt_time(best_of(row, 'cnnviz --help'))}")
    run_ok = not any(k.startswith("cnnviz run") for k in errors)
    if r:
        target(row, "cnnviz run numpycnn chelsea under 1.0 s", r, r < 1.0 and run_ok,
               f"{H.fmt_time(r)}; best {H.fmt_time(best_of(row, 'cnnviz run configs/numpycnn.yaml chelsea'))}")
    mpl = median_of(row, "python -c 'import matplotlib.pyplot'")
    if r and mpl:
        q = r / mpl
        qb = best_of(row, "cnnviz run configs/numpycnn.yaml chelsea") / best_of(row, "python -c 'import matplotlib.pyplot'")
        target(row, "cnnviz run numpycnn chelsea ≤ 0.6× python -c 'import matplotlib.pyplot'", q,
               q <= 0.6 and run_ok, f"{q:.2f}× ({H.fmt_time(r)} vs {H.fmt_time(mpl)}); best-of runs {qb:.2f}×"
               + ("" if run_ok else " (NOT VALID: a timed round failed)"))
    floor = median_of(row, UNAVOIDABLE)
    if r and floor and mpl:
        row["notes"].append(f"the imports any PNG run needs (NumPy, Pillow's PNG and FreeType, PyYAML, click) take "
                            f"{H.fmt_time(floor)} ({floor / mpl:.2f}× import matplotlib.pyplot); the rest of cnnviz run "
                            f"(its own modules, the stack, 14 pictures, the manifest) {H.fmt_time(r - floor)}")
    # Once more, untimed, under -X importtime: did the process import matplotlib at all?
    prof = H.import_profile(run_argv(), env=env, cwd=b.tmp)
    row["imports"] = import_note(row, "cnnviz run configs/numpycnn.yaml chelsea", prof)
    return row


def import_note(row: dict, name: str, prof: dict[str, Any]) -> dict[str, Any]:
    """A note on what a ``-X importtime`` run of ``name`` imported (matplotlib or not, the biggest imports)."""
    if "error" in prof:
        row["notes"].append(f"{name} under -X importtime: {prof['error']}")
        return prof
    mpl = H.imported(prof, "matplotlib")
    top = ", ".join(f"{m} {H.fmt_time(t)}" for m, t in prof["top"][:5])
    own = ", ".join(f"{m} {H.fmt_time(t)}" for m, t in prof["packages"][:6])
    row["notes"].append(
        f"{name} (once more, python -X importtime): imported matplotlib: {'yes' if mpl else 'no'}; "
        f"{len(prof['modules'])} modules, {H.fmt_time(prof['total'])} of imports (under -X importtime); "
        f"by package (own time): {own}; largest top-level imports (cumulative): {top}")
    return {"matplotlib": mpl, "modules": len(prof["modules"]), "total": prof["total"], "top": prof["top"][:15],
            "packages": prof["packages"][:15], "returncode": prof["returncode"]}


# ---------------------------------------------------------------------------
# Row 6


def png_files(d: Path) -> dict[str, tuple[int, int, str, int]]:
    """name -> (width, height, mode, bytes) of every PNG in ``d`` (each one decoded in full)."""
    from PIL import Image

    out = {}
    for p in sorted(d.glob("*.png")):
        with Image.open(p) as im:
            im.load()
            out[p.name] = (im.size[0], im.size[1], im.mode, p.stat().st_size)
    return out


def check_bare_dump(d: Path, layers: list) -> tuple[float, str]:
    """What bare_dump.py wrote in ``d``: one 'L' PNG per stage, every tile its map at 1:1.

    Returns (largest difference in gray levels between a tile and its map scaled by its own
    min..max, computed here in float64, a description); raises Mismatch if anything is off.
    """
    import math

    from PIL import Image

    want = {f"{la.index:02d}_{la.name}.png" for la in layers}
    got = {p.name for p in d.iterdir()}
    if got != want:
        raise Mismatch(f"bare dump wrote {sorted(got)}, expected one PNG per stage {sorted(want)}")
    worst = 0.0
    pixels = 0
    for la in layers:
        maps = np.asarray(la.output, np.float64)
        h, w, n = maps.shape
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
        with Image.open(d / f"{la.index:02d}_{la.name}.png") as im:
            if im.mode != "L" or im.size != (cols * w, rows * h):
                raise Mismatch(f"bare dump {la.name}: {im.size[0]}×{im.size[1]} {im.mode}, expected "
                               f"{cols * w}×{rows * h} L ({n} maps of {w}×{h}, {cols} columns)")
            grid = np.asarray(im, np.float64)
        pixels += grid.size
        ref = R.normalize_per_map(maps) * 255
        for i in range(n):
            r, c = divmod(i, cols)
            tile = grid[r * h:(r + 1) * h, c * w:(c + 1) * w]
            worst = max(worst, float(np.abs(tile - ref[:, :, i]).max()))
    if worst > 1.0:
        raise Mismatch(f"bare dump tiles differ from their maps by up to {worst:.1f} gray levels")
    return worst, f"{len(want)} PNG, {pixels / 1e6:.1f} Mpixel"


def check_cnnviz_run(d: Path, layers: list) -> str:
    """What ``cnnviz run`` wrote in ``d``: a manifest and a decodable PNG for every stage."""
    if not (d / "manifest.json").is_file():
        raise Mismatch(f"cnnviz run wrote no manifest.json in {d}")
    pngs = png_files(d)
    for la in layers:
        if not any(name.endswith(f"_{la.name}.png") and not name.startswith("filters") for name in pngs):
            raise Mismatch(f"cnnviz run wrote no picture of stage {la.name!r} (files: {sorted(pngs)})")
    files = list(d.iterdir())
    size = sum(p.stat().st_size for p in files)
    stage_px = sum(wd * ht for name, (wd, ht, _m, _b) in pngs.items()
                   if any(name.endswith(f"_{la.name}.png") and not name.startswith("filters") for la in layers))
    return (f"{len(files)} files written ({len(pngs)} PNG, {size / 1e6:.1f} MB; stage pictures "
            f"{stage_px / 1e6:.1f} Mpixel)")


def row_big_stage(b: Bench) -> dict[str, Any]:
    import yaml

    import cnnviz

    resize = 256 if b.quick else 1536
    image = "camera"
    with open(S.EDGES_YAML, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    data.setdefault("input", {})["resize"] = resize
    layers = cnnviz.run(cnnviz.load_config(data, base_dir=S.EDGES_YAML.parent), image)
    shapes = ", ".join(f"{la.name} {'×'.join(map(str, la.output.shape))}" for la in layers)
    row = new_row(6, "big_stage", f"a big stage costs what a bare dump costs: configs/edges.yaml on {image}, "
                                  f"input.resize={resize} ({shapes}), whole processes")
    py, exe = sys.executable, cnnviz_command()
    runs = b.tmp / "big_stage"
    runs.mkdir(exist_ok=True)
    counter = iter(range(10**6))
    last: dict[str, Path] = {}

    def fresh(key: str) -> Path:
        """A new output folder for ``key``; the previous one is removed (before the clock starts)."""
        if key in last:
            shutil.rmtree(last[key], ignore_errors=True)
        last[key] = runs / f"{key}{next(counter)}"
        return last[key]

    cnn = f"cnnviz run configs/edges.yaml {image} --set input.resize={resize}"
    ref = "bare dump (cnnviz.run + one Pillow 'L' PNG per stage)"
    cmds: dict[str, Callable[[], list[str]]] = {
        cnn: lambda: exe + ["run", str(S.EDGES_YAML), image, "--set", f"input.resize={resize}",
                            "-o", str(fresh("cnnviz"))],
        ref: lambda: [py, str(HERE / "bare_dump.py"), str(S.EDGES_YAML), image, str(resize), str(fresh("bare"))],
    }
    env = process_env(b, row)
    row["notes"].append(f"cnnviz command: {' '.join(exe)}; bare dump: {py} benchmarks/bare_dump.py")

    # Each command once, untimed (this is also the warm-up), and what it wrote checked.
    import subprocess

    notes: dict[str, str] = {}
    for name, argv in cmds.items():
        a = argv()
        p = subprocess.run(a, env=env, cwd=b.tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise Mismatch(f"{name}: exit {p.returncode}: {p.stderr.decode(errors='replace').strip()[-500:]}")
    try:
        err, notes[ref] = check_bare_dump(last["bare"], layers)
        row["checks"][ref] = err
        notes[cnn] = check_cnnviz_run(last["cnnviz"], layers)
    except Mismatch as e:
        msg = f"row 6: {e}"
        b.failures.append(msg)
        row["notes"].append("MISMATCH — not timed: " + msg)
        return row

    rounds = b.reps(7)
    b.log(f"  timing {len(cmds)} commands x {rounds} rounds")
    times, errors = H.command_times(cmds, rounds, env=env, cwd=b.tmp, warmup=0, before_round=b.settle)
    for name, why in errors.items():
        b.failures.append(f"row 6: {name}: {why}")
        row["notes"].append(f"FAILED {name}: {why}")
    for name, ts in times.items():
        add_candidate(row, name, ts, note=notes.get(name, ""))
    finish_ratios(row, ref)
    # The last timed runs wrote what the checked runs wrote.
    try:
        check_cnnviz_run(last["cnnviz"], layers)
        check_bare_dump(last["bare"], layers)
    except Mismatch as e:
        b.failures.append(f"row 6 (last timed round): {e}")
        row["notes"].append(f"FAILED (last timed round): {e}")

    c, r = median_of(row, cnn), median_of(row, ref)
    if c and r:
        q = c / r
        qb = best_of(row, cnn) / best_of(row, ref)
        target(row, f"cnnviz run edges camera {resize}² ≤ 0.5× the bare dump", q, q <= 0.5 and not errors,
               f"{q:.2f}× ({H.fmt_time(c)} vs {H.fmt_time(r)}); best-of runs {qb:.2f}×"
               + (" (quick sizes: verdict not meaningful)" if b.quick else "")
               + (" (NOT VALID: a timed round failed)" if errors else ""))
    prof = H.import_profile(cmds[cnn](), env=env, cwd=b.tmp)
    row["imports"] = import_note(row, cnn, prof)
    return row


# ---------------------------------------------------------------------------
# Profiles


def profiles(b: Bench) -> list[dict[str, Any]]:
    """cProfile of cnnviz.run on the inputs of rows 1-3: the functions that take the time."""
    import cProfile
    import pstats

    import cnnviz

    cases = []
    cfg = S.numpycnn_config()
    img = cnnviz.load_image("chelsea", cnnviz.load_config(cfg))
    cases.append(("row 1 numpycnn chelsea", cfg, img, 20))
    for rid, ch in ((2, 1), (3, 3)):
        size = (128 if ch == 1 else 192) if b.quick else (1024 if ch == 1 else 2048)
        cases.append((f"row {rid} {size}² {'rgb' if ch == 3 else 'gray'}",
                      S.spec_config(S.DEEP_SPEC, "rgb" if ch == 3 else "gray"),
                      S.random_image(size, size, ch), 3 if ch == 1 else 1))
    out = []
    for name, cfg, img, n in cases:
        cnnviz.run(cfg, img)
        prof = cProfile.Profile()
        for _ in range(n):
            prof.runcall(cnnviz.run, cfg, img)
        st = pstats.Stats(prof)
        total = st.total_tt / n  # type: ignore[attr-defined]
        rows = []
        for (fname, line, func), (_cc, nc, tt, ct, _) in st.stats.items():  # type: ignore[attr-defined]
            where = f"{Path(fname).name}:{line}({func})" if fname != "~" else func
            rows.append({"function": where, "calls": nc / n, "tottime": tt / n, "cumtime": ct / n})
        rows.sort(key=lambda r: -r["tottime"])
        out.append({"case": name, "calls": n, "seconds_per_call": total, "top": rows[:15]})
    return out


def profile_big_stage(b: Bench) -> dict[str, Any]:
    """cProfile of row 6's command in this process: ``cnnviz.cli.main(["run", ...])`` (after one untimed run)."""
    import cProfile
    import pstats

    from cnnviz.cli import main as cli_main

    resize = 256 if b.quick else 1536
    out = b.tmp / "profile_big_stage"
    argv = ["run", str(S.EDGES_YAML), "camera", "--set", f"input.resize={resize}", "-o", str(out)]

    def once() -> None:
        shutil.rmtree(out, ignore_errors=True)
        try:
            cli_main(argv)
        except SystemExit as e:
            if e.code not in (0, None):
                raise RuntimeError(f"cnnviz run exited {e.code}") from None

    once()  # imports and first-use costs out of the profile
    prof = cProfile.Profile()
    prof.runcall(once)
    st = pstats.Stats(prof)
    rows = []
    for (fname, line, func), (_cc, nc, tt, ct, _) in st.stats.items():  # type: ignore[attr-defined]
        where = f"{Path(fname).name}:{line}({func})" if fname != "~" else func
        rows.append({"function": where, "calls": nc, "tottime": tt, "cumtime": ct})
    rows.sort(key=lambda r: -r["tottime"])
    return {"case": f"row 6 cnnviz.cli.main(['run', 'configs/edges.yaml', 'camera', '--set', "
                    f"'input.resize={resize}', ...]) in-process, second run",
            "what": "cnnviz run", "calls": 1, "seconds_per_call": st.total_tt,  # type: ignore[attr-defined]
            "top": rows[:15]}


# ---------------------------------------------------------------------------
# Report


def meta(b: Bench) -> dict[str, Any]:
    import cnnviz

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    versions: dict[str, str | None] = {
        "python": platform.python_version(), "numpy": np.__version__, "cnnviz": cnnviz.__version__,
    }
    for mod in ("scipy", "matplotlib", "PIL"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:
            versions[mod] = None
    blas = None
    try:
        cfg = np.show_config(mode="dicts")  # type: ignore[call-arg]
        blas = f"{cfg['Build Dependencies']['blas']['name']} {cfg['Build Dependencies']['blas']['version']}"
    except Exception:
        pass
    versions["torch"] = b.torch.__version__ if b.torch is not None else None
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "mode": "quick" if b.quick else "full",
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": mem,
        "platform": platform.platform(),
        "versions": versions,
        "blas": blas,
        "torch_threads": b.torch.get_num_threads() if b.torch is not None else None,
        "thp": H.thp_settings(),
        "torch_note": None if b.torch is not None else b.torch_note,
        "thread_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
                       if k in os.environ},
    }


LEGEND = """\
Legend: median and best are over interleaved rounds (one warm-up call first).  "÷ X" is the
candidate's median ÷ X's median (above 1: slower than X).  GFLOP/s counts 2 × multiply-adds of
the conv stages only.  sys time and page faults are per call (medians): the kernel mapping fresh
memory (and compacting transparent huge pages) shows there.  "check vs cnnviz" is
max |reference − cnnviz| / max |cnnviz| over every stage's output (rows 1-3), or the largest
difference in gray levels (0-255) between a drawn tile and its map (row 4: cnnviz quantizes to
247 colormap levels; for matplotlib, 0 means it was handed exactly the same arrays; row 6: the
bare dump's decoded PNG tiles against the maps scaled by their own min..max here).  Memory:
resident high-water mark of a fresh process minus its size just before the run (after imports,
a small warm-up and making the input image)."""


def report(b: Bench, info: dict[str, Any], md: bool) -> str:
    out: list[str] = []
    v = info["versions"]
    head = (f"cnnviz {v['cnnviz']} benchmarks · {info['mode']} mode · {info['date']}\n"
            f"{info['cpu']}, {info['cores']} cores"
            + (f", {info['memory_bytes'] / GiB:.0f} GiB" if info["memory_bytes"] else "")
            + f" · Python {v['python']}, NumPy {v['numpy']} ({info['blas']}), SciPy {v['scipy']}, "
            f"matplotlib {v['matplotlib']}, Pillow {v['PIL']}, "
            + (f"PyTorch {v['torch']} ({info['torch_threads']} threads)" if v["torch"] else "PyTorch: not installed")
            + "".join(f" · {k}={val}" for k, val in info["thread_env"].items()))
    thp = info.get("thp") or {}
    if thp.get("enabled"):
        head += (f"\ntransparent huge pages: {thp['enabled']}, defrag {thp['defrag']}; NumPy madvises huge pages: "
                 f"{thp['numpy_madvise_hugepage']}")
    if info.get("loadavg_start"):
        head += (f"\nload average (1 min) at start {info['loadavg_start'][0]:.2f}, at end "
                 f"{info['loadavg_end'][0]:.2f} (other processes compete for the {info['cores']} cores "
                 f"when this is above 0)")
    if info["mode"] == "quick":
        head += ("\nQUICK MODE (a smoke test): small sizes and one round each, so the times and the "
                 "target verdicts below mean nothing; run without --quick for real figures.")
    out.append(head if not md else head.replace("\n", "  \n"))
    mm = b.matmul
    if mm:
        out.append("")
        out.append(f"float32 matmul {mm['n']}² (`a @ b`, {len(mm['times'])} runs): median "
                   f"{mm['gflops_median']:.0f} GFLOP/s, best {mm['gflops_best']:.0f} GFLOP/s")
    for row in b.rows:
        out.append("")
        title = f"Row {row['id']} · {row['title']}"
        if row.get("gflop"):
            title += f" · {row['gflop']:.3g} GFLOP of conv"
        out.append(f"### {title}" if md else title)
        out.append("")
        if row["error"]:
            out.append(f"ERROR: {row['error']}")
            continue
        share = row.get("others_cpu_share")
        if share is not None:
            waited = f", of which {row['waited_for_idle']:.0f} s waiting for idle" if row.get("waited_for_idle") else ""
            out.append(f"(other processes used {100 * share:.0f}% of the machine's CPU during this row; "
                       f"took {row['seconds']:.0f} s{waited})")
            out.append("")
        base = row.get("ratio_base", "")
        headers = ["candidate", "median", "best", "rounds", f"÷ {base}", "GFLOP/s", "sys time", "page faults",
                   "check vs cnnviz", "note"]
        lines = []
        for c in row["candidates"]:
            chk = next((row["checks"][k] for k in row["checks"] if k.startswith(c["name"].split(" (")[0])), None)
            lines.append([
                c["name"], H.fmt_time(c["median"]), H.fmt_time(c["best"]), str(c.get("rounds", "")),
                H.fmt_ratio(c.get("ratio")), f"{c['gflops']:.3g}" if c.get("gflops") else "",
                H.fmt_time(c["sys_seconds"]) if c.get("sys_seconds") is not None else "",
                f"{c['page_faults']:.0f}" if c.get("page_faults") is not None else "",
                "" if chk is None else f"{chk:.1e}", c.get("note", ""),
            ])
        out.append(H.table(headers, lines, md))
        if row.get("run_breakdown"):
            rb = row["run_breakdown"]
            parts = ", ".join(f"{s['name']} {H.fmt_time(s['seconds'])}" for s in rb["stages"])
            out.append("")
            out.append(f"inside cnnviz.run (medians): {parts}; outside the stages (config, image, plan) "
                       f"{H.fmt_time(rb['outside_stages'])}")
        if row["stages"]:
            out.append("")
            peak = b.matmul["gflops_median"] if b.matmul else None
            hdr = ["stage", "input → kernels", "GFLOP", "cnnviz", "GFLOP/s", "% matmul median",
                   "torch", "GFLOP/s", "tensordot", "GFLOP/s", "cnnviz ÷ torch"]
            lines = []
            for s in row["stages"]:
                cn, to, td = s.get("cnnviz"), s.get("torch"), s.get("tensordot")
                lines.append([
                    s["stage"], f"{'×'.join(map(str, s['input']))} → {'×'.join(map(str, s['kernels']))}",
                    f"{s['gflop']:.2f}",
                    H.fmt_time(cn["median"]), f"{cn['gflops']:.0f}",
                    f"{100 * cn['gflops'] / peak:.0f}%" if peak else "",
                    H.fmt_time(to["median"]) if to else "—", f"{to['gflops']:.0f}" if to else "—",
                    H.fmt_time(td["median"]) if td else "—", f"{td['gflops']:.0f}" if td else "—",
                    f"{cn['median'] / to['median']:.2f}×" if to else "—",
                ])
            out.append(H.table(hdr, lines, md))
        if row["memory"]:
            out.append("")
            hdr = ["process (fresh)", "peak − baseline", "peak RSS", "outputs kept", "NumPy traced peak", "time (1 run, traced)"]
            lines = []
            for m in row["memory"]:
                if "error" in m:
                    lines.append([m["candidate"], "ERROR: " + m["error"], "", "", "", ""])
                    continue
                lines.append([m["candidate"], H.fmt_bytes(m["delta"]), H.fmt_bytes(m["peak_rss"]),
                              H.fmt_bytes(m["kept_bytes"]),
                              H.fmt_bytes(m["traced_peak"]) if m.get("traced_peak") else "—",
                              H.fmt_time(m["seconds"])])
            out.append(H.table(hdr, lines, md))
        for note in row["notes"]:
            out.append(("- " if md else "note: ") + note)
    out.append("")
    out.append("### Targets" if md else "Targets")
    out.append("")
    lines = []
    for row in b.rows:
        for t in row["targets"]:
            met = "skipped" if t["met"] is None else ("yes" if t["met"] else "NO")
            lines.append([str(row["id"]), t["target"], t["measured"], met])
    out.append(H.table(["row", "target", "measured", "met"], lines, md))
    out.append("")
    out.append(LEGEND)
    if b.failures:
        out.append("")
        out.append("FAILURES:")
        out.extend("  " + f for f in b.failures)
    return "\n".join(out)


def render_profiles(profs: list[dict[str, Any]]) -> str:
    out = []
    for p in profs:
        out.append("")
        out.append(f"cProfile of {p.get('what', 'cnnviz.run')} · {p['case']} · {H.fmt_time(p['seconds_per_call'])} per call "
                   f"(under the profiler; {p['calls']} calls)")
        lines = [[r["function"][:70], f"{r['calls']:.0f}", H.fmt_time(r["tottime"]), H.fmt_time(r["cumtime"])]
                 for r in p["top"][:12]]
        out.append(H.table(["function", "calls/run", "own time", "cumulative"], lines))
    return "\n".join(out)


# ---------------------------------------------------------------------------
# Row 7


def op_shares(seconds: dict[str, float]) -> str:
    """``conv 91 %, batchnorm 4 %, ...`` (largest first; ops under 0.5 % gathered as "other")."""
    total = sum(seconds.values()) or 1.0
    big = sorted(((v / total, k) for k, v in seconds.items()), reverse=True)
    shown = [f"{k} {100 * f:.0f} %" for f, k in big if f >= 0.005]
    rest = sum(f for f, _ in big if f < 0.005)
    return ", ".join(shown + ([f"other {100 * rest:.1f} %"] if rest else []))


def row_onnx(b: Bench, rid: int = 7, arch: str = "resnet") -> dict[str, Any]:
    """An imported graph (ResNet-18's or MobileNetV2's shape, random weights) through cnnviz and onnxruntime."""
    try:
        import onnx
        import onnxruntime  # noqa: F401
    except ImportError as e:
        row = new_row(rid, "onnx", f"imported {arch} graph vs onnxruntime")
        target(row, "report the ratio to onnxruntime", None, None, f"skipped ({e.name} is not installed)")
        return row
    import onnx
    from resnet_graph import conv_kind, mobilenet_v2, node_kinds, ort_op_seconds, ort_session, resnet

    import cnnviz
    from cnnviz.importers import imported_config
    from cnnviz.importers.onnx import import_onnx

    if arch == "resnet":
        size, width = (64, 16) if b.quick else (224, 64)
        model, label = resnet(size, width), f"ResNet-18-style ONNX graph (width {width}"
    else:
        size, width = (64, 0.25) if b.quick else (224, 1.0)
        model, label = mobilenet_v2(size, width), f"MobileNetV2-style ONNX graph (width {width:g}"
    path = b.tmp / f"{arch}.onnx"
    onnx.save(model, str(path))
    macs = 0
    row = new_row(rid, "onnx", "")
    t0 = time.perf_counter()
    imported = import_onnx(path)
    cfg = imported_config(imported, path)
    row["notes"].append(f"import + validate (cnnviz.load_config of the .onnx): {H.fmt_time(time.perf_counter() - t0)}")
    planned = __import__("cnnviz.pipeline", fromlist=["plan"]).plan(cfg, (size, size, 3))
    macs = sum(getattr(ps, "macs", 0) or 0 for ps in planned)
    row["title"] = (f"{label}, {len(planned)} stages, {macs / 1e9:.2f} GMAC) on RGB {size}×{size}, imported, "
                    "float32")
    img = np.random.default_rng(0).random((size, size, 3)).astype(np.float32)
    x = img.transpose(2, 0, 1)[None].copy()

    # Every stage equals onnxruntime's tensor before anything is timed.
    every = ort_session(model, optimize=False, all_outputs=True)
    names = [o.name for o in every.get_outputs()]
    ref = dict(zip(names, every.run(names, {"x": x}), strict=True))
    layers = cnnviz.run(cfg, img)
    # Deep float32 graphs drift from the exact result in both engines (summation orders differ): a stage
    # further than TOLERANCE from onnxruntime passes only if the same stack in float64 agrees with
    # onnxruntime (so the arithmetic is right) and cnnviz's float32 is no further from that float64
    # result than 1.5x onnxruntime's own float32 is.
    exact = cnnviz.run(dataclasses.replace(cfg, dtype="float64"), img.astype(np.float64))
    worst, drift, bad = 0.0, (0.0, 0.0, ""), []
    for layer, layer64 in zip(layers, exact, strict=True):
        t = ref[imported.tensors[layer.name]]
        want = t[0].transpose(1, 2, 0) if t.ndim == 4 else t.reshape(1, 1, -1)
        scale = float(np.abs(want).max()) or 1.0
        err = float(np.abs(layer.output - want).max()) / scale
        worst = max(worst, err)
        if err > TOLERANCE:
            ours = float(np.abs(layer.output - layer64.output).max()) / scale
            theirs = float(np.abs(want - layer64.output).max()) / scale
            drift = max(drift, (ours, theirs, layer.name))
            if theirs > 10 * TOLERANCE or ours > 1.5 * theirs:
                bad.append(f"{layer.name} {err:.2e}")
    row["checks"]["every stage vs onnxruntime"] = worst
    if drift[2]:
        row["notes"].append(f"float32 drift: the stage furthest from onnxruntime ({worst:.2e} relative), measured "
                            f"against the stack in float64, is cnnviz {drift[0]:.2e} vs onnxruntime {drift[1]:.2e} "
                            f"(largest at {drift[2]})")
    if bad:
        b.failures.append(f"row {rid}: stages differ from onnxruntime by more than float32 drift: {', '.join(bad[:3])}")
        return row

    fast, plain = ort_session(model, optimize=True), ort_session(model, optimize=False)
    sink: list = []
    cands: dict[str, Callable[[], Any]] = {
        "cnnviz.run (imported stack, every stage kept)": run_recorder(cfg, img, sink),
        "onnxruntime, all graph optimisations (final output only)": lambda: fast.run(None, {"x": x}),
        "onnxruntime, no graph optimisations (final output only)": lambda: plain.run(None, {"x": x}),
        "onnxruntime, every node's output requested": lambda: every.run(names, {"x": x}),
    }
    rounds = b.reps(11)
    b.log(f"  timing {len(cands)} candidates x {rounds} rounds")
    kern: dict[str, list] = {}
    times = H.interleaved(cands, rounds, log=b.vlog, before_round=b.settle, kernel=kern)
    base = "cnnviz.run (imported stack, every stage kept)"
    for name, ts in times.items():
        add_candidate(row, name, ts, flops=2 * macs, kernel=kern.get(name))
    finish_ratios(row, base)

    # onnxruntime as it ships (threads spin-waiting between runs), timed alone: it would slow whatever ran next.
    spinning = ort_session(model, optimize=True, spin=True)
    spin_times = H.interleaved({"spin": lambda: spinning.run(None, {"x": x})}, rounds, before_round=b.settle)["spin"]
    add_candidate(row, "onnxruntime as shipped (all optimisations, spinning threads), timed alone", spin_times,
                  flops=2 * macs)
    finish_ratios(row, base)
    row["notes"].append("the interleaved onnxruntime sessions run with session.intra_op.allow_spinning=0: "
                        "spinning threads would take the CPU from the candidate after them")

    per_type: dict[str, float] = {}
    runs = np.array(sink[-rounds:])
    stage_medians = np.median(runs[:, :-1], axis=0)
    for ps, sec in zip(planned, stage_medians, strict=True):
        kind = ps.type
        if ps.type == "conv" and ps.kernels is not None:
            kind = conv_kind(ps.kernels.shape[1:3], int(ps.params.get("groups", 1)), ps.input_shapes[0][2])
        per_type[kind] = per_type.get(kind, 0.0) + float(sec)
    outside = float(np.median(runs[:, -1] - runs[:, :-1].sum(axis=1)))
    row["op_seconds"] = {"cnnviz": per_type}
    row["notes"].append(f"cnnviz time by stage type: {op_shares(per_type)}; "
                        f"{H.fmt_time(outside)} per run outside the stages (input, planning)")
    prof = ort_session(model, optimize=False, profile=str(b.tmp / "ort-profile"))
    for _ in range(max(3, rounds // 2)):
        prof.run(None, {"x": x})
    ort_seconds = ort_op_seconds(prof.end_profiling(), node_kinds(model))
    row["op_seconds"]["onnxruntime"] = ort_seconds
    row["notes"].append(f"onnxruntime (no graph optimisations, profiled) time by op: {op_shares(ort_seconds)}")
    for kind in sorted(k for k in per_type if k.startswith("conv")):
        conv_c = per_type[kind]
        conv_o = ort_seconds.get(kind, 0.0) / max(3, rounds // 2)
        if conv_c and conv_o:
            row["notes"].append(f"{kind}: cnnviz {H.fmt_time(conv_c)} vs onnxruntime {H.fmt_time(conv_o)} "
                                f"({conv_c / conv_o:.2f}×)")
    t_c, t_f, t_p = median_of(row, base), median_of(row, "onnxruntime, all graph optimisations (final output only)"), \
        median_of(row, "onnxruntime, no graph optimisations (final output only)")
    if t_c and t_f and t_p:
        target(row, "report the ratio to onnxruntime (issue 11: no fixed target)", t_c / t_f, None,
               f"cnnviz ÷ onnxruntime = {t_c / t_f:.2f}× (optimised), {t_c / t_p:.2f}× (unoptimised); best-of "
               f"{best_of(row, base) / best_of(row, 'onnxruntime, all graph optimisations (final output only)'):.2f}×")
    return row


ROWS: dict[int, tuple[str, Callable[[Bench], dict[str, Any]]]] = {
    1: ("NumPyCNN stack on chelsea", row_numpycnn),
    2: ("gray 1024² deep stack", lambda b: row_deep(b, 2, 1)),
    3: ("RGB 2048² deep stack + memory", lambda b: row_deep(b, 3, 3)),
    4: ("64-map grid to PNG", row_grid),
    5: ("whole process", row_process),
    6: ("a big stage vs a bare dump", row_big_stage),
    7: ("imported ResNet-style ONNX graph vs onnxruntime", row_onnx),
    8: ("imported MobileNetV2-style ONNX graph vs onnxruntime", lambda b: row_onnx(b, 8, "mobilenet")),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="CI smoke mode: every row once on small sizes")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--markdown", metavar="PATH", help="also write the tables as Markdown")
    ap.add_argument("--rows", default="1,2,3,4,5,6,7,8", help="comma-separated rows to run (default: all)")
    ap.add_argument("--repeats", type=int, help="rounds per measurement (overrides the defaults)")
    ap.add_argument("--profile", action="store_true",
                    help="also cProfile cnnviz.run on rows 1-3 (and, with row 6, its cnnviz run in-process)")
    ap.add_argument("--no-hugepages", action="store_true",
                    help="set NUMPY_MADVISE_HUGEPAGE=0 (NumPy then does not ask for transparent huge pages)")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                    help="on a shared machine: before each row wait (at most SECONDS), and before each round "
                         "(at most SECONDS/10), until other processes leave the CPU idle")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every round")
    args = ap.parse_args(argv)
    try:
        wanted = [int(r) for r in args.rows.split(",") if r.strip()]
    except ValueError:
        ap.error(f"--rows: expected numbers like 1,3, got {args.rows!r}")
    unknown = [r for r in wanted if r not in ROWS]
    if unknown:
        ap.error(f"--rows: no row {unknown[0]} (rows are 1-{max(ROWS)})")

    b = Bench(args.quick, args.repeats, args.verbose, args.wait_idle)
    t_start = time.perf_counter()
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    try:
        if {2, 3} & set(wanted):
            b.log("matmul peak")
            matmul_peak(b)
        for rid in wanted:
            label, fn = ROWS[rid]
            b.log(f"row {rid}: {label}")
            if args.wait_idle:
                waited = H.wait_idle(args.wait_idle, log=b.log)
                if waited > 4:
                    b.log(f"  waited {waited:.0f} s for an idle machine")
            b.waited = 0.0
            t0 = time.perf_counter()
            snap = H.cpu_snapshot()
            try:
                row = fn(b)
            except Exception as e:
                row = new_row(rid, label, label)
                row["error"] = f"{type(e).__name__}: {e}"
                b.failures.append(f"row {rid}: {row['error']}")
                traceback.print_exc()
            row["seconds"] = time.perf_counter() - t0
            row["others_cpu_share"] = H.others_share(snap, H.cpu_snapshot())
            row["waited_for_idle"] = b.waited
            b.waited = 0.0
            b.rows.append(row)
        profs = profiles(b) if args.profile else None
        if profs is not None and 6 in wanted:
            b.log("profile: row 6's cnnviz run in-process")
            profs.append(profile_big_stage(b))
        info = meta(b)
        info["seconds"] = time.perf_counter() - t_start
        info["loadavg_start"] = load_start
        info["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
        text = report(b, info, md=False)
        print(text)
        if profs:
            print(render_profiles(profs))
        if args.markdown:
            Path(args.markdown).write_text(report(b, info, md=True) + "\n", encoding="utf-8")
        if args.json:
            data = {"meta": info, "matmul": b.matmul, "rows": b.rows, "profiles": profs, "failures": b.failures}
            Path(args.json).write_text(json.dumps(data, indent=1, default=float) + "\n", encoding="utf-8")
        print(f"\n(benchmark took {info['seconds']:.0f} s)")
    finally:
        shutil.rmtree(b.tmp, ignore_errors=True)
    return 1 if b.failures else 0


if __name__ == "__main__":
    sys.exit(main())
