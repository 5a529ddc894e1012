"""The ``cnnviz`` command line: parse options, call the library, report.

This module only parses and dispatches.  The work lives in the library
(:mod:`cnnviz.commands` holds one function per command); a
:class:`~cnnviz.errors.CnnvizError` becomes one ``Error: ...`` line on stderr
and exit status 1, in one place (:class:`_Group`).  Nothing heavy (NumPy,
matplotlib, scikit-image) is imported until a command runs.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from . import __version__


class _Group(click.Group):
    """Turns a user's mistake into one line (exit 1), and Ctrl-C into exit 130."""

    def invoke(self, ctx: click.Context) -> Any:
        from .errors import CnnvizError, ConfigErrors

        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except CnnvizError as err:
            if debug:
                raise
            errors = err.errors if isinstance(err, ConfigErrors) else [err]
            for e in errors:
                click.echo(f"Error: {e}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="cnnviz")
@click.option("--debug", is_flag=True, help="Show a traceback instead of a one-line error.")
def main(debug: bool) -> None:
    """See what a stack of CNN stages does to an image.

    Write the stack as YAML (conv, activation, pool, norm, dense stages and
    their filters), run it on an image, and get a PNG grid of every stage's
    feature maps, a picture of the filters, an overview and a manifest.

    \b
    Example:
        cnnviz init my.yaml && cnnviz run my.yaml chelsea
    """


_CONFIG = click.Path(dir_okay=False)


@main.command()
@click.argument("config", type=_CONFIG)
@click.argument("images", nargs=-1, required=True)
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False),
              help="Output folder [cnnviz-out/<config>/<image>]; with several images, one sub-folder each.")
@click.option("--cmap", help="Colormap (overrides render.cmap), e.g. viridis, RdBu_r.")
@click.option("--normalize", type=click.Choice(["map", "layer", "global"]), help="Overrides render.normalize.")
@click.option("--max-maps", type=click.IntRange(min=1), help="Overrides render.max_maps.")
@click.option("--scale", type=click.IntRange(1, 64), help="Integer pixel zoom (overrides render.scale).")
@click.option("--dpi", type=click.IntRange(20, 1200), help="Resolution of the matplotlib figures (render.dpi).")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override any config value, e.g. --set stages[0].stride=2 (repeatable).")
@click.option("--save-arrays", is_flag=True, help="Also write activations.npz (one (H, W, C) array per stage).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Images to process in parallel.")
@click.option("--max-memory", metavar="SIZE",
              help="Refuse stacks estimated to need more memory than SIZE (e.g. 2G) "
                   "[3/4 of the available memory].")
@click.option("--stream/--no-stream", default=True, show_default=True,
              help="Draw each stage as it is computed and drop it (least memory); --no-stream keeps every "
                   "stage's output until the end (normalize: global then needs one pass, not two).")
def run(config: str, images: tuple[str, ...], outdir: str | None, cmap: str | None, normalize: str | None,
        max_maps: int | None, scale: int | None, dpi: int | None, overrides: tuple[str, ...],
        save_arrays: bool, jobs: int, max_memory: str | None, stream: bool) -> None:
    """Run CONFIG on each IMAGE (a file or a sample name) and write the figures.

    \b
    Examples:
        cnnviz run configs/numpycnn.yaml chelsea
        cnnviz run configs/edges.yaml camera coins -o out/ --cmap RdBu_r
        cnnviz run configs/numpycnn.yaml photo.jpg --set stages[0].stride=2
    """
    from .commands import RunRequest, run_command

    sets = list(overrides)
    for key, value in (("cmap", cmap), ("normalize", normalize), ("max_maps", max_maps),
                       ("scale", scale), ("dpi", dpi)):
        if value is not None:
            sets.append(f"render.{key}={value}")
    from .pipeline import parse_bytes

    limit = parse_bytes(max_memory) if max_memory else None
    written = run_command(RunRequest(config, list(images), outdir, sets, save_arrays, jobs, limit, stream))
    folders = sorted({str(p.parent) for p in written})
    click.echo(f"wrote {len(written)} files to {', '.join(folders)}")


@main.command()
@click.argument("configs", nargs=-1, required=True)
@click.option("-i", "--image", "images", multiple=True, required=True, metavar="IMAGE",
              help="Image file, folder, glob (quote it) or sample name (repeatable).")
@click.option("-o", "--output", "outdir", default="cnnviz-batch", show_default=True, type=click.Path(file_okay=False),
              help="Output folder: OUT/<config>/<image>/ and OUT/index.html.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Parallel workers [the machine's cores].")
@click.option("--force", is_flag=True, help="Re-render outputs that are up to date.")
@click.option("--shared-scale", is_flag=True,
              help="One colour scale per stage across all images of a config, so they can be compared.")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Run on an existing dask.distributed cluster (needs the [dask] extra).")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE", help="Override a value in every config.")
