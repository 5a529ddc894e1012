"""Latency of ``cnnviz watch``: from a saved edit to the new PNG on disk.

Copies ``configs/numpycnn.yaml`` to a temporary folder, starts a real
``cnnviz watch CONFIG chelsea -o OUT`` process (once with watchfiles, once
with ``--poll``), and saves edits the way most editors do (a temporary file
renamed over the config).  For every edit it measures, from just before the
rename:

* ``png``  — until the edited stage's PNG is replaced (new inode/mtime);
* ``done`` — until ``manifest.json`` is replaced, i.e. every picture of the
  re-render is on disk (the page of ``--serve`` shows it from then on).

Two kinds of edit: a kernel value of the first conv stage (every stage is
computed again) and the number of random kernels of the last conv stage
(only stages 7-9 are).  Target: under 0.5 s.

    python benchmarks/watch_bench.py [--edits 10] [--image chelsea] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "numpycnn.yaml"

#: (name, file of the edited stage, the text to replace, its two alternating values)
EDITS = [
    ("stage 1 kernel (all 9 stages recomputed)", "01_edges.png",
     "- [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]", ("- [[-2, 0, 2], [-1, 0, 1], [-1, 0, 1]]",
                                                 "- [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]")),
    ("stage 7 kernel count (stages 7-9 recomputed)", "07_conv3.png",
     "{random: {count: 1, size: 7}}", ("{random: {count: 2, size: 7}}", "{random: {count: 1, size: 7}}")),
]


def signature(p: Path) -> tuple[int, int] | None:
    try:
        st = p.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def save_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.swp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _reader(stream, q: queue.Queue) -> None:
    for line in stream:
        q.put((time.perf_counter(), line.rstrip("\n")))


def run_backend(backend: str, edits: int, image: str) -> dict:
    work = Path(tempfile.mkdtemp(prefix="cnnviz-watch-bench-"))
    try:
        cfg = work / "numpycnn.yaml"
        shutil.copy(CONFIG, cfg)
        out = work / "out"
        cmd = [sys.executable, "-m", "cnnviz.cli", "watch", str(cfg), image, "-o", str(out)]
        if backend == "polling":
            cmd.append("--poll")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=work)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
        try:
            while True:
                _, line = lines.get(timeout=60)
                if line.startswith("watching"):
                    if f"({backend})" not in line:
                        raise SystemExit(f"expected the {backend} backend: {line}")
                    break
            results = {}
            text = cfg.read_text(encoding="utf-8")
            for name, target, anchor, values in EDITS:
                assert anchor in text, anchor
                png_times, done_times, lines_out = [], [], []
                for i in range(edits):
                    new = text.replace(anchor, values[i % 2])
                    png, manifest = out / target, out / "manifest.json"
                    s_png, s_man = signature(png), signature(manifest)
                    time.sleep(0.3)  # idle watcher, as after a person's edit
                    t0 = time.perf_counter()
                    save_atomic(cfg, new)
                    t_png = t_done = None
                    deadline = t0 + 10
                    while (t_png is None or t_done is None) and time.perf_counter() < deadline:
                        now = time.perf_counter()
                        if t_png is None and signature(png) != s_png:
                            t_png = now - t0
                        if t_done is None and signature(manifest) != s_man:
                            t_done = now - t0
                        time.sleep(0.002)
                    _, line = lines.get(timeout=10)
                    if not line.startswith("rendered"):
                        raise SystemExit(f"unexpected output: {line}")
                    if t_png is None or t_done is None:
                        raise SystemExit(f"no re-render seen within 10 s after edit {i} ({name})")
                    png_times.append(t_png)
                    done_times.append(t_done)
                    lines_out.append(line)
                    text = new
                    anchor = values[i % 2]
                results[name] = {
                    "png_median": statistics.median(png_times),
                    "png_min": min(png_times),
                    "png_max": max(png_times),
                    "done_median": statistics.median(done_times),
                    "done_min": min(done_times),
                    "done_max": max(done_times),
                    "last_line": lines_out[-1],
                }
                # back to the original text for the next kind of edit
                text = text.replace(anchor, values[1])
                save_atomic(cfg, text)
                lines.get(timeout=10)
            return results
        finally:
            proc.send_signal(2)  # Ctrl-C
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edits", type=int, default=10, help="edits per kind and backend [10]")
    ap.add_argument("--image", default="chelsea")
    ap.add_argument("--backends", default="watchfiles,polling")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    all_results = {}
    print(f"cnnviz watch latency, {CONFIG.name} on {args.image}, median of {args.edits} atomic saves "
          f"(min-max); target < 0.5 s")
    for backend in args.backends.split(","):
        if backend == "watchfiles":
            try:
                import watchfiles  # noqa: F401
            except ImportError:
                print("watchfiles: not installed, skipped")
                continue
        res = run_backend(backend, args.edits, args.image)
        all_results[backend] = res
        for name, r in res.items():
            ok = "ok" if r["png_median"] < 0.5 else "over target"
            print(f"{backend:10} {name:46} new PNG {r['png_median']:.3f} s ({r['png_min']:.3f}-{r['png_max']:.3f})"
                  f"   all files {r['done_median']:.3f} s ({r['done_min']:.3f}-{r['done_max']:.3f})   {ok}")
            print(f"{'':10} {'':46} {r['last_line']}")
    if args.json:
        Path(args.json).write_text(json.dumps(all_results, indent=2) + "\n")


if __name__ == "__main__":
    main()
