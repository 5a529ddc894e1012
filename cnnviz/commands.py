"""One function per command: the library side of :mod:`cnnviz.cli`.

Each takes plain values, does the work, and returns what the command prints
(or the files it wrote); a user's mistake is raised as
:class:`~cnnviz.errors.CnnvizError`.  Nothing here knows about click.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Config, load_config, load_config_file
from .errors import CnnvizError, ConfigErrors

__all__ = [
    "RunRequest",
    "default_outdir",
    "run_command",
    "validate_command",
    "summary_command",
    "presets_command",
    "init_command",
    "inspect_command",
    "STARTER_CONFIG",
]


def default_outdir(config: Config, config_path: str, image: str) -> Path:
    """``cnnviz-out/<config>/<image>``: never the current folder itself."""
    from .images import image_label

    return Path("cnnviz-out") / (config.name or Path(config_path).stem) / image_label(image)


@dataclass
class RunRequest:
    """What ``cnnviz run`` was asked to do."""

    config_path: str
    images: list[str]
    outdir: str | None = None
    overrides: list[str] = field(default_factory=list)
    save_arrays: bool = False
    jobs: int = 1
    max_memory: int | None = None
    stream: bool = True


def _render_one(req: RunRequest, image: str, out: Path, x: Any = None) -> list[Path]:
    """Run and render one image (``x``: the image already loaded, if it was)."""
    from .images import load_image
    from .pipeline import iter_run, run
    from .rendering import render, run_range

    config = load_config_file(req.config_path, req.overrides)
    if x is None:
        x = load_image(image, config)
    global_range = None
    if req.stream:
        # each stage is drawn as it comes and dropped; a global scale needs a first pass for its range
        if config.render["normalize"] == "global":
            global_range = run_range(iter_run(config, x, max_memory=req.max_memory))
        layers: Any = iter_run(config, x, max_memory=req.max_memory, inplace=True)
    else:
        layers = run(config, x, max_memory=req.max_memory)
    try:
        return render(config, layers, out, image=x, image_name=image, save_arrays=req.save_arrays,
                      config_path=req.config_path, stream=req.stream, global_range=global_range)
    except OSError as exc:
        where = exc.filename or out
        raise CnnvizError(f"{where}: cannot write the output: {exc.strerror or exc}") from None


def preload_figures() -> None:
    """Import matplotlib's figure machinery in a background thread.

    A run needs it only for the last pictures (filters, bar charts, overview),
    and importing it takes about half a second; started first, the import
    overlaps with reading the image and computing the stages (NumPy releases
    the GIL), which shortens a whole ``cnnviz run``.
    """
    import threading

    def work() -> None:
        try:
            import matplotlib.backends.backend_agg
            import matplotlib.figure  # noqa: F401
        except Exception:  # pragma: no cover - the real import reports it later
            pass

    threading.Thread(target=work, name="cnnviz-preload", daemon=True).start()


def run_command(req: RunRequest) -> list[Path]:
    """Load, validate and run a config on every image, writing the figures.

    Every image is read and the stack planned for it before anything is
    written, so a bad config or a bad image writes nothing.  With several
    images and ``-o DIR``, each image gets ``DIR/<image>``.

    Returns
    -------
    list of Path
        Every file written, in order.
    """
    from .images import image_label, load_image
    from .pipeline import check_memory, plan

    preload_figures()
    config = load_config_file(req.config_path, req.overrides)
    jobs: list[tuple[str, Path]] = []
    loaded = None
    for image in req.images:
        x = load_image(image, config)
        check_memory(plan(config, x.shape), x.shape, req.max_memory, keep=not req.stream)
        if req.outdir is None:
            out = default_outdir(config, req.config_path, image)
        elif len(req.images) > 1:
            out = Path(req.outdir) / image_label(image)
        else:
            out = Path(req.outdir)
        jobs.append((image, out))
        loaded = x if len(req.images) == 1 else None
    outs = [o for _, o in jobs]
    if len(set(outs)) != len(outs):
        raise CnnvizError("two images would write to the same folder; give them different names")
    if len(jobs) == 1:
        return _render_one(req, jobs[0][0], jobs[0][1], loaded)
    if req.jobs <= 1:
        return [p for image, out in jobs for p in _render_one(req, image, out)]
    from .batch import open_executor

    with open_executor(req.jobs, None, len(jobs)) as (pool, _):
        futures = [pool.submit(_render_one, req, image, out) for image, out in jobs]
        return [p for f in futures for p in f.result()]


def validate_command(paths: list[str]) -> list[tuple[str, list[CnnvizError]]]:
    """Validate each config; return ``(path, errors)`` pairs (no errors: ok).

    Where the config fixes the input's shape (``input.resize: [h, w]`` and
    ``input.color: gray | rgb``) the stack is also planned, so kernels that do
    not fit are found too.
    """
    from .pipeline import plan

    results: list[tuple[str, list[CnnvizError]]] = []
    for path in paths:
        try:
            config = load_config(Path(path))
            if config.fixed_input_shape is not None:
                plan(config, config.fixed_input_shape)
        except ConfigErrors as err:
            results.append((path, err.errors))
        except CnnvizError as err:
            results.append((path, [err]))
        else:
            results.append((path, []))
    return results


# --- summary -----------------------------------------------------------------


def _count(n: int) -> str:
    return f"{n:,}" if n else "-"


def _x(a: tuple[int, ...]) -> str:
    return "×".join(str(v) for v in a)


def describe_stage(stage: Any) -> str:
    """A short description of a planned stage's parameters, for ``summary``."""
    p = stage.config.params
    t = stage.type
    if t == "conv":
        n, kh, kw, _ = stage.kernels.shape
        parts = [f"{n} × {kh}×{kw}"]
        pad = p["padding"]
        parts.append(pad if isinstance(pad, str) else f"pad {_x(pad)}")
        if p["pad_mode"] != "constant":
            parts.append(p["pad_mode"])
        if p["stride"] != (1, 1):
            parts.append(f"stride {_x(p['stride'])}")
        if p["dilation"] != (1, 1):
            parts.append(f"dilation {_x(p['dilation'])}")
        if p["flip"]:
            parts.append("flip")
        if p["depthwise"]:
            parts.append("depthwise")
        return ", ".join(parts)
    if t == "pool":
        s = f"{p['mode']} {_x(p['size'])}"
        if p["stride"] != p["size"]:
            s += f", stride {_x(p['stride'])}"
        if p["padding"] != (0, 0):
            s += f", pad {_x(p['padding'])}"
        return s
    if t == "leaky_relu":
        return f"slope {p['slope']:g}"
    if t == "global_pool":
        return p["mode"]
    if t == "norm":
        if p["mode"] == "lrn":
            return f"lrn size {p['size']}, alpha {p['alpha']:g}, beta {p['beta']:g}, k {p['k']:g}"
        return p["mode"]
    if t == "dense":
        return f"{p['units']} units" + (", labelled" if p["labels"] else "")
    return ""


