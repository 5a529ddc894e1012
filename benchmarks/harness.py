"""Timing, memory and checking helpers for ``benchmarks/run.py``.

The machine is noisy, so candidates are compared inside one run: each round
calls every candidate once, in an order rotated from round to round
(interleaving), and a candidate's figure is the median of its rounds.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def timed(fn: Callable[[], Any], kernel: list | None = None) -> tuple[float, Any]:
    """Seconds one call of ``fn`` takes (garbage collection off during the call), and its result.

    If ``kernel`` is a list, ``(page faults, system CPU seconds)`` of the call is appended
    to it: time the kernel spent mapping fresh memory (and compacting huge pages) shows here.
    """
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        if enabled:
            gc.enable()
    if kernel is not None:
        kernel.append((r1.ru_minflt - r0.ru_minflt + r1.ru_majflt - r0.ru_majflt, r1.ru_stime - r0.ru_stime))
    return dt, result


def interleaved(
    candidates: dict[str, Callable[[], Any]],
    repeats: int,
    warmup: int = 1,
    log: Callable[[str], None] | None = None,
    before_round: Callable[[], Any] | None = None,
    kernel: dict[str, list] | None = None,
) -> dict[str, list[float]]:
    """Time every candidate ``repeats`` times, interleaved; return name -> seconds per round.

    Each candidate is first called ``warmup`` times untimed.  In round ``r``
    the candidates are called in their order rotated by ``r``, so that none
    always runs first (after an idle period) or last.  ``before_round`` is
    called before each round (e.g. to wait for an idle machine).  If
    ``kernel`` is a dict, it gets name -> [(page faults, system seconds)] per round.
    """
    names = list(candidates)
    for name in names:
        for _ in range(warmup):
            candidates[name]()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        if before_round:
            before_round()
        k = r % len(names)
        for name in names[k:] + names[:k]:
            dt, _ = timed(candidates[name], None if kernel is None else kernel.setdefault(name, []))
            times[name].append(dt)
        if log:
            log(f"    round {r + 1}/{repeats}: " + ", ".join(f"{n} {fmt_time(times[n][-1])}" for n in names))
    return times


def cpu_snapshot() -> tuple[float, float, float] | None:
    """(machine busy seconds, machine total seconds, this process's + its children's CPU seconds).

    Linux only (/proc/stat); None elsewhere.  Two snapshots give the share of
    the machine that *other* processes used in between (:func:`others_share`).
    """
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    t = os.times()
    return (total - idle) / hz, total / hz, t.user + t.system + t.children_user + t.children_system


def others_share(a: tuple[float, float, float] | None, b: tuple[float, float, float] | None) -> float | None:
    """Fraction of the machine's CPU time (all cores) used by other processes between two snapshots."""
    if not a or not b or b[1] <= a[1]:
        return None
    return max(0.0, ((b[0] - a[0]) - (b[2] - a[2])) / (b[1] - a[1]))


def wait_idle(max_wait: float, threshold: float = 0.1, quiet_for: int = 3, sample: float = 1.0,
              log: Callable[[str], None] | None = None) -> float:
    """Sleep until other processes used < ``threshold`` of the CPU for ``quiet_for`` samples of ``sample`` s.

    Gives up after ``max_wait`` seconds; returns the seconds waited.
    """
    t0 = time.monotonic()
    quiet = 0
    while time.monotonic() - t0 < max_wait:
        a = cpu_snapshot()
        if a is None:
            return 0.0
        time.sleep(sample)
        share = others_share(a, cpu_snapshot())
        quiet = quiet + 1 if share is not None and share < threshold else 0
        if quiet >= quiet_for:
            break
        if log and quiet == 0:
            log(f"  waiting for an idle machine (others use {100 * (share or 0):.0f}% of the CPU)")
    return time.monotonic() - t0


