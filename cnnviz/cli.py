"""The ``cnnviz`` command line: parse options, call the library, print.

This module only parses and dispatches; the work lives in :mod:`cnnviz.app`.
Errors become exit codes in one place (:class:`_Group`): a
:class:`~cnnviz.errors.CnnvizError` is one ``Error: ...`` line per mistake on
stderr and exit status 1; Ctrl-C is 130, SIGTERM 143 and SIGHUP 129, after
every worker process has been stopped; usage errors are 2, as click does.
No library warning reaches the terminal (``--debug`` shows them, and
tracebacks).  Nothing heavy (NumPy, matplotlib, scikit-image) is imported
until a command runs.
"""

from __future__ import annotations

import atexit
import gc
import re
import shutil
import signal
import sys
import time
import warnings
from typing import IO, Any

import click

from .version import __version__

# When the process ends, Python's last cycle collections scan every object still alive
# (NumPy's and cnnviz's modules, caches, the last pictures): 12-15 % of a `cnnviz run` of
# configs/numpycnn.yaml (benchmarks row 5).  Nothing needs collecting then, so an exit handler
# registered here, before any the run adds (handlers run last-in, first-out), freezes them:
# they are still freed, just not scanned.
atexit.register(gc.freeze)


class Interrupted(BaseException):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C (workers stopped, temporary files removed), then exit 128 + N."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


def _redeliver(previous: Any) -> Any:
    """An ``unraisablehook`` that re-sends a signal whose exception a weakref callback or ``__del__`` swallowed.

    Python cannot raise out of such callbacks: a Ctrl-C that lands in one is
    printed as "ignored" and the run goes on.  Sending the signal again a
    moment later, from another thread, raises it where it can stop the run.
    """
    import threading

    def hook(args: Any) -> None:
        if args.exc_type is not None and issubclass(args.exc_type, (KeyboardInterrupt, Interrupted)):
            signum = getattr(args.exc_value, "signum", signal.SIGINT)
            threading.Timer(0.01, signal.raise_signal, (signum,)).start()
            return
        previous(args)

    return hook


class _Group(click.Group):
    """Turns a user's mistake into one line per error (exit 1), and a signal into 128 + its number."""

    def invoke(self, ctx: click.Context) -> Any:
        from .errors import CnnvizError, error_lines

        debug = bool(ctx.params.get("debug"))
        previous = {}
        for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                try:
                    previous[sig] = signal.signal(sig, _raise_interrupted)
                except ValueError:  # not the main thread (an embedding program): leave signals alone
                    break
        unraisable = sys.unraisablehook
        sys.unraisablehook = _redeliver(unraisable)
        try:
            with warnings.catch_warnings():
                if not debug:
                    warnings.simplefilter("ignore")  # the one error line stands alone
                return super().invoke(ctx)
        except CnnvizError as err:
            if debug:
                raise
            remedy = getattr(err, "remedy", None)
            if remedy is not None:
                err.remedy = "raise the limit with --max-memory"  # type: ignore[attr-defined]
            for line in error_lines(err):
                click.echo(f"Error: {line}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except Interrupted as stop:
            click.echo("Terminated." if stop.signum == signal.SIGTERM else "Hung up.", err=True)
            ctx.exit(128 + stop.signum)
        finally:
            sys.unraisablehook = unraisable
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class ByteSize(click.ParamType):
    """``2G``, ``512MiB``, ``1.5GB``, ``1000000`` -> bytes (a usage error otherwise, exit 2)."""

    name = "SIZE"
    _RE = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", re.IGNORECASE)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        m = self._RE.fullmatch(str(value))
        if not m:
            self.fail(f"expected a size such as 2G or 512M, not {value!r}", param, ctx)
        scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
        return int(float(m.group(1)) * scale)


def _clock(seconds: float) -> str:
    s = max(0, round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """A one-line progress bar on a terminal: done/total, rate, ETA, the item just finished.

    Redrawn in place (``\\r``, padded over the previous line) at most ten
    times a second, and only when ``stream`` is a terminal; on anything else
    (a pipe, a file, None) it prints nothing.  :meth:`close` ends it with the
    totals and no item, on a clean line.
    """

    def __init__(self, stream: IO[str] | None, *, what: str = "tasks") -> None:
        try:
            tty = stream is not None and stream.isatty()
        except (AttributeError, ValueError, OSError):
            tty = False
        self.stream = stream if tty else None
        self.what = what
        self.done = self.total = 0
        self.start = time.monotonic()
        self._last = 0.0
        self._width = 0

    def line(self, note: str = "") -> str:
        """The bar's text for the current state."""
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 and self.done else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else None
        frac = self.done / self.total if self.total else 1.0
        cols = shutil.get_terminal_size((80, 24)).columns
        fill = round(frac * 24)
        when = f"in {_clock(elapsed)}" if self.done >= self.total else \
            f"ETA {_clock(eta) if eta is not None else '--:--'}"
        text = f"[{'#' * fill}{'.' * (24 - fill)}] {self.done}/{self.total} {self.what}  {rate:.2f}/s  {when}"
        if note:
            text += f"  {note}"
        return text[: max(10, cols - 1)]

    def _draw(self, text: str, end: str = "") -> None:
        assert self.stream is not None
        self.stream.write("\r" + text + " " * max(0, self._width - len(text)) + end)
        self.stream.flush()
        self._width = 0 if end else len(text)

    def update(self, done: int, total: int, note: str = "") -> None:
        """A task finished: ``done`` of ``total``; ``note`` names it."""
        self.done, self.total = done, total
        if self.stream is None:
            return
        now = time.monotonic()
        if self._width and now - self._last < 0.1 and done < total:
            return
        self._last = now
        self._draw(self.line(note))

    def close(self) -> None:
        if self.stream is not None and self._width:
            self._draw(self.line(), end="\n")


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
@click.option("--dpi", type=click.IntRange(20, 1200),
              help="Resolution (render.dpi): the whole figure, maps and text, scales with it; 100 is 1:1.")
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]),
              help="Picture format (render.format): svg and pdf keep text as text.")
