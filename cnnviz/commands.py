"""One function per command: the library side of :mod:`cnnviz.cli`.

Each takes plain values, does the work, and returns what the command prints;
user mistakes are raised as :class:`~cnnviz.errors.CnnvizError`.
"""

from __future__ import annotations

from pathlib import Path

from .config import Config, apply_overrides, load_config
from .errors import CnnvizError, ConfigErrors

__all__ = ["default_outdir", "run_command", "validate_command"]


def default_outdir(config: Config, config_path: str, image: str) -> Path:
    """``cnnviz-out/<config>/<image>``: never the current folder itself."""
    from .images import image_label

    return Path("cnnviz-out") / (config.name or Path(config_path).stem) / image_label(image)


def run_command(
    config_path: str, images: list[str], *, outdir: str | None = None, overrides: list[str] | None = None
) -> list[Path]:
    """Load, validate and run ``config_path`` on every image, writing the figures.

    Every image is loaded and the stack planned for it before anything is
    written, so a bad config or image writes nothing.
    """
    from .images import load_image
    from .pipeline import plan, run
    from .render import render

    config = load_config(Path(config_path))
    if overrides:
        config = apply_overrides(config, overrides)
    jobs = []
    for image in images:
        x = load_image(image, config)
        plan(config, x.shape)
        out = Path(outdir) if outdir else default_outdir(config, config_path, image)
        if outdir and len(images) > 1:
            from .images import image_label

            out = out / image_label(image)
        jobs.append((x, out))
    written: list[Path] = []
    for x, out in jobs:
        layers = run(config, x)
        written += render(config, layers, out, image=x)
    return written


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
            if isinstance(config.resize, tuple) and config.color != "keep":
                plan(config, config.resize + (1 if config.color == "gray" else 3,))
        except ConfigErrors as err:
            results.append((path, err.errors))
        except CnnvizError as err:
            results.append((path, [err]))
        else:
            results.append((path, []))
    return results
