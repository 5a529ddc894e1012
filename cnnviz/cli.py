"""The ``cnnviz`` command line: parse options, call the library, report.

This module only parses and dispatches.  The work lives in the library
(:mod:`cnnviz.commands` holds one small function per command); a
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
    """Turns a user's mistake into one line, and Ctrl-C into exit status 130."""

    def invoke(self, ctx: click.Context) -> Any:
        from .errors import CnnvizError, ConfigErrors

        try:
            return super().invoke(ctx)
        except ConfigErrors as err:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            for e in err.errors:
                click.echo(f"Error: {e}", err=True)
            ctx.exit(1)
        except CnnvizError as err:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {err}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="cnnviz")
@click.option("--debug", is_flag=True, help="Show a traceback instead of a one-line error.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """See what a stack of CNN stages does to an image.

    Write the stack as YAML (conv, activation, pool, norm, dense stages and
    their filters), run it on an image, and get a PNG grid of every stage's
    feature maps, a picture of the filters, an overview and a manifest.

    \b
    Example:
        cnnviz run configs/numpycnn.yaml chelsea -o out/
    """
    ctx.obj = {"debug": debug}


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.argument("images", nargs=-1, required=True)
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False),
              help="Output folder [cnnviz-out/<config>/<image>].")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override any config value, e.g. --set stages[0].stride=2 (repeatable).")
def run(config: str, images: tuple[str, ...], outdir: str | None, overrides: tuple[str, ...]) -> None:
    """Run CONFIG on each IMAGE (a file or a sample name) and write the figures.

    \b
    Example:
        cnnviz run configs/numpycnn.yaml chelsea -o out/
    """
    from .commands import run_command

    for path in run_command(config, list(images), outdir=outdir, overrides=list(overrides)):
        click.echo(path)


@main.command()
@click.argument("configs", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(configs: tuple[str, ...]) -> None:
    """Check CONFIGs without running them: 'ok', or every error found.

    \b
    Example:
        cnnviz validate configs/*.yaml
    """
    from .commands import validate_command

    failed = False
    for path, errors in validate_command(list(configs)):
        if errors:
            failed = True
            for e in errors:
                click.echo(f"Error: {e}", err=True)
        else:
            click.echo(f"{path}: ok")
    if failed:
        sys.exit(1)


@main.command()
def samples() -> None:
    """List the sample images bundled with scikit-image (usable as IMAGE).

    \b
    Example:
        cnnviz samples
    """
    from .images import SAMPLES

    for name in SAMPLES:
        click.echo(name)


if __name__ == "__main__":  # pragma: no cover
    main()