def summary_command(config_path: str, image: str | None = None, overrides: list[str] | None = None) -> str:
    """The ``summary`` table for a config, planned on ``image``.

    Without an image the input shape comes from ``input.resize: [h, w]`` when
    it fixes the shape, else from the ``chelsea`` sample.
    """
    from .images import load_image
    from .pipeline import format_bytes, plan

    config = load_config_file(config_path, overrides or [])
    shape: tuple[int, ...] | None = config.fixed_input_shape if image is None else None
    if shape is not None:
        label = "input.resize"
    else:
        label = image or "chelsea"
        shape = load_image(label, config).shape
    stages = plan(config, shape)
    itemsize = config.np_dtype.itemsize
    header = ["#", "stage", "type", "parameters", "output", "params", "mult-adds", "receptive field", "jump", "memory"]
    rows = [["0", "input", "", label, _x(shape), "-", "-", "1×1", "1×1", format_bytes(int(shape[0] * shape[1] * shape[2]) * itemsize)]]
    for s in stages:
        rows.append([
            str(s.index), s.name, s.type, describe_stage(s), _x(s.output_shape), _count(s.param_count),
            _count(s.macs), _x(s.receptive_field), _x(s.jump), format_bytes(s.output_bytes),
        ])
    total_params = sum(s.param_count for s in stages)
    total_macs = sum(s.macs for s in stages)
    total_mem = sum(s.output_bytes for s in stages)
    rows.append(["", "total", "", "", "", _count(total_params), _count(total_macs), "", "", format_bytes(total_mem)])
    right = {0, 5, 6, 9}
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    out += [line(r) for r in rows[:-1]]
    out += [line(["-" * w for w in widths]), line(rows[-1])]
    return "\n".join(out)


