"""``cnnviz watch``: re-render a config on an image whenever it is saved.

The pieces, each usable on its own:

* :class:`IncrementalRenderer` keeps the last good run (its planned stages
  and every stage's output) and, after an edit, recomputes only from the
  first stage whose resolved configuration changed; an edit to ``render:``
  alone recomputes nothing and only redraws the pictures.
* Two backends tell it when a watched file was saved: ``watchfiles`` (the
  ``[watch]`` extra) and a dependency-free poller that stats the watched
  paths.  Both watch *names*, never inodes: the watchfiles backend watches
  the parent folders and keeps the events for the watched names, and the
  poller stats the paths by name, so editors that save by writing a
  temporary file and renaming it over the original are followed, as are
  in-place writes.
* :class:`Watcher` ties them together: debounces bursts of events, renders,
  reports one line per render or per error, keeps the set of watched files
  in step with the ``file:`` entries the config names (and watches the
  image too when it is a file rather than a sample name), and
  (``--serve``) feeds the page of :mod:`cnnviz.serve`.

:func:`watch_command` is what the command line calls.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .errors import CnnvizError, ConfigErrors

if TYPE_CHECKING:
    import numpy as np

    from .config import Config
    from .pipeline import Layer, PlannedStage

__all__ = [
    "WatchRequest",
    "RenderReport",
    "IncrementalRenderer",
    "Watcher",
    "watch_command",
    "first_changed_stage",
    "referenced_files",
    "file_signature",
    "PollBackend",
    "WatchfilesBackend",
    "have_watchfiles",
]

#: Seconds without a new event before a burst of events is rendered once.
DEBOUNCE = 0.1
#: Seconds between two looks at the watched files by the polling backend.
POLL_INTERVAL = 0.1
#: A burst that goes on longer than this is rendered anyway.
MAX_DEBOUNCE = 2.0
#: How long to wait for a config that an editor has moved away while saving.
MISSING_GRACE = 1.0


@dataclass
class WatchRequest:
    """What ``cnnviz watch`` was asked to do."""

    config: str
    image: str
    outdir: str | None = None
    serve: bool = False
    port: int = 0
    poll: bool = False
    overrides: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------
# Incremental re-rendering.


@dataclass
class RenderReport:
    """One successful render.

    Attributes
    ----------
    stages : int
        Stages drawn.
    recomputed_from : int or None
        1-based index of the first stage computed again (None: none was).
    computed : list of int
        1-based indices of the stages that were computed.
    first : bool
        The first render of the session (nothing to reuse).
    seconds : float
        From reading the config to the manifest written.
    outdir : Path
    files : list of Path
        Every file written, ``manifest.json`` last.
    """

    stages: int
    recomputed_from: int | None
    computed: list[int]
    first: bool
    seconds: float
    outdir: Path
    files: list[Path]

    def line(self) -> str:
        """``rendered 9 stages (recomputed from stage 4) in 0.21 s -> DIR``."""
        s = "" if self.stages == 1 else "s"
        if self.first:
            how = "all computed"
        elif self.recomputed_from is None:
            how = "nothing recomputed"
        else:
            how = f"recomputed from stage {self.recomputed_from}"
        return f"rendered {self.stages} stage{s} ({how}) in {self.seconds:.2f} s -> {self.outdir}"


def _same_array(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    import numpy as np

    if a is None or b is None:
        return a is b
    return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b))


#: Parameters that do not change a stage's output (compared separately, or only drawn).
_NOT_COMPARED = ("filters", "weights", "labels")


def _same_stage(a: PlannedStage, b: PlannedStage, seed_a: int, seed_b: int) -> bool:
    """Would ``a`` and ``b`` compute the same output from the same input?"""
    if a.type != b.type or a.input_shape != b.input_shape or a.output_shape != b.output_shape:
        return False
    if a.dtype != b.dtype:
        return False
    pa = {k: v for k, v in a.config.params.items() if k not in _NOT_COMPARED}
    pb = {k: v for k, v in b.config.params.items() if k not in _NOT_COMPARED}
    if pa != pb or a.padding != b.padding:
        return False
    # conv: the kernels as resolved (presets, files, inline, seeded random draws)
    if not _same_array(a.kernels, b.kernels) or not _same_array(a.bias, b.bias):
        return False
    if a.type == "dense":
        wa, wb = a.config.params["weights"], b.config.params["weights"]
        if (wa.array is None) != (wb.array is None):
            return False
        if wa.array is not None:
            return _same_array(wa.array, wb.array)
        # random weights are drawn from (seed, stage position) on first use
        return dict(wa.spec) == dict(wb.spec) and (seed_a, a.config.index) == (seed_b, b.config.index)
    return True


def first_changed_stage(old: Sequence[PlannedStage], new: Sequence[PlannedStage],
                        old_seed: int = 0, new_seed: int = 0) -> int:
    """0-based position of the first stage of ``new`` that must be computed again.

    Both plans must start from the same input.  A stage must be computed
    again when its type, parameters, resolved kernels or weights, or input
    shape differ from the old stage at that position, or when any stage
    before it must.  ``len(new)`` means nothing needs computing (only the
    ``render`` section, stage names or stage labels changed, or stages were
    removed from the end).
    """
    for i, b in enumerate(new):
        if i >= len(old) or not _same_stage(old[i], b, old_seed, new_seed):
            return i
    return len(new)


class IncrementalRenderer:
    """Renders a config on an image, reusing the previous run where it can.

    Parameters
    ----------
    config_path : str
        The YAML file, read again on every :meth:`update`.
    image : str
        A file or a sample name.
    outdir : path
        Where :func:`cnnviz.rendering.render` writes.
    overrides : list of str
        ``--set key.path=value`` assignments, applied after every read.
    max_memory : int, optional
        As for ``cnnviz run``.
    """

    def __init__(self, config_path: str, image: str, outdir: str | os.PathLike[str],
                 overrides: Sequence[str] = (), *, max_memory: int | None = None) -> None:
        self.config_path = config_path
        self.image = image
        self.outdir = Path(outdir)
        self.overrides = list(overrides)
        self.max_memory = max_memory
        #: The last config that rendered, its plan, input and layers.
        self.config: Config | None = None
        self.planned: list[PlannedStage] = []
        self.layers: list[Layer] = []
        self.input: np.ndarray | None = None
        self._image_key: tuple[Any, ...] | None = None
        self._image: np.ndarray | None = None

    def load_config(self) -> Config:
        """Read and validate the config (with the overrides)."""
        from .config import load_config_file

        return load_config_file(self.config_path, self.overrides)

    def _load_input(self, config: Config) -> np.ndarray:
        from .images import SAMPLES, load_image

        sig = None if self.image in SAMPLES else file_signature(self.image)
        key = (config.color, config.resize, config.dtype, sig)
        if self._image is None or key != self._image_key:
            self._image = load_image(self.image, config)
            self._image_key = key
        return self._image

    def update(self) -> RenderReport:
        """Read the config, compute what changed and render.

        Raises
        ------
        CnnvizError
            A mistake in the config (or a filter file), located; nothing is
            written and the previous run is kept.
        """
        from .pipeline import Layer, check_memory, plan
        from .rendering import render

        t0 = time.perf_counter()
        config = self.load_config()
        x = self._load_input(config)
        planned = plan(config, x.shape)
        check_memory(planned, x.shape, self.max_memory, keep=True)
        first = self.config is None
        if first or self.input is None or not (x is self.input or _same_array(x, self.input)):
            start = 0
        else:
            assert self.config is not None
            start = first_changed_stage(self.planned, planned, self.config.seed, config.seed)
        layers: list[Layer] = [
            Layer(ps.index, ps.name, ps.type, old.output, ps, old.seconds)
            for ps, old in zip(planned[:start], self.layers)
        ]
        h = layers[-1].output if layers else x
        computed = []
        for ps in planned[start:]:
            t = time.perf_counter()
            y = ps.apply(h)
            layers.append(Layer(ps.index, ps.name, ps.type, y, ps, time.perf_counter() - t))
            computed.append(ps.index)
            h = y
        files = render(config, layers, self.outdir, image=x, image_name=self.image,
                       config_path=self.config_path)
        self.config, self.planned, self.layers, self.input = config, list(planned), layers, x
        return RenderReport(
            stages=len(layers),
            recomputed_from=computed[0] if computed else None,
            computed=computed,
            first=first,
            seconds=time.perf_counter() - t0,
            outdir=self.outdir,
            files=files,
        )


# ---------------------------------------------------------------------------
# Which files to watch.


def referenced_files(config_path: str | os.PathLike[str], data: Any) -> set[str]:
    """Absolute paths (as strings) of the filter and weights files a config's data names.

    :func:`cnnviz.config.referenced_files`, relative to the config file's folder.
    """
    from .config import referenced_files as named

    return {str(p) for p in named(data, os.path.dirname(os.path.abspath(config_path)))}


def _raw_data(config_path: str) -> Any:
    """The config's YAML as parsed, without validation (None when unreadable)."""
    from .yamlsource import parse_yaml

    try:
        with open(config_path, encoding="utf-8-sig") as f:
            return parse_yaml(f.read(), config_path)[0]  # bounded: no alias bombs, no tags
    except (OSError, ValueError, CnnvizError):
        return None


