"""Peak memory of one candidate running the deep stack, in a fresh process.

    python benchmarks/memory_child.py CANDIDATE HEIGHT WIDTH CHANNELS

Candidates: ``cnnviz-keep`` (``cnnviz.run``: every stage's output kept),
``cnnviz-stream`` (``cnnviz.pipeline.iter_run``: each stage looked at, then
dropped), ``torch-keep``, ``torch-stream``, ``tensordot-keep``.

Method: import what the candidate needs, run it once on a 64×64 input (so
that lazily allocated pools and caches are not counted), make the input
image, then take the process's resident size as the baseline.  Run the stack
once and read the peak resident size (the high-water mark ``VmHWM`` of
/proc/self/status on Linux, else ``getrusage(RUSAGE_SELF).ru_maxrss``).  Reported: ``peak - baseline`` (the input image itself
is not counted; any copy a candidate makes of it is), the absolute peak, the
bytes of the outputs kept at the end, and for the NumPy candidates the peak
of NumPy's traced allocations (``tracemalloc``).  The last line of stdout is
one JSON object.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import stacks

CANDIDATES = ("cnnviz-keep", "cnnviz-stream", "torch-keep", "torch-stream", "tensordot-keep")


def current_rss() -> int:
    """Resident set size now, in bytes (Linux /proc; falls back to the peak)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss()


def peak_rss() -> int:
    """The process's resident high-water mark, in bytes.

    On Linux this is ``VmHWM`` from /proc/self/status: ``ru_maxrss`` is no good
    in a child, because the kernel carries the parent's maximum across fork
    and exec (a child started by a 2 GB parent reports at least 2 GB).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


def main(argv: list[str]) -> int:
    cand, h, w, c = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    if cand not in CANDIDATES:
        print(f"unknown candidate {cand!r}; expected one of {CANDIDATES}", file=sys.stderr)
        return 2
    family, mode = cand.split("-")
    keep = mode == "keep"
    traced = family in ("cnnviz", "tensordot")

    if family == "cnnviz":
        import cnnviz
        import cnnviz.pipeline as pipeline

        config = cnnviz.load_config(stacks.spec_config(stacks.DEEP_SPEC, "rgb" if c == 3 else "gray"))

        def work(x: Any) -> list:
            if keep:
                return [la.output for la in cnnviz.run(config, x)]
            last = None
            for layer in pipeline.iter_run(config, x):
                float(layer.output.max())  # "render" it, then drop it
                last = layer.output
                del layer
            return [last]

        make_input = lambda img: img  # noqa: E731
    elif family == "torch":
        import references

        torch = references.torch_setup()
        tstack = references.torch_kernels(stacks.random_stack(stacks.DEEP_SPEC, c))

        def work(x: Any) -> list:
            if keep:
                return references.torch_stack(x, tstack, keep=True)
            with torch.inference_mode():
                y = x
                for st in tstack:
                    y = (references.torch_conv(y, st[1]) if st[0] == "conv"
                         else torch.relu(y) if st[0] == "relu" else torch.nn.functional.max_pool2d(y, st[1]))
                    float(y.max())
                return [y]

        make_input = references.to_torch
    else:
        import references

        stack = stacks.random_stack(stacks.DEEP_SPEC, c)

        def work(x: Any) -> list:
            return references.tensordot_stack(x, stack, keep=True)

        make_input = lambda img: img  # noqa: E731

    work(make_input(stacks.random_image(64, 64, c)))  # warm-up
    img = stacks.random_image(h, w, c)
    x = make_input(img)
    if x is not img:
        del img
    gc.collect()
    base = current_rss()
    peak_before = peak_rss()
    if traced:
        import tracemalloc

        tracemalloc.start()
    t0 = time.perf_counter()
    outs = work(x)
    seconds = time.perf_counter() - t0
    traced_peak = None
    if traced:
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    peak = peak_rss()
    kept = 0
    for o in outs:
        kept += int(o.numel() * o.element_size()) if hasattr(o, "numel") else int(o.nbytes)
    report = {
        "candidate": cand,
        "shape": [h, w, c],
        "baseline_rss": base,
        "peak_rss": peak,
        "peak_before_run": peak_before,
        "delta": peak - base,
        "kept_bytes": kept,
        "traced_peak": traced_peak,
        "seconds": seconds,
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
