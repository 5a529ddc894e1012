"""``cnnviz watch``: re-render a config on an image whenever it is saved.

:class:`Watcher` ties the pieces together: it renders once
(:class:`~cnnviz.app.watch.incremental.IncrementalRenderer`, which reuses
every stage an edit did not change), then waits for a save
(:mod:`~cnnviz.app.watch.backends`), debounces bursts of events, renders
again, reports one line per render or per error, keeps the set of watched
files in step with the ``file:`` entries the config names (and watches the
image too when it is a file rather than a sample name), and (``--serve``)
feeds the page of :mod:`~cnnviz.app.watch.serve`.

:func:`watch_command` is what the command line calls.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ...config import Config, apply_overrides
from ...config import referenced_files as named
from ...config.yamlsource import parse_yaml
from ...errors import CnnvizError, error_lines
from ...importers import load_config
from ...io.images import SAMPLES, image_label, read_image
from ..session import default_outdir
from .backends import POLL_INTERVAL, PollBackend, Signature, WatchfilesBackend, file_signature, have_watchfiles
from .cells import page_cells
from .incremental import IncrementalRenderer, RenderReport
from .serve import PageServer, PageState

__all__ = [
    "WatchRequest",
    "Watcher",
    "watch_command",
    "referenced_files",
    "DEBOUNCE",
    "MAX_DEBOUNCE",
    "MISSING_GRACE",
]

#: Seconds without a new event before a burst of events is rendered once.
DEBOUNCE = 0.1
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


def referenced_files(config_path: str | os.PathLike[str], data: Any) -> set[str]:
    """Absolute paths (as strings) of the filter and weights files a config's data names.

    :func:`cnnviz.config.referenced_files`, relative to the config file's folder.
    """
    return {str(p) for p in named(data, os.path.dirname(os.path.abspath(config_path)))}


def _raw_data(config_path: str) -> Any:
    if config_path.lower().endswith(".onnx"):
        return None  # a model: it names no other files
    """The config's YAML as parsed, without validation (None when unreadable)."""
    try:
        with open(config_path, encoding="utf-8-sig") as f:
            return parse_yaml(f.read(), config_path)[0]  # bounded: no alias bombs, no tags
    except (OSError, ValueError, CnnvizError):
        return None



def _error_lines(err: BaseException) -> list[str]:
    if isinstance(err, CnnvizError):
        return [f"Error: {line}" for line in error_lines(err)]
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

        req = self.req
        cpath = Path(req.config)
        if not cpath.exists():
            raise CnnvizError(f"config file not found: {cpath}")
        if cpath.is_dir():
            raise CnnvizError(f"{cpath}: is a directory, not a config file")
        read_image(req.image)  # a missing image (or a near-miss sample name) stops here
        try:
            config: Config | None = load_config(cpath)
        except CnnvizError:
            config = None  # reported by the first render, and watched until it is fixed
        if config is not None and req.overrides:
            config = apply_overrides(config, req.overrides)  # a bad --set is a usage error: stop
        # --serve: a renderer that keeps its drawings, so that the page knows where every tile is
        renderer = IncrementalRenderer(req.config, req.image, ".", req.overrides, keep_drawings=req.serve)
        if req.outdir is not None:
            outdir = Path(req.outdir)
        elif config is not None:
            outdir = default_outdir(config, req.config, req.image)
        else:
            outdir = Path("cnnviz-out") / cpath.stem / image_label(req.image)
        renderer.outdir = outdir
        self.renderer, self.outdir = renderer, outdir
        if req.serve:
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
                self.state.set_rendered(report.line(), self._cells())
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

    def _cells(self) -> Any:
        """The page's cells of the render just made (where its tiles are, their maps)."""
        r = self.renderer
        if r is None or not r.keep_drawings:
            return None
        return page_cells(r.drawings, r.layers, r.input.shape if r.input is not None else None)

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