# --- presets, init, inspect ----------------------------------------------------


def presets_command() -> str:
    """Every filter preset with its parameters and defaults."""
    from .filters import PRESETS

    lines = []
    for spec in PRESETS.values():
        lines.append(f"{spec.name}: {spec.description}")
        for pname, p in spec.params.items():
            lines.append(f"    {pname} ({p.type_name}, default {p.default_text}): {p.doc}")
    lines.append("")
    lines.append("Use one in a conv stage: filters: [{preset: gabor, theta: 45, wavelength: 8}]")
    return "\n".join(lines)


STARTER_CONFIG = """\
# A cnnviz config: a stack of CNN stages run on an image.
# Run it with:   cnnviz run {name} chelsea
# Check it with: cnnviz validate {name}      Shapes and sizes: cnnviz summary {name}

input:
  color: gray            # gray | rgb | keep (keep: as the file is)
  resize: null           # null | [height, width] | longest side as an integer

seed: 0                  # seeds every random filter: same seed, same picture

stages:
  # A conv stage: each filter gives one feature map.
  - type: conv
    name: edges          # optional; default <type><n>, e.g. conv1
    padding: same        # valid | same | full | an integer | [pad_h, pad_w]
    filters:
      - {{preset: sobel_x}}                    # named kernels: cnnviz presets
      - {{preset: sobel_y}}
      - [[0, 1, 0], [1, -4, 1], [0, 1, 0]]     # or write a kernel out
  - relu                 # relu | leaky_relu | sigmoid | tanh | abs
  - {{type: pool, size: 2, mode: max}}         # max | avg | min
  - type: conv
    filters:
      - {{random: {{count: 4, size: 5, dist: he}}}}  # seeded random kernels
  - relu

render:
  cmap: gray             # any matplotlib colormap, e.g. viridis, RdBu_r
  normalize: map         # map | layer | global
  max_maps: 64
"""


def init_command(path: str, force: bool = False) -> Path:
    """Write a commented starter config to ``path`` (refuses to overwrite)."""
    p = Path(path)
    if p.is_dir():
        p = p / "cnnviz.yaml"
    if p.exists() and not force:
        raise CnnvizError(f"{p} already exists (use --force to overwrite it)")
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        tmp.write_text(STARTER_CONFIG.format(name=p), encoding="utf-8")
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CnnvizError(f"{p}: cannot write: {exc.strerror}") from None
    return p


def inspect_command(path: str) -> str:
    """What cnnviz embedded in a PNG it wrote: version, image, config."""
    from .pngio import read_png_metadata

    p = Path(path)
    if not p.exists():
        raise CnnvizError(f"file not found: {p}")
    try:
        meta = read_png_metadata(p)
    except (OSError, ValueError):
        raise CnnvizError(f"{p}: not a PNG file") from None
    if not meta:
        raise CnnvizError(f"{p}: no cnnviz metadata (was it written by cnnviz?)")
    lines = [f"{k}: {v}" for k, v in meta.items() if k != "config"]
    if "config" in meta:
        lines += ["config:", str(meta["config"]).rstrip()]
    return "\n".join(lines)


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1