@click.option("--save-arrays", is_flag=True, help="Also write activations.npz for each output.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def batch(configs: tuple[str, ...], images: tuple[str, ...], outdir: str, jobs: int | None, force: bool,
          shared_scale: bool, scheduler: str | None, overrides: tuple[str, ...], save_arrays: bool,
          quiet: bool) -> None:
    """Render many CONFIGS (files, folders, globs) on many images, in parallel.

    Outputs that are up to date (same config, same image, same cnnviz version)
    are skipped; one failing image does not stop the others. Writes an
    index.html contact sheet at OUT.

    \b
    Example:
        cnnviz batch configs/ -i chelsea -i camera -i 'photos/*.jpg' -o figures/ -j 2
    """
    from .batch import BatchRequest, run_batch

    report = run_batch(
        BatchRequest(list(configs), list(images), outdir, jobs=jobs, force=force, shared_scale=shared_scale,
                     scheduler=scheduler, overrides=list(overrides), save_arrays=save_arrays),
        progress=None if quiet else sys.stderr,
    )
    click.echo(report.summary())
    for line in report.failures():
        click.echo(f"Error: {line}", err=True)
    if report.failed:
        sys.exit(1)


@main.command()
@click.argument("config", type=_CONFIG)
@click.argument("image")
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False),
              help="Output folder [cnnviz-out/<config>/<image>].")
@click.option("--serve", is_flag=True, help="Also serve a page on 127.0.0.1 that shows the figures as they change.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port for --serve (0: pick a free one).")
@click.option("--poll", is_flag=True, help="Poll for changes instead of using watchfiles.")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE", help="Override a config value.")
def watch(config: str, image: str, outdir: str | None, serve: bool, port: int, poll: bool,
          overrides: tuple[str, ...]) -> None:
    """Re-render CONFIG on IMAGE whenever the config (or a filter file it names) is saved.

    An invalid edit prints its error and keeps watching; the last good
    figures stay in place. Stop with Ctrl-C.

    \b
    Example:
        cnnviz watch configs/edges.yaml camera --serve
    """
    from .watch import WatchRequest, watch_command

    code = watch_command(WatchRequest(config, image, outdir, serve=serve, port=port, poll=poll,
                                      overrides=list(overrides)), out=sys.stdout, err=sys.stderr)
    sys.exit(code)


@main.command()
@click.argument("configs", nargs=-1, required=True, type=_CONFIG)
def validate(configs: tuple[str, ...]) -> None:
    """Check CONFIGs without running them: 'ok', or every error found.

    \b
    Example:
        cnnviz validate configs/*.yaml
    """
    from .commands import validate_command

    failed = False
    for path, errors in validate_command(list(configs)):
        for e in errors:
            click.echo(f"Error: {e}", err=True)
        if not errors:
            click.echo(f"{path}: ok")
        failed = failed or bool(errors)
    if failed:
        sys.exit(1)


@main.command()
@click.argument("config", type=_CONFIG)
@click.argument("image", required=False)
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE", help="Override a config value.")
def summary(config: str, image: str | None, overrides: tuple[str, ...]) -> None:
    """Print a table of CONFIG's stages: shapes, parameters, multiply-adds, receptive fields.

    Without IMAGE the input is input.resize when it fixes the shape, else the chelsea sample.

    \b
    Example:
        cnnviz summary configs/numpycnn.yaml chelsea
    """
    from .commands import summary_command

    click.echo(summary_command(config, image, list(overrides)))


@main.command()
def presets() -> None:
    """List the filter presets and their parameters.

    \b
    Example:
        cnnviz presets
    """
    from .commands import presets_command

    click.echo(presets_command())


@main.command()
def samples() -> None:
    """List the sample images bundled with scikit-image (usable as IMAGE).

    \b
    Example:
        cnnviz run configs/gabor.yaml astronaut
    """
    from .images import SAMPLES

    for name, file in SAMPLES.items():
        click.echo(f"{name:22} {file}")


@main.command()
@click.argument("path", default="cnnviz.yaml", type=click.Path())
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def init(path: str, force: bool) -> None:
    """Write a commented starter config to PATH [cnnviz.yaml].

    \b
    Example:
        cnnviz init my.yaml && cnnviz run my.yaml camera
    """
    from .commands import init_command

    click.echo(f"wrote {init_command(path, force)}")


@main.command()
@click.argument("png", type=click.Path(dir_okay=False))
def inspect(png: str) -> None:
    """Print the config, image and version embedded in a PNG that cnnviz wrote.

    \b
    Example:
        cnnviz inspect cnnviz-out/numpycnn/chelsea/01_edges.png
    """
    from .commands import inspect_command

    click.echo(inspect_command(png))


if __name__ == "__main__":  # pragma: no cover
    main()
