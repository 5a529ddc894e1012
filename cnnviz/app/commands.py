"""One function per command: the library side of :mod:`cnnviz.cli`.

Each takes plain values, does the work, and returns what the command prints
(or the files it wrote); a user's mistake is raised as
:class:`~cnnviz.errors.CnnvizError`.  Nothing here knows about click.
``run`` goes through :class:`cnnviz.app.session.Session`, as batch and watch do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CnnvizError, ConfigErrors
from ..importers import load_config, load_config_file
from ..io.images import image_label
from ..limits import MAX_PIXELS
from .session import Session, default_outdir

__all__ = [
    "RunRequest",
    "run_command",
    "validate_command",
    "presets_command",
    "init_command",
    "inspect_command",
    "STARTER_CONFIG",
]


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


def _render(session: Session, out: Path, req: RunRequest) -> list[Path]:
    """Render one prepared session (in this process or in a worker)."""
    return session.render(out, stream=req.stream, save_arrays=req.save_arrays, config_path=req.config_path).files


def _about_image(err: CnnvizError, image: str) -> CnnvizError:
    """With several images, say which one an error is about (unless it already names it)."""
    for e in err.errors if isinstance(err, ConfigErrors) else [err]:
        if image not in str(e):
            e.subject = image
    return err


def run_command(req: RunRequest) -> list[Path]:
    """Load and validate a config once, then run it on every image, writing the figures.

    Every image is read, the stack planned for it and its memory estimate
    checked before anything is written, so a bad config or a bad image
    writes nothing.  With several images and ``-o DIR``, each image gets
    ``DIR/<image>``; ``jobs`` > 1 renders them in worker processes.

    Returns
    -------
    list of Path
        Every file written, in order.
    """
    config = load_config_file(req.config_path, req.overrides)
    several = len(req.images) > 1
    sessions: list[tuple[Session, Path]] = []
    plans: dict = {}
    for image in req.images:
        try:
            session = Session(config, image, max_memory=req.max_memory, plans=plans)
            session.check(keep=not req.stream)
        except CnnvizError as err:
            raise (_about_image(err, image) if several else err) from None
        if req.outdir is None:
            out = default_outdir(config, req.config_path, image)
        elif several:
            out = Path(req.outdir) / image_label(image)
        else:
            out = Path(req.outdir)
        if several:
            session.release()  # read again when its turn comes: not every image in memory at once
        sessions.append((session, out))
    outs = [o for _, o in sessions]
    if len(set(outs)) != len(outs):
        raise CnnvizError("two images would write to the same folder; give them different names")
    if req.jobs <= 1 or len(sessions) == 1:
        return [p for session, out in sessions for p in _render(session, out, req)]
    from .batch.executors import open_executor

    with open_executor(req.jobs, None, len(sessions)) as (pool, _):
        futures = [pool.submit(_render, session, out, req) for session, out in sessions]
        return [p for f in futures for p in f.result()]


def validate_command(paths: list[str], image: str | None = None) -> list[tuple[str, list[CnnvizError]]]:
    """Validate each config; return ``(path, errors)`` pairs (no errors: ok).

    Everything the config itself fixes is checked: the stack is planned for
    the input shape it fixes — with ``input.color: gray | rgb`` the channels
    are known even when ``input.resize`` does not fix the size, so a kernel
    of the wrong depth is found.  With ``image``, the stack is planned for
    that image, as ``run`` would.
    """
    from ..pipeline.plan import plan

    results: list[tuple[str, list[CnnvizError]]] = []
    for path in paths:
        errors: list[CnnvizError] = []
        try:
            config = load_config(Path(path))
            if image is not None:
                Session(config, image)
            elif config.fixed_input_shape is not None:
                plan(config, config.fixed_input_shape)
            elif config.color != "keep":
                # the channels are fixed, the size is not: plan on the largest input the config allows
                side = config.resize if isinstance(config.resize, int) else MAX_PIXELS
                try:
                    plan(config, (side, side, 1 if config.color == "gray" else 3))
                except CnnvizError as err:
                    if not err.size_dependent:  # dense weights whose width depends on the size are not judged
                        raise
        except ConfigErrors as err:
            errors = err.errors
        except CnnvizError as err:
            errors = [err]
        results.append((path, errors))
    return results


# --- presets, init, inspect ----------------------------------------------------


def presets_command() -> str:
    """Every filter preset with its parameters and defaults."""
    from ..ops.kernels import PRESETS

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
    """What cnnviz embedded in a PNG, SVG or PDF it wrote: version, image, config.

    The reader is chosen by the file's suffix (``.png``, ``.svg``, ``.pdf``,
    any case); a file with another suffix by its first bytes.
    """
    from ..io.pngio import read_png_metadata
    from ..io.vectormeta import read_pdf_metadata, read_svg_metadata, sniff_format

    readers = {"png": read_png_metadata, "svg": read_svg_metadata, "pdf": read_pdf_metadata}
    p = Path(path)
    if not p.exists():
        raise CnnvizError(f"file not found: {p}")
    kind = p.suffix.lower().lstrip(".")
    if kind not in readers:
        try:
            with open(p, "rb") as f:
                head = f.read(1024)
        except IsADirectoryError:
            raise CnnvizError(f"{p}: is a directory, not a PNG, SVG or PDF file") from None
        except OSError as exc:
            raise CnnvizError(f"{p}: cannot read the file: {exc.strerror}") from None
        kind = sniff_format(head) or ""
        if kind not in readers:
            raise CnnvizError(f"{p}: not a PNG, SVG or PDF file")
    try:
        meta = readers[kind](p)
    except (OSError, ValueError):
        raise CnnvizError(f"{p}: not {'an' if kind == 'svg' else 'a'} {kind.upper()} file") from None
    if not meta:
        raise CnnvizError(f"{p}: carries no cnnviz metadata (was it written by cnnviz?)")
    lines = [f"{k}: {v}" for k, v in meta.items() if k != "config"]
    if "config" in meta:
        lines += ["config:", str(meta["config"]).rstrip()]
    return "\n".join(lines)
