"""``cnnviz batch``: many configs × many images, in parallel, skipping what is up to date.

:func:`run_batch` takes a :class:`BatchRequest` and returns a
:class:`BatchReport`:

1. **Expand** the config arguments (files, folders of ``*.yaml``/``*.yml``,
   globs) and the image arguments (sample names, files, folders of image
   files, globs), and **validate** every config, before any work starts.  A
   pattern that matches nothing, or a config that does not validate, is
   reported at the end (and makes the exit status 1) but does not stop the
   rest: everything else is still rendered.
2. Every config × every image is an *item* written to
   ``OUT/<config>/<image>/`` (the config's ``name:`` or file stem, the image's
   sample name or file stem; colliding names get ``-2``, ``-3``, ... in
   argument order).  An item whose folder holds a stamp with the same *key* is
   **skipped**: the key is a hash of the config file's bytes, the bytes of
   every filter or weights file it names, the ``--set`` overrides, the image's
   bytes, the cnnviz version, ``--save-arrays`` and (``--shared-scale``) the
   set of images sharing the scale.  The stamp is written only after the
   render and its thumbnails succeeded, so an interrupted render is never
   taken as up to date.
3. The remaining items run on a :class:`concurrent.futures.Executor`: a
   local :class:`~concurrent.futures.ProcessPoolExecutor` with ``jobs``
   workers, or, with ``scheduler``, an existing dask.distributed cluster
   (``Client(address).get_executor()``).  A task is plain, picklable data
   (:class:`Task`: paths and strings); each worker loads the config and the
   image itself, so the workers must see the same files at the same
   (absolute) paths.  One failing item does not stop the others.
4. ``--shared-scale``: a first pass runs every image of a config and keeps
   only each stage's min and max; the renders then use, per stage, the range
   over all the images as the colour scale (with a colorbar), so that the
   pictures of different images can be compared.
5. ``OUT/index.html`` (:mod:`cnnviz.contact_sheet`) is rewritten to cover
   every output in ``OUT``, and every item whose last attempt failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import hashlib
import json
import os
import re
import shutil
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from . import __version__
from .config import load_config_file, referenced_files
from .errors import CnnvizError, ConfigErrors

__all__ = [
    "BatchRequest",
    "BatchReport",
    "ItemResult",
    "Task",
    "ImageSource",
    "ConfigSource",
    "IMAGE_EXTENSIONS",
    "CONFIG_EXTENSIONS",
    "expand_images",
    "expand_configs",
    "config_digest",
    "run_task",
    "open_executor",
    "Progress",
    "run_batch",
]

#: Files a folder or glob contributes as images (case-insensitive).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif")
#: Files a folder or glob contributes as configs.
CONFIG_EXTENSIONS = (".yaml", ".yml")
#: Bump when the meaning of the stamp's key changes.
_KEY_VERSION = 1

_MAGIC = re.compile(r"[*?[]")
_ADDRESS = re.compile(r"(?:[a-z][a-z0-9+.-]*://)?(?:\[[0-9a-fA-F:.]+\]|[^\s/:\[\]]+):\d{1,5}")
_UNSAFE = re.compile(r'[/\\:*?"<>|\x00-\x1f]')


@dataclass
class BatchRequest:
    """What ``cnnviz batch`` was asked to do.

    Attributes
    ----------
    configs : list of str
        Config files, folders (their ``*.yaml`` / ``*.yml``) or globs.
    images : list of str
        Image files, folders (their image files), globs or sample names.
    outdir : str
        ``OUT``: outputs go to ``OUT/<config>/<image>/``, the contact sheet to
        ``OUT/index.html``.
    jobs : int or None
        Local worker processes (default: the machine's cores).  With
        ``scheduler``: at most this many tasks in flight (default: no limit).
    force : bool
        Re-render items that are up to date.
    shared_scale : bool
        One colour scale per stage across all the images of a config.
    scheduler : str or None
        ``tcp://HOST:PORT`` of a dask.distributed scheduler.
    overrides : list of str
        ``--set key.path=value`` applied to every config.
    save_arrays : bool
        Also write ``activations.npz``.
    """

    configs: list[str]
    images: list[str]
    outdir: str = "cnnviz-batch"
    jobs: int | None = None
    force: bool = False
    shared_scale: bool = False
    scheduler: str | None = None
    overrides: list[str] = field(default_factory=list)
    save_arrays: bool = False


# ---------------------------------------------------------------------------
# Expanding the arguments.


def _safe_name(name: str) -> str:
    """A folder name: no path separators or characters Windows refuses."""
    s = _UNSAFE.sub("_", name).strip()
    return "_" if s in ("", ".", "..") else s


def _unique(names: Sequence[str]) -> list[str]:
    """``names`` made unique in order: a repeat gets ``-2``, ``-3``, ..."""
    seen: set[str] = set()
    out = []
    for n in names:
        cand, k = n, 2
        while cand in seen:
            cand, k = f"{n}-{k}", k + 1
        seen.add(cand)
        out.append(cand)
    return out


def _file_digest(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class ImageSource:
    """One image of a batch.

    Attributes
    ----------
    source : str
        What a worker loads: a sample name, or an absolute path.
    display : str
        How messages name it: the sample name, or the path as given or matched.
    label : str
        Its folder name under ``OUT/<config>/`` (unique within the batch).
    digest : str
        sha256 of its bytes (for a sample, of ``sample:<name>`` and its file).
    pixels : int
        Width × height from the file's header (0 when unreadable): big images
        are started first, so that one is not left running alone at the end.
    """

    source: str
    display: str
    label: str
    digest: str
    pixels: int = 0


def _folder_files(folder: str, extensions: Sequence[str]) -> list[str]:
    """The files in ``folder`` (not recursive) with one of ``extensions``, sorted by name."""
    return [os.path.join(folder, p.name) for p in sorted(Path(folder).iterdir(), key=lambda p: p.name)
            if p.suffix.lower() in extensions and p.is_file()]


def _expand_pattern(pat: str, extensions: Sequence[str], kind: str) -> tuple[list[str], str | None]:
    """The ``kind`` files one folder, file or glob argument names, and an error when it names none.

    A file is itself (whatever its extension); a folder gives its files with
    ``extensions``; a glob (``**`` recurses) gives the matching files with
    ``extensions`` and the files of matching folders, sorted.  Anything else
    is ``([], None)``: the caller words that.
    """
    if os.path.isdir(pat):
        files = _folder_files(pat, extensions)
        return files, None if files else f"{pat}: no {kind} files in this folder ({_extensions(extensions)})"
    if os.path.isfile(pat):
        return [pat], None
    if _MAGIC.search(pat):
        files = []
        for m in sorted(glob.glob(pat, recursive=True)):
            if os.path.isdir(m):
                files += _folder_files(m, extensions)
            elif Path(m).suffix.lower() in extensions and os.path.isfile(m):
                files.append(m)
        return files, None if files else f"{pat}: no {kind} file matches"
    return [], None


def _extensions(exts: Sequence[str]) -> str:
    return ", ".join(e[1:] for e in exts)


def _pixels(source: str) -> int:
    """Width × height from an image file's header (no decoding); 0 when it cannot be read."""
    from PIL import Image

    from .images import SAMPLES, sample_path

    try:
        with Image.open(sample_path(source) if source in SAMPLES else source) as im:
            return int(im.size[0]) * int(im.size[1])
    except Exception:  # unreadable: its item fails later, with the loader's message
        return 0


def expand_images(patterns: Sequence[str]) -> tuple[list[ImageSource], list[str]]:
    """Expand image arguments into images, in order, without repeats.

    A sample name (``cnnviz samples``) is the sample, as in ``cnnviz run``;
    a file is itself (whatever its extension); a folder gives its image files
    (by extension: png, jpg, jpeg, tif, tiff, bmp, gif; not recursive); a glob
    (``*``, ``?``, ``[``; ``**`` recurses) gives the image files and folders it
    matches, sorted.

    Returns
    -------
    images : list of ImageSource
        Labels made unique (``-2``, ``-3``, ... in this order).
    errors : list of str
        One line per argument that gave no image.
    """
    from .images import SAMPLES, missing_image_error, sample_path

    found: list[tuple[str, str, str]] = []  # (source, display, natural label)
    errors: list[str] = []
    for pat in patterns:
        if pat in SAMPLES:
            found.append((pat, pat, pat))
            continue
        files, error = _expand_pattern(pat, IMAGE_EXTENSIONS, "image")
        if error:
            errors.append(error)
        elif not files:
            errors.append(str(missing_image_error(pat)))
            continue
        for f in files:
            found.append((os.path.abspath(f), f, Path(f).stem))
    images: list[ImageSource] = []
    seen: set[str] = set()
    unique = []
    for source, display, label in found:
        if source not in seen:
            seen.add(source)
            unique.append((source, display, label))
    labels = _unique([_safe_name(lbl) for _, _, lbl in unique])
    for (source, display, _), label in zip(unique, labels, strict=True):
        try:
            if source in SAMPLES:
                digest = hashlib.sha256(f"sample:{source}:{_file_digest(sample_path(source))}".encode()).hexdigest()
            else:
                digest = _file_digest(source)
        except OSError as exc:
            # unreadable: its item fails with the loader's own message; nothing to compare
            digest = f"unreadable:{exc.errno}:{time.time_ns()}"
        images.append(ImageSource(source, display, label, digest, _pixels(source)))
    return images, errors


@dataclass(frozen=True)
class ConfigSource:
    """One config of a batch.

    Attributes
    ----------
    path : str
        Absolute path (what workers load).
    display : str
        The path as given or matched (what messages name).
    name : str
        Its folder name under ``OUT/`` (the config's ``name:`` or file stem; unique).
    digest : str or None
        sha256 over the config's bytes, the files it names and the overrides;
        None when the config is invalid.
    error : str or None
        Why the config is invalid (one line).
    """

    path: str
    display: str
    name: str
    digest: str | None
    error: str | None


def _expand_config_patterns(patterns: Sequence[str]) -> tuple[list[str], list[str]]:
    files: list[str] = []
    errors: list[str] = []
    for pat in patterns:
        got, error = _expand_pattern(pat, CONFIG_EXTENSIONS, "config")
        if error:
            errors.append(error)
        elif not got:
            errors.append(f"config file not found: {pat}")
        files += got
    seen: set[str] = set()
    out = []
    for f in files:
        a = os.path.abspath(f)
        if a not in seen:
            seen.add(a)
            out.append(f)
    return out, errors


def config_digest(config_path: str | os.PathLike[str], config: Any, overrides: Sequence[str]) -> str:
    """sha256 over the config file's bytes, each file it names (path as written and bytes), and the overrides."""
    h = hashlib.sha256()
    h.update(b"config\0")
    h.update(_file_digest(config_path).encode())
    for p in referenced_files(config.data, config.base_dir):
        h.update(b"\0file\0" + str(p).encode() + b"\0" + _file_digest(p).encode())
    h.update(b"\0overrides\0" + json.dumps(list(overrides)).encode())
    return h.hexdigest()


def _error_line(err: CnnvizError) -> str:
    if isinstance(err, ConfigErrors) and len(err.errors) > 1:
        more = len(err.errors) - 1
        return f"{err} (and {more} more error{'s' if more > 1 else ''}: cnnviz validate lists them)"
    return str(err)


def expand_configs(patterns: Sequence[str], overrides: Sequence[str] = ()) -> tuple[list[ConfigSource], list[str]]:
    """Expand and validate config arguments.

    Returns
    -------
    configs : list of ConfigSource
        Every config file found, in order, without repeats; an invalid one
        has ``error`` set (and its items fail with it).
    errors : list of str
        One line per argument that gave no config file.
    """
    files, errors = _expand_config_patterns(patterns)
    staged: list[tuple[str, str, str, str | None, str | None]] = []
    for f in files:
        name = Path(f).stem
        try:
            config = load_config_file(f, overrides)
            name = config.name or name
            digest = config_digest(f, config, overrides)
            staged.append((os.path.abspath(f), f, name, digest, None))
        except CnnvizError as err:
            staged.append((os.path.abspath(f), f, name, None, _error_line(err)))
        except OSError as exc:
            staged.append((os.path.abspath(f), f, name, None, f"{f}: cannot read: {exc.strerror}"))
    names = _unique([_safe_name(s[2]) for s in staged])
    return [ConfigSource(p, d, n, dg, e) for (p, d, _, dg, e), n in zip(staged, names, strict=True)], errors


# ---------------------------------------------------------------------------
# The work a worker does.


@dataclass(frozen=True)
class Task:
    """One unit of work, as plain data: a worker loads the config and the image itself.

    ``kind`` is ``render`` (run and write ``outdir``) or ``range`` (run and
    return each stage's (min, max), for ``--shared-scale``).
    """

    kind: str
    config_path: str
    config_display: str
    config_name: str
    overrides: tuple[str, ...]
    image: str
    image_display: str
    image_label: str
    outdir: str
    key: str = ""
    save_arrays: bool = False
    stage_ranges: tuple[tuple[int, float, float], ...] | None = None


def _stage_ranges(task: Task) -> dict[int, list[float]]:
    from .pipeline import iter_run
    from .rendering import run_range

    config = load_config_file(task.config_path, task.overrides)
    ranges: dict[int, list[float]] = {}
    for layer in iter_run(config, task.image, keep=False):
        r = run_range([layer])  # None for a vector (bar chart) stage
        if r is not None:
            ranges[layer.index] = [r[0], r[1]]
    return ranges


def _render(task: Task) -> dict[str, Any]:
    from .contact_sheet import STAMP, make_thumbnails, write_stamp
    from .images import load_image
    from .pipeline import run
    from .rendering import render

    config = load_config_file(task.config_path, task.overrides)
    x = load_image(task.image, config)
    layers = run(config, x)
    out = Path(task.outdir)
    (out / STAMP).unlink(missing_ok=True)  # from here on the folder is not up to date
    ranges = {i: (lo, hi) for i, lo, hi in task.stage_ranges} if task.stage_ranges is not None else None
    written = render(config, layers, out, image=x, image_name=task.image, save_arrays=task.save_arrays,
                     config_path=task.config_path, stage_ranges=ranges)
    thumbs = make_thumbnails(out)
    write_stamp(out, {
        "stamp_version": _KEY_VERSION,
        "key": task.key,
        "cnnviz_version": __version__,
        "config": {"name": task.config_name, "path": task.config_path, "display": task.config_display},
        "image": {"label": task.image_label, "source": task.image, "display": task.image_display},
        "shared_scale": task.stage_ranges is not None,
        "save_arrays": task.save_arrays,
        "thumbs": thumbs,
    })
    return {"files": len(written)}


def run_task(task: Task) -> dict[str, Any]:
    """Do one :class:`Task` (in a worker); never raises for a failing item.

    Returns
    -------
    dict
        ``{"ok": True, "seconds": s, ...}`` (``ranges`` for a range task:
        stage index -> [min, max]), or ``{"ok": False, "error": line}``.
    """
    t0 = time.perf_counter()
    try:
        if task.kind == "range":
            result: dict[str, Any] = {"ranges": _stage_ranges(task)}
        else:
            result = _render(task)
    except CnnvizError as err:
        message = _error_line(err)
        # name the files as the user did, not by the absolute paths the worker was given
        if task.image != task.image_display:
            message = message.replace(task.image, task.image_display)
        message = message.replace(task.config_path, task.config_display)
        return {"ok": False, "error": message}
    except MemoryError:
        return {"ok": False, "error": "out of memory (shrink the image with input.resize, or use fewer jobs)"}
    except OSError as exc:  # the output folder is not writable, the disk is full, ...
        where = f"{exc.filename}: " if exc.filename else ""
        return {"ok": False, "error": f"{where}cannot write the output: {exc.strerror or exc}"}
    except Exception as exc:  # one failing image must not stop the others
        return {"ok": False, "error": f"unexpected error: {type(exc).__name__}: {exc}"}
    result["ok"] = True
    result["seconds"] = time.perf_counter() - t0
    return result


# ---------------------------------------------------------------------------
# Executors.


_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_BLAS_SETTERS = ("openblas_set_num_threads", "openblas_set_num_threads64_", "scipy_openblas_set_num_threads64_",
                 "scipy_openblas_set_num_threads", "MKL_Set_Num_Threads")


def _limit_blas_threads(threads: int) -> None:
    """Let each worker's BLAS (conv stages are matrix products) use ``threads`` threads.

    N workers that each start one BLAS thread per core fight over the cores
    (about 15% slower with 2 workers on 2 cores).  Nothing is changed when
    the user set one of the usual variables (``OPENBLAS_NUM_THREADS``, ...);
    otherwise the variables are set for libraries loaded later, and a BLAS
    that is already loaded (a forked worker inherits NumPy's) is told
    directly, best effort: an unknown BLAS is left alone.
    """
    if any(v in os.environ for v in _BLAS_VARS):
        return
    for v in _BLAS_VARS:
        os.environ[v] = str(threads)
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and ".so" in line}
    except OSError:
        return
    import ctypes

    for path in sorted(libs):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _BLAS_SETTERS:
            fn = getattr(lib, name, None)
            if fn is not None:
                with contextlib.suppress(Exception):
                    fn(ctypes.c_int(threads))
                break