@click.option("--overlay", is_flag=True, default=None,
              help="Also draw each spatial stage's strongest maps placed on the input (render.overlay).")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override any config value, e.g. --set stages[0].stride=2 (repeatable).")
@click.option("--save-arrays", is_flag=True, help="Also write activations.npz (one (H, W, C) array per stage).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Images to process in parallel.")
@click.option("--max-memory", type=ByteSize(),
              help="Refuse stacks estimated to need more memory than SIZE (e.g. 2G) "
                   "[3/4 of the available memory].")
@click.option("--stream/--no-stream", default=True, show_default=True,
              help="Draw each stage as it is computed and drop it (least memory); --no-stream keeps every "
                   "stage's output until the end (normalize: global then needs one pass, not two).")
def run(config: str, images: tuple[str, ...], outdir: str | None, cmap: str | None, normalize: str | None,
        max_maps: int | None, scale: int | None, dpi: int | None, fmt: str | None, overlay: bool | None,
        overrides: tuple[str, ...], save_arrays: bool, jobs: int, max_memory: int | None, stream: bool) -> None:
    """Run CONFIG on each IMAGE (a file or a sample name) and write the figures.

    \b
    Examples:
        cnnviz run configs/numpycnn.yaml chelsea
        cnnviz run configs/edges.yaml camera coins -o out/ --cmap RdBu_r
        cnnviz run configs/numpycnn.yaml photo.jpg --set stages[0].stride=2
        cnnviz run configs/digits.yaml configs/digits/3.png --overlay
    """
    from .app.commands import RunRequest, run_command

    sets = list(overrides)
    for key, value in (("cmap", cmap), ("normalize", normalize), ("max_maps", max_maps),
                       ("scale", scale), ("dpi", dpi), ("format", fmt), ("overlay", "true" if overlay else None)):
        if value is not None:
            sets.append(f"render.{key}={value}")
    written = run_command(RunRequest(config, list(images), outdir, sets, save_arrays, jobs, max_memory, stream))
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
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), help="Picture format (render.format).")
@click.option("--overlay", is_flag=True, default=None,
              help="Also draw each spatial stage's strongest maps placed on the input (render.overlay).")