Signature = tuple[int, int, int, int] | None


def file_signature(path: str | os.PathLike[str]) -> Signature:
    """``(mtime_ns, size, inode, device)`` of what ``path`` names now (None: missing).

    Taken by name, following symlinks, so a file replaced by a rename gets a
    new inode and a file written in place a new mtime or size.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)


def _watch_names(paths: Iterable[str]) -> tuple[set[str], set[str]]:
    """(folders to watch, full names to keep events for), symlinks followed both ways."""
    dirs: set[str] = set()
    names: set[str] = set()
    for p in paths:
        p = os.path.abspath(p)
        for d, n in ((os.path.realpath(os.path.dirname(p)), os.path.basename(p)),
                     (os.path.dirname(os.path.realpath(p)), os.path.basename(os.path.realpath(p)))):
            names.add(os.path.join(d, n))
            if os.path.isdir(d):
                dirs.add(d)
    return dirs, names


# ---------------------------------------------------------------------------
# Backends: each runs a thread that puts the changed names on a queue.


class PollBackend:
    """Stat the watched paths by name every ``interval`` seconds (no dependency)."""

    name = "polling"

    def __init__(self, events: queue.Queue[set[str]], interval: float = POLL_INTERVAL) -> None:
        self.events = events
        self.interval = interval
        self._lock = threading.Lock()
        self._baseline: dict[str, Signature] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def set_paths(self, baseline: Mapping[str, Signature]) -> None:
        """Watch these paths; a change is a signature that differs from ``baseline``."""
        with self._lock:
            self._baseline = dict(baseline)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cnnviz-watch-poll", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                paths = list(self._baseline)
            now = {p: file_signature(p) for p in paths}
            changed = set()
            with self._lock:
                for p, sig in now.items():
                    if p in self._baseline and self._baseline[p] != sig:
                        self._baseline[p] = sig
                        changed.add(p)
            if changed:
                self.events.put(changed)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def have_watchfiles() -> bool:
    """Is the optional ``watchfiles`` package importable?"""
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        return False
    return True


class _StopWhen:
    """An ``is_set()`` object for watchfiles' ``stop_event``."""

    def __init__(self, test: Callable[[], bool]) -> None:
        self.is_set = test