def thp_settings() -> dict[str, Any]:
    """Transparent huge page settings, and whether NumPy asks for huge pages (madvise) on big arrays."""
    out: dict[str, Any] = {}
    for key in ("enabled", "defrag"):
        try:
            text = Path(f"/sys/kernel/mm/transparent_hugepage/{key}").read_text()
            out[key] = text[text.index("[") + 1:text.index("]")]
        except (OSError, ValueError):
            out[key] = None
    try:
        import numpy as np

        mod = getattr(np, "_core", None) or np.core
        out["numpy_madvise_hugepage"] = bool(mod.multiarray._get_madvise_hugepage())
    except Exception:
        out["numpy_madvise_hugepage"] = None
    return out


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def command_times(
    commands: dict[str, Callable[[], list[str]]],
    repeats: int,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    warmup: int = 1,
    before_round: Callable[[], Any] | None = None,
) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Wall time of whole processes, interleaved.  ``commands``: name -> function giving argv.

    Returns (name -> seconds per round, name -> error text for a command that failed).
    """
    errors: dict[str, str] = {}

    def once(name: str) -> float:
        argv = commands[name]()
        t0 = time.perf_counter()
        p = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            errors.setdefault(name, f"exit {p.returncode}: {p.stderr.decode(errors='replace').strip()[-500:]}")
        return dt

    names = list(commands)
    for name in names:
        for _ in range(warmup):
            once(name)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        if before_round:
            before_round()
        k = r % len(names)
        for name in names[k:] + names[:k]:
            times[name].append(once(name))
    return times, errors


def import_profile(
    argv: list[str],
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 300,
) -> dict[str, Any]:
    """Run ``argv`` once with ``PYTHONPROFILEIMPORTTIME=1`` (``python -X importtime``); what it imported.

    Returns ``{"modules": [every module imported, in order], "total": seconds of import time,
    "top": [(top-level import, cumulative seconds), ...], "packages": [(top-level package,
    seconds of its modules' own import time), ...] (both largest first), "returncode": int}``,
    or ``{"error": ...}`` if the process could not be run.  The child's own imports only:
    a worker process it starts reports to its own stderr, which is not read here.
    """
    env = dict(os.environ if env is None else env, PYTHONPROFILEIMPORTTIME="1")
    try:
        p = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"error": f"{type(e).__name__}: {e}"}
    entries: list[tuple[str, int, int, int]] = []  # name, own µs, cumulative µs, nesting level
    for line in p.stderr.decode(errors="replace").splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue  # the header line
        label = parts[2]
        level = (len(label) - len(label.lstrip(" ")) - 1) // 2
        entries.append((label.strip(), int(parts[0]), int(parts[1]), level))
    modules = [e[0] for e in entries]
    total = sum(e[1] for e in entries) / 1e6
    # A module is printed after the modules it imported, one level deeper: the least indented
    # entries are the imports that no other module made (the script's, or a function's).
    least = min((e[3] for e in entries), default=0)
    top = sorted(((e[0], e[2] / 1e6) for e in entries if e[3] == least), key=lambda t: -t[1])
    by_package: dict[str, float] = {}
    for name, own, _cum, _level in entries:
        by_package[name.split(".")[0]] = by_package.get(name.split(".")[0], 0.0) + own / 1e6
    packages = sorted(by_package.items(), key=lambda t: -t[1])
    return {"modules": modules, "total": total, "top": top, "packages": packages, "returncode": p.returncode}


def imported(profile: dict[str, Any], package: str) -> bool | None:
    """Whether ``package`` (or any of its submodules) is among the modules of :func:`import_profile`."""
    if "error" in profile:
        return None
    return any(m == package or m.startswith(package + ".") for m in profile["modules"])


def measure_memory(candidate: str, h: int, w: int, channels: int, timeout: float = 900) -> dict[str, Any]:
    """Run ``memory_child.py`` in a fresh interpreter; its JSON report (or ``{"error": ...}``)."""
    argv = [sys.executable, str(HERE / "memory_child.py"), candidate, str(h), str(w), str(channels)]
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]}
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": f"unreadable report: {p.stdout[-300:]!r}"}


def max_rel_error(refs: Sequence[Any], outs: Sequence[Any]) -> float:
    """Largest ``max|ref - out| / max|out|`` over paired stage outputs (shapes must match)."""
    import numpy as np

    if len(refs) != len(outs):
        raise AssertionError(f"{len(refs)} stage outputs vs {len(outs)}")
    worst = 0.0
    for i, (a, b) in enumerate(zip(refs, outs)):
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            raise AssertionError(f"stage {i + 1}: shape {a.shape} vs cnnviz {b.shape}")
        scale = float(np.abs(b).max()) or 1.0
        worst = max(worst, float(np.abs(a - b).max()) / scale)
    return worst


# ---------------------------------------------------------------------------
# Formatting


def fmt_time(s: float | None) -> str:
    if s is None:
        return "—"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms" if s < 0.1 else f"{s * 1e3:.0f} ms"
    return f"{s * 1e6:.0f} µs"


def fmt_bytes(b: float | None) -> str:
    if b is None:
        return "—"
    if b >= 1 << 30:
        return f"{b / (1 << 30):.2f} GiB"
    return f"{b / (1 << 20):.0f} MiB"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "—"
    if r >= 100:
        return f"{r:.0f}×"
    if r >= 10:
        return f"{r:.1f}×"
    return f"{r:.2f}×"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool = False) -> str:
    """A plain-text (or Markdown) table."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]
    if markdown:
        lines = ["| " + " | ".join(str(h) for h in headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
        lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
        return "\n".join(lines)
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths)), line]
    for r in rows:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    return "\n".join(out)
