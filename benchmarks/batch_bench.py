"""Batch throughput: ``cnnviz batch`` with ``-j 1`` against ``-j 2`` on the same work.

The work is configs/numpycnn.yaml on eight bundled sample images (full size),
rendered with ``--force`` every time, so nothing is skipped.  Each round runs
both settings, in an order that alternates from round to round; a setting's
figure is the median of its rounds.  A round is timed end to end, as a user
sees it: expanding and hashing the inputs, starting the worker processes
(each imports matplotlib once), rendering, thumbnails and index.html.

    python benchmarks/batch_bench.py [--rounds 3] [--images 8] [--jobs 2]

Prints images/s for each setting and the speed-up; on a machine with two
free cores expect close to 2×, less the start-up of the second worker.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cnnviz.app.batch.executors import cpu_count  # noqa: E402
from cnnviz.app.batch.runner import BatchRequest, run_batch  # noqa: E402

CONFIG = ROOT / "configs" / "numpycnn.yaml"
IMAGES = ["chelsea", "camera", "astronaut", "coffee", "coins", "moon", "page", "rocket",
          "brick", "grass", "gravel", "text", "horse", "cell", "clock", "retina"]


def one(images: list[str], jobs: int, out: Path) -> float:
    t0 = time.perf_counter()
    report = run_batch(BatchRequest([str(CONFIG)], images, str(out), jobs=jobs, force=True))
    dt = time.perf_counter() - t0
    if report.failed or report.rendered != len(images):
        raise SystemExit(f"the batch failed: {report.summary()}: {report.failures()}")
    return dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--images", type=int, default=8, help=f"how many sample images (at most {len(IMAGES)})")
    ap.add_argument("--jobs", type=int, default=2, help="the parallel setting compared with -j 1")
    args = ap.parse_args(argv)
    images = IMAGES[: max(1, min(args.images, len(IMAGES)))]
    settings = [1, args.jobs]
    times: dict[int, list[float]] = {j: [] for j in settings}
    print(f"cnnviz batch {CONFIG.relative_to(ROOT)} × {len(images)} images ({', '.join(images)}), --force; "
          f"{cpu_count()} cores available")
    with tempfile.TemporaryDirectory(prefix="cnnviz-batch-bench-") as tmp:
        one(images[:2], args.jobs, Path(tmp) / "warmup")  # disk cache, imports in this process
        for r in range(args.rounds):
            order = settings if r % 2 == 0 else settings[::-1]
            for j in order:
                dt = one(images, j, Path(tmp) / f"j{j}")
                times[j].append(dt)
                load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
                print(f"  round {r + 1}: -j {j}: {dt:.2f} s ({len(images) / dt:.2f} images/s)"
                      f"  [load average before: {load:.2f}]")
    med = {j: statistics.median(ts) for j, ts in times.items()}
    for j in settings:
        print(f"-j {j}: {len(images) / med[j]:.2f} images/s (median {med[j]:.2f} s for {len(images)} images)")
    print(f"speed-up -j {args.jobs} / -j 1: {med[1] / med[args.jobs]:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