class WatchfilesBackend:
    """Watch the watched files' parent folders with watchfiles (inotify, FSEvents, ...).

    Events are kept only for the watched names, so a save by rename (a
    temporary file moved over the original) shows up as the original name
    being added.  When the set of folders changes, the watch is restarted
    and ``on_restart`` is called so that the caller can compare signatures
    for anything that happened in between.

    watchfiles hands over a batch once no new kind of event came for
    ``step_ms``; during a burst of writes that is every two steps or so, so
    the step is kept well under the watcher's debounce (20 ms against
    100 ms) for a burst to stay one render.
    """

    name = "watchfiles"

    def __init__(self, events: queue.Queue[set[str]], step_ms: int = 20,
                 on_restart: Callable[[], None] | None = None, on_failure: Callable[[BaseException], None] | None = None) -> None:
        self.events = events
        self.step_ms = step_ms
        self.on_restart = on_restart
        self.on_failure = on_failure
        self._lock = threading.Lock()
        self._dirs: set[str] = set()
        self._names: set[str] = set()
        self._version = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()

    def set_paths(self, baseline: Mapping[str, Signature]) -> None:
        dirs, names = _watch_names(baseline)
        with self._lock:
            self._names = names
            if dirs != self._dirs:
                self._dirs = dirs
                self._version += 1

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cnnviz-watch-watchfiles", daemon=True)
        self._thread.start()

    def _keep(self, change: Any, path: str) -> bool:
        with self._lock:
            return path in self._names

    def _run(self) -> None:
        import watchfiles

        restarted = False
        while not self._stop.is_set():
            with self._lock:
                dirs, version = sorted(self._dirs), self._version
            if not dirs:
                if self._stop.wait(0.1):
                    break
                continue

            def stop_now(v: int = version) -> bool:
                return self._stop.is_set() or self._version != v

            try:
                gen = watchfiles.watch(*dirs, watch_filter=self._keep, stop_event=_StopWhen(stop_now),
                                       debounce=1000, step=self.step_ms, rust_timeout=200,
                                       yield_on_timeout=True, raise_interrupt=False, recursive=False)
                first = True
                for changes in gen:
                    if first:  # the watcher is running from here on
                        first = False
                        self.ready.set()
                        if restarted and self.on_restart is not None:
                            self.on_restart()
                    if changes:
                        self.events.put({path for _, path in changes})
            except Exception as exc:  # e.g. out of inotify watches
                if self.on_failure is not None:
                    self.on_failure(exc)
                return
            restarted = True

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