def _worker_init(blas_threads: int) -> None:
    """Set up a local worker: Ctrl-C is left to the main process (which stops the workers); BLAS threads limited."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_blas_threads(blas_threads)


def _import_distributed(scheduler: str) -> Any:
    """dask.distributed, after checking that it is installed and that ``scheduler`` looks like an address."""
    try:
        import distributed
    except ImportError:
        raise CnnvizError(
            "--scheduler needs dask.distributed, which is not installed; install it with: pip install 'cnnviz[dask]'"
        ) from None
    if not _ADDRESS.fullmatch(scheduler):
        raise CnnvizError(f"--scheduler: expected the scheduler's address as tcp://HOST:PORT, not {scheduler!r}")
    return distributed


@contextlib.contextmanager
def open_executor(jobs: int | None, scheduler: str | None, tasks: int) -> Iterator[tuple[Executor, int]]:
    """An executor for ``tasks`` tasks, and how many tasks to keep in flight.

    Without ``scheduler``: a local process pool of ``jobs`` workers (default
    the machine's cores; never more than ``tasks``).  With ``scheduler``
    (``tcp://HOST:PORT``): the executor of a dask.distributed client of that
    scheduler, after waiting (up to 30 s) for at least one worker; ``jobs``
    then only limits the tasks in flight.
    """
    if scheduler is None:
        from concurrent.futures import ProcessPoolExecutor

        from .commands import cpu_count

        n = max(1, min(jobs or cpu_count(), tasks))
        pool = ProcessPoolExecutor(max_workers=n, initializer=_worker_init, initargs=(max(1, cpu_count() // n),))
        try:
            yield pool, 2 * n
        except BaseException:
            # Ctrl-C (or a bug): drop the queued tasks and stop the running ones; an
            # interrupted render has no stamp, so the next run renders it again
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in processes:
                with contextlib.suppress(Exception):
                    proc.terminate()
            raise
        else:
            pool.shutdown(wait=True)
        return

    distributed = _import_distributed(scheduler)
    try:
        client = distributed.Client(scheduler, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise CnnvizError(f"--scheduler {scheduler}: cannot connect to a dask scheduler there ({exc})") from None
    try:
        try:
            client.wait_for_workers(1, timeout=30)
        except (TimeoutError, OSError):
            raise CnnvizError(f"--scheduler {scheduler}: no dask worker is connected to that scheduler") from None
        executor = client.get_executor(pure=False)
        try:
            yield executor, (jobs or 1 << 30)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        else:
            executor.shutdown(wait=True)
    finally:
        client.close()


# ---------------------------------------------------------------------------
# Progress.


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _clock(seconds: float) -> str:
    s = max(0, round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """A one-line progress bar on a terminal: done/total, rate, ETA.

    Redrawn in place (``\\r``) at most ten times a second, and only when
    ``stream`` is a terminal; on anything else (a pipe, a file, None) it
    prints nothing at all.
    """

    def __init__(self, stream: IO[str] | None, total: int, *, what: str = "tasks") -> None:
        self.stream = stream if stream is not None and _isatty(stream) else None
        self.total = total
        self.what = what
        self.done = 0
        self.start = time.monotonic()
        self._last = 0.0
        self._width = 0
        self._shown = False

    def line(self, note: str = "") -> str:
        """The bar's text for the current state."""
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 and self.done else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else None
        frac = self.done / self.total if self.total else 1.0
        cols = shutil.get_terminal_size((80, 24)).columns
        bar_w = 24
        fill = round(frac * bar_w)
        when = f"in {_clock(elapsed)}" if self.done >= self.total else \
            f"ETA {_clock(eta) if eta is not None else '--:--'}"
        text = f"[{'#' * fill}{'.' * (bar_w - fill)}] {self.done}/{self.total} {self.what}  {rate:.2f}/s  {when}"
        if note:
            text += f"  {note}"
        return text[: max(10, cols - 1)]

    def update(self, advance: int = 1, note: str = "", *, force: bool = False) -> None:
        self.done += advance
        if self.stream is None:
            return
        now = time.monotonic()
        if not force and self._shown and now - self._last < 0.1 and self.done < self.total:
            return
        self._last = now
        text = self.line(note)
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)
        self._shown = True

    def close(self) -> None:
        if self.stream is not None and self._shown:
            self.stream.write("\r" + self.line() + " " * 4 + "\n")
            self.stream.flush()


# ---------------------------------------------------------------------------
# The report.


@dataclass
class ItemResult:
    """One config × image of the batch and what became of it.

    ``status`` is ``rendered``, ``skipped`` (up to date) or ``failed``.
    """

    config: str
    image: str
    outdir: Path
    status: str
    error: str | None = None
    seconds: float = 0.0


@dataclass
class BatchReport:
    """What :func:`run_batch` did.

    Attributes
    ----------
    items : list of ItemResult
        Every config × image, configs in order, then images in order.
    errors : list of str
        Arguments that gave nothing (a pattern matching nothing, a missing file).
    config_errors : list of (config name, number of images, error line)
        Configs that failed validation: all their items failed with it
        (reported once per config, not once per item).
    index : Path or None
        The contact sheet.
    seconds : float
    """

    outdir: Path
    items: list[ItemResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    config_errors: list[tuple[str, int, str]] = field(default_factory=list)
    index: Path | None = None
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for it in self.items if it.status == status)

    @property
    def rendered(self) -> int:
        return self.count("rendered")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def failed(self) -> int:
        """Failed items, invalid configs and arguments that gave nothing (0: everything went well)."""
        return self.count("failed") + len(self.errors) + sum(1 for _, n, _ in self.config_errors if not n)

    def summary(self) -> str:
        """One line: how many outputs were rendered, skipped and failed, the time, the contact sheet."""
        n = len(self.items)
        text = (f"{n} output{'s' if n != 1 else ''}: {self.rendered} rendered, {self.skipped} skipped (up to date), "
                f"{self.count('failed')} failed in {self.seconds:.1f} s")
        if self.index is not None:
            text += f"; contact sheet: {self.index}"
        return text

    def failures(self) -> list[str]:
        """One line per problem: arguments that gave nothing, invalid configs, failed items."""
        lines = list(self.errors)
        bad_configs = set()
        for name, n, message in self.config_errors:
            bad_configs.add(name)
            lines.append(f"{name} × all {n} image{'s' if n != 1 else ''}: {message}" if n else f"{name}: {message}")
        for it in self.items:
            if it.status == "failed" and it.config not in bad_configs:
                lines.append(f"{it.config} × {it.image}: {it.error}")
        return lines


# ---------------------------------------------------------------------------
# The batch.


def _item_key(config: ConfigSource, image: ImageSource, req: BatchRequest, shared: Sequence[str] | None) -> str:
    data = {
        "v": _KEY_VERSION,
        "cnnviz": __version__,
        "config": config.digest,
        "image": image.digest,
        "save_arrays": bool(req.save_arrays),
        "shared_scale": sorted(shared) if shared is not None else None,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _up_to_date(outdir: Path, key: str) -> bool:
    """The folder holds a complete render with this key: stamp, manifest, every listed file and thumbnail."""
    from .contact_sheet import THUMBS, read_stamp

    stamp = read_stamp(outdir)
    if stamp is None or stamp.get("key") != key:
        return False
    try:
        manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    names = list(manifest.get("files") or []) + [f"{THUMBS}/{n}" for n in stamp.get("thumbs") or {}]
    return all(isinstance(n, str) and (outdir / n).is_file() for n in names)


@dataclass
class _Group:
    """The items of one config under ``--shared-scale``: a range task per image first, then the renders."""

    tasks: list[Task]  # range tasks, one per image
    renders: dict[str, Task]  # image label -> render task (the items that are not up to date)
    pending: int = 0
    ranges: dict[int, list[float]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)


class _Runner:
    """Feeds tasks to an executor, keeping at most ``in_flight`` running, and settles their results."""

    def __init__(self, renders: Sequence[tuple[ItemResult, Task]], groups: Sequence[_Group], bar: Progress) -> None:
        self.items = {(t.config_name, t.image_label): item for item, t in renders}
        self.bar = bar
        self.queue: deque[tuple[Task, _Group | None]] = deque()
        if groups:
            for g in groups:
                g.pending = len(g.tasks)
                self.queue.extend((t, g) for t in g.tasks)
        else:
            self.queue.extend((t, None) for _, t in renders)

    def run(self, executor: Executor, in_flight: int) -> None:
        running: dict[Future[Any], tuple[Task, _Group | None]] = {}
        while self.queue or running:
            while self.queue and len(running) < in_flight:
                task, group = self.queue.popleft()
                try:
                    running[executor.submit(run_task, task)] = (task, group)
                except Exception as exc:  # e.g. a broken process pool
                    self.settle(task, group, {"ok": False, "error": f"cannot start: {type(exc).__name__}: {exc}"})
            if not running:
                continue
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                task, group = running.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:  # the worker died, the task was lost, ...
                    result = {"ok": False, "error": f"the worker failed: {type(exc).__name__}: {exc}"}
                self.settle(task, group, result)

    def settle(self, task: Task, group: _Group | None, result: Mapping[str, Any]) -> None:
        item = self.items.get((task.config_name, task.image_label))
        if task.kind == "range":
            assert group is not None
            self.range_done(task, group, result)
            self.bar.update(1, f"{task.config_name} × {task.image_label} (scale)")
            return
        if item is not None:
            if result.get("ok"):
                item.status, item.seconds = "rendered", float(result.get("seconds", 0.0))
            else:
                item.status, item.error = "failed", str(result.get("error"))
        self.bar.update(1, f"{task.config_name} × {task.image_label}")

    def range_done(self, task: Task, group: _Group, result: Mapping[str, Any]) -> None:
        group.pending -= 1
        if result.get("ok"):
            for i, (lo, hi) in result["ranges"].items():
                cur = group.ranges.get(int(i))
                group.ranges[int(i)] = [lo, hi] if cur is None else [min(cur[0], lo), max(cur[1], hi)]
        else:
            group.failed.add(task.image_label)
            item = self.items.get((task.config_name, task.image_label))
            if item is not None and task.image_label in group.renders:
                item.status, item.error = "failed", str(result.get("error"))
        if group.pending:
            return
        ranges = tuple((i, float(lo), float(hi)) for i, (lo, hi) in sorted(group.ranges.items()))
        todo = [(dataclasses.replace(t, stage_ranges=ranges), None) for label, t in group.renders.items()
                if label not in group.failed]
        self.bar.total -= len(group.renders) - len(todo)  # renders that will not run
        self.queue.extendleft(reversed(todo))  # finish this config before starting the next one


def run_batch(req: BatchRequest, progress: IO[str] | None = None) -> BatchReport:
    """Render every config × every image of ``req``; see the module docstring.

    Parameters
    ----------
    req : BatchRequest
    progress : text stream, optional
        Where the progress bar goes (drawn only when it is a terminal).

    Returns
    -------
    BatchReport
        ``failed`` is non-zero when anything failed.

    Raises
    ------
    CnnvizError
        Only for problems with the whole batch: ``--scheduler`` without dask,
        a scheduler that cannot be reached, an output folder that cannot be
        written.
    """
    t0 = time.monotonic()
    if req.scheduler is not None:
        _import_distributed(req.scheduler)  # say so now, not after the validation
    out = Path(req.outdir)
    report = BatchReport(outdir=out)
    configs, config_arg_errors = expand_configs(req.configs, req.overrides)
    images, image_arg_errors = expand_images(req.images)
    report.errors += config_arg_errors + image_arg_errors
    if out.exists() and not out.is_dir():
        raise CnnvizError(f"{out}: exists and is not a folder")
    out_abs = out.resolve()

    shared = [im.digest for im in images] if req.shared_scale else None
    renders: list[tuple[ItemResult, Task]] = []
    groups: list[_Group] = []
    for cfg in configs:
        if cfg.error is not None:
            report.config_errors.append((cfg.name, len(images), cfg.error))
            for im in images:
                report.items.append(ItemResult(cfg.name, im.label, out / cfg.name / im.label, "failed", cfg.error))
            continue
        group = _Group([], {}) if req.shared_scale else None
        for im in images:
            item = ItemResult(cfg.name, im.label, out / cfg.name / im.label, "skipped")
            report.items.append(item)
            key = _item_key(cfg, im, req, shared)
            folder = out_abs / cfg.name / im.label
            task = Task("render", cfg.path, cfg.display, cfg.name, tuple(req.overrides), im.source, im.display,
                        im.label, str(folder), key, req.save_arrays)
            if group is not None:
                group.tasks.append(Task("range", cfg.path, cfg.display, cfg.name, tuple(req.overrides), im.source,
                                        im.display, im.label, str(folder)))
            if not req.force and _up_to_date(folder, key):
                continue
            item.status = "pending"
            if group is not None:
                group.renders[im.label] = task
            renders.append((item, task))
        if group is not None and group.renders:
            groups.append(group)

    # the biggest images first, so that the last task to finish is a small one
    pixels = {im.label: im.pixels for im in images}
    renders.sort(key=lambda r: -pixels[r[1].image_label])
    for g in groups:
        g.tasks.sort(key=lambda t: -pixels[t.image_label])
    total = len(renders) + sum(len(g.tasks) for g in groups)
    if total:
        _execute(req, renders, groups, total, progress)
    report.seconds = time.monotonic() - t0

    if report.items:
        from .contact_sheet import write_index

        failures = {(it.config, it.image): it.error or "failed" for it in report.items if it.status == "failed"}
        try:
            ok = [(it.config, it.image) for it in report.items if it.status in ("rendered", "skipped")]
            report.index = write_index(out, failures=failures, succeeded=ok, configs=[c.name for c in configs],
                                       images=[im.label for im in images], errors=report.failures(),
                                       sources={"config": {c.name: c.display for c in configs},
                                                "image": {im.label: im.display for im in images}})
        except OSError as exc:
            raise CnnvizError(f"{out}: cannot write index.html: {exc.strerror}") from None
        report.index = out / "index.html"  # as the user named OUT
    return report


def _execute(req: BatchRequest, renders: list[tuple[ItemResult, Task]], groups: list[_Group], total: int,
             stream: IO[str] | None) -> None:
    """Run the tasks; set each item's status (and error)."""
    bar = Progress(stream, total)
    try:
        with open_executor(req.jobs, req.scheduler, total) as (executor, in_flight):
            _Runner(renders, groups, bar).run(executor, in_flight)
    finally:
        bar.close()
    for item, _ in renders:
        if item.status == "pending":  # pragma: no cover - every task settles
            item.status, item.error = "failed", "not run"