@click.option("--save-arrays", is_flag=True, help="Also write activations.npz for each output.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def batch(configs: tuple[str, ...], images: tuple[str, ...], outdir: str, jobs: int | None, force: bool,
          shared_scale: bool, scheduler: str | None, overrides: tuple[str, ...], fmt: str | None,
          overlay: bool | None, save_arrays: bool, quiet: bool) -> None:
    """Render many CONFIGS (files, folders, globs) on many images, in parallel.

    Outputs that are up to date (same config, same image, same cnnviz version)
    are skipped; one failing image does not stop the others. Writes an
    index.html contact sheet at OUT.

    \b
    Example:
        cnnviz batch configs/ -i chelsea -i camera -i 'photos/*.jpg' -o figures/ -j 2
    """
    from .app.batch.runner import BatchRequest, run_batch

    bar = Progress(None if quiet else sys.stderr)
    try:
        report = run_batch(
            BatchRequest(list(configs), list(images), outdir, jobs=jobs, force=force, shared_scale=shared_scale,
                         scheduler=scheduler, overrides=[*overrides, *([f"render.format={fmt}"] if fmt else []),
                                                         *(["render.overlay=true"] if overlay else [])],
                         save_arrays=save_arrays),
            progress=bar.update,
        )
    finally:
        bar.close()
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
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), help="Picture format (render.format).")
@click.option("--overlay", is_flag=True, default=None,
              help="Also draw each spatial stage's strongest maps placed on the input (render.overlay).")
def watch(config: str, image: str, outdir: str | None, serve: bool, port: int, poll: bool,
          overrides: tuple[str, ...], fmt: str | None, overlay: bool | None) -> None:
    """Re-render CONFIG on IMAGE whenever the config (or a filter file it names) is saved.

    An invalid edit prints its error and keeps watching; the last good
    figures stay in place. Stop with Ctrl-C.

    \b
    Example:
        cnnviz watch configs/edges.yaml camera --serve
    """
    from .app.watch.watcher import WatchRequest, watch_command

    sets = [*overrides, *([f"render.format={fmt}"] if fmt else []), *(["render.overlay=true"] if overlay else [])]
    code = watch_command(WatchRequest(config, image, outdir, serve=serve, port=port, poll=poll,
                                      overrides=sets), out=sys.stdout, err=sys.stderr)
    sys.exit(code)


@main.command()
@click.argument("configs", nargs=-1, required=True, type=_CONFIG)
@click.option("--image", metavar="IMAGE", help="Also check the stack against this image (a file or sample name).")
def validate(configs: tuple[str, ...], image: str | None) -> None:
    """Check CONFIGs without running them: 'ok', or every error found.

    Everything the config itself fixes is checked (kernel depths once
    input.color fixes the channels, sizes once input.resize fixes them);
    with --image, everything that image fixes too.

    \b
    Examples:
        cnnviz validate configs/*.yaml
        cnnviz validate my.yaml --image photo.jpg
    """
    from .app.commands import validate_command

    failed = False
    for path, errors in validate_command(list(configs), image):
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
    from .app.summary import summary_command

    click.echo(summary_command(config, image, list(overrides)))


@main.command()
def presets() -> None:
    """List the filter presets and their parameters.

    \b
    Example:
        cnnviz presets
    """
    from .app.commands import presets_command

    click.echo(presets_command())


@main.command()
def samples() -> None:
    """List the sample images bundled with scikit-image (usable as IMAGE).

    \b
    Example:
        cnnviz run configs/gabor.yaml astronaut
    """
    from .io.images import SAMPLES

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
    from .app.commands import init_command

    click.echo(f"wrote {init_command(path, force)}")


@main.command("import")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Where to write the stack [MODEL's name .yaml, here]; the weights go beside it as .npz.")
@click.option("--force", is_flag=True, help="Overwrite the YAML and NPZ if they exist.")
def import_(model: str, output: str | None, force: bool) -> None:
    """Turn a trained ONNX model into a cnnviz stack: STACK.yaml and its weights STACK.npz.

    \b
    Examples:
        cnnviz import configs/digits.onnx -o digits.yaml
        cnnviz run digits.yaml configs/digits/3.png
        cnnviz run configs/digits.onnx configs/digits/3.png   # the same, imported in memory
    """
    from .importers import import_command

    yaml_path, npz_path = import_command(model, output, force)
    click.echo(f"wrote {yaml_path} and {npz_path}")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
def inspect(file: str) -> None:
    """Print the config, image and version embedded in a PNG, SVG or PDF that cnnviz wrote.

    \b
    Examples:
        cnnviz inspect cnnviz-out/numpycnn/chelsea/01_edges.png
        cnnviz inspect cnnviz-out/numpycnn/chelsea/01_edges.svg
    """
    from .app.commands import inspect_command

    click.echo(inspect_command(file))


if __name__ == "__main__":  # pragma: no cover
    main()