# ---------------------------------------------------------------------------
# The watcher.


def _error_lines(err: BaseException) -> list[str]:
    if isinstance(err, ConfigErrors):
        return [f"Error: {e}" for e in err.errors]
    if isinstance(err, CnnvizError):
        return [f"Error: {err}"]
    if isinstance(err, OSError):
        where = f"{err.filename}: " if err.filename else ""
        return [f"Error: {where}{err.strerror or err}"]
    return [f"Error: unexpected {type(err).__name__}: {err}"]


class Watcher:
    """Render once, then again whenever a watched file is saved.

    Parameters
    ----------
    req : WatchRequest
    out, err : text streams
        One line per render on ``out`` (and the URL, and what is watched);
        one line per error on ``err``.
    backend : {'watchfiles', 'polling', None}
        None: watchfiles when importable and not ``req.poll``, else polling.
    debounce : float
        Seconds without a new event before a burst is rendered once.
    interval : float
        Seconds between looks for the polling backend.
    stop_event : threading.Event, optional
        Set it to make :meth:`run` return.

    Use :meth:`start` / :meth:`stop` (or ``with Watcher(...) as w:``) to
    run it in a background thread, or :meth:`setup` then :meth:`run` in the
    current one.  :attr:`reports`, :attr:`errors` and :meth:`wait_until`
    let a caller follow what it does.
    """

    def __init__(self, req: WatchRequest, out: TextIO | None = None, err: TextIO | None = None, *,
                 backend: str | None = None, debounce: float = DEBOUNCE, interval: float = POLL_INTERVAL,
                 stop_event: threading.Event | None = None) -> None:
        self.req = req
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.debounce = debounce
        self.interval = interval
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        if backend in ("poll", "polling"):
            backend = "polling"
        elif backend is None:
            backend = "polling" if req.poll or not have_watchfiles() else "watchfiles"
        elif backend != "watchfiles":
            raise ValueError(f"unknown watch backend {backend!r}")
        self.backend_name = backend
        self.events: queue.Queue[set[str]] = queue.Queue()
        self.renderer: IncrementalRenderer | None = None
        self.outdir: Path | None = None
        self.watched: set[str] = set()
        self.image_file: str | None = None
        self._sigs: dict[str, Signature] = {}
        self._backend: PollBackend | WatchfilesBackend | None = None
        self._server: Any = None
        self.state: Any = None
        self.url: str | None = None
        #: Every successful render, and every error line printed, in order.
        self.reports: list[RenderReport] = []
        self.errors: list[str] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- output ------------------------------------------------------------

    def _say(self, stream: TextIO, line: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            stream.write(line + "\n")
            stream.flush()

    def wait_until(self, test: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait until ``test()`` is true (checked after every render or error)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not test():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.05))
        return True

    # -- setting up --------------------------------------------------------

    def setup(self) -> None:
        """Check the config and image exist, pick the folder, serve, render once, start watching.

        Raises
        ------
        CnnvizError
            The config file or the image is missing (or unreadable), a
            ``--set`` does not apply to a valid config, or the port cannot
            be served on.  A config that exists but does not validate is not
            an error here: it is reported and watched.
        """
        from .commands import default_outdir
        from .images import SAMPLES, image_label, read_image

        req = self.req
        cpath = Path(req.config)
        if not cpath.exists():
            raise CnnvizError(f"config file not found: {cpath}")
        if cpath.is_dir():
            raise CnnvizError(f"{cpath}: is a directory, not a config file")
        read_image(req.image)  # a missing image (or a near-miss sample name) stops here
        from .config import apply_overrides, load_config

        try:
            config: Config | None = load_config(cpath)
        except CnnvizError:
            config = None  # reported by the first render, and watched until it is fixed
        if config is not None and req.overrides:
            config = apply_overrides(config, req.overrides)  # a bad --set is a usage error: stop
        renderer = IncrementalRenderer(req.config, req.image, ".", req.overrides)
        if req.outdir is not None:
            outdir = Path(req.outdir)
        elif config is not None:
            outdir = default_outdir(config, req.config, req.image)
        else:
            outdir = Path("cnnviz-out") / cpath.stem / image_label(req.image)
        renderer.outdir = outdir
        self.renderer, self.outdir = renderer, outdir
        if req.serve:
            from .serve import PageServer, PageState

            self.state = PageState(outdir, config=req.config, image=req.image)
            self._server = PageServer(self.state, port=req.port)
            self._server.start()
            self.url = self._server.url
            self._say(self.out, f"serving {self.url}")
        self.image_file = None if req.image in SAMPLES else os.path.abspath(req.image)
        self.watched = {os.path.abspath(req.config)} | ({self.image_file} if self.image_file else set())
        self._render()
        self._start_backend()
        n = len(self.watched - {os.path.abspath(req.config), self.image_file})
        what = [req.config] + ([f"{n} filter file{'s' if n != 1 else ''}"] if n else [])
        what += [req.image] if self.image_file else []
        listed = what[0] if len(what) == 1 else ", ".join(what[:-1]) + " and " + what[-1]
        self._say(self.out, f"watching {listed} ({self.backend_name}); press Ctrl-C to stop")

    def _start_backend(self) -> None:
        if self.backend_name == "watchfiles":
            self._backend = WatchfilesBackend(self.events, on_restart=self._resync, on_failure=self._backend_failed)
        else:
            self._backend = PollBackend(self.events, self.interval)
        self._backend.set_paths(self._sigs)
        self._backend.start()
        if isinstance(self._backend, WatchfilesBackend):
            self._backend.ready.wait(2.0)
            self._resync()

    def _backend_failed(self, exc: BaseException) -> None:
        self._say(self.err, f"watchfiles stopped ({type(exc).__name__}: {exc}); polling instead")
        self.backend_name = "polling"
        self._backend = PollBackend(self.events, self.interval)
        self._backend.set_paths(self._sigs)
        self._backend.start()

    def _resync(self) -> None:
        """Queue a render when a watched file differs from when it was last read."""
        changed = {p for p, sig in list(self._sigs.items()) if file_signature(p) != sig}
        if changed:
            self.events.put(changed)

    # -- the loop ----------------------------------------------------------

    def run(self) -> None:
        """Wait for events and render, until :attr:`stop_event` is set."""
        while not self.stop_event.is_set():
            try:
                self.events.get(timeout=0.1)
            except queue.Empty:
                continue
            # wait until quiet for `debounce` seconds; the poller sees a burst only once
            # per interval, so quiet means a little more than one interval there
            quiet = self.debounce if self.backend_name == "watchfiles" else max(self.debounce, 1.5 * self.interval)
            t0 = time.monotonic()
            while time.monotonic() - t0 < MAX_DEBOUNCE:
                try:
                    self.events.get(timeout=quiet)
                except queue.Empty:
                    break
            if self.stop_event.is_set():
                break
            self._render()

    def _render(self) -> None:
        assert self.renderer is not None
        cfg = os.path.abspath(self.req.config)
        deadline = time.monotonic() + MISSING_GRACE
        while not os.path.exists(cfg) and time.monotonic() < deadline and not self.stop_event.is_set():
            time.sleep(0.02)  # an editor saving by moving the old file away first
        # signatures from before anything is read: an edit made while rendering is caught
        data = _raw_data(cfg)
        named = referenced_files(cfg, data) if data is not None else set()
        before = {p: file_signature(p) for p in self.watched | named | {cfg}}
        report: RenderReport | None = None
        lines: list[str] = []
        try:
            report = self.renderer.update()
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            lines = _error_lines(exc)
        self._update_watched(before, report is not None)
        if report is not None:
            self._say(self.out, report.line())
            if self.state is not None:
                self.state.set_rendered(report.line())
        else:
            for line in lines:
                self._say(self.err, line)
            if self.state is not None:
                self.state.set_error(lines)
        with self._changed:
            if report is not None:
                self.reports.append(report)
            self.errors.extend(lines)
            self._changed.notify_all()

    def _update_watched(self, before: Mapping[str, Signature], ok: bool) -> None:
        """Watch the config and every file it names now; queue a render for edits made meanwhile."""
        assert self.renderer is not None
        cfg = os.path.abspath(self.req.config)
        if ok and self.renderer.config is not None:
            files = referenced_files(cfg, self.renderer.config.data)
        else:
            data = _raw_data(cfg)
            files = referenced_files(cfg, data) | self.watched if data is not None else set(self.watched)
        new = {cfg} | files | ({self.image_file} if self.image_file else set())
        self.watched = new
        self._sigs = {p: before[p] if p in before else file_signature(p) for p in new}
        if self._backend is not None:
            self._backend.set_paths(self._sigs)
            if isinstance(self._backend, WatchfilesBackend):
                # the poller compares against these signatures itself; watchfiles
                # only reports events, so look for edits made while rendering
                self._resync()

    # -- start / stop ------------------------------------------------------

    def start(self) -> Watcher:
        """:meth:`setup` here, then :meth:`run` in a background thread."""
        try:
            self.setup()
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self.run, name="cnnviz-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the loop (and the page server) and wait for them."""
        self.stop_event.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.stop_event.set()
        if self._backend is not None:
            self._backend.stop()
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def watch_command(req: WatchRequest, out: TextIO | None = None, err: TextIO | None = None, *,
                  stop_event: threading.Event | None = None, backend: str | None = None) -> int:
    """Run ``cnnviz watch`` until Ctrl-C (or ``stop_event``); return the exit status.

    1 when the config file or the image is missing at the start (or the port
    is taken), else 0.  Errors in the config while watching are printed, one
    line each, and do not stop it.
    """
    import signal

    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    w = Watcher(req, out, err, backend=backend, stop_event=stop_event)
    previous = None
    if threading.current_thread() is threading.main_thread():
        # `kill PID` stops it as cleanly as Ctrl-C
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        try:
            w.setup()
        except CnnvizError as exc:
            for line in _error_lines(exc):
                w._say(err, line)
            return 1
        w.run()
    except KeyboardInterrupt:
        w._say(out, "stopped")
    finally:
        w.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
