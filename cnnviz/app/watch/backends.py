"""Knowing when a watched file was saved: watchfiles (the ``[watch]`` extra), or polling by name.

Both watch *names*, never inodes: the watchfiles backend watches the parent
folders and keeps the events for the watched names, and the poller stats
the paths by name, so editors that save by writing a temporary file and
renaming it over the original are followed, as are in-place writes.  Each
backend runs a thread that puts the changed names on a queue.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["POLL_INTERVAL", "Signature", "file_signature", "watch_names", "PollBackend", "have_watchfiles",
           "WatchfilesBackend"]

#: Seconds between two looks at the watched files by the polling backend.
POLL_INTERVAL = 0.1

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


def watch_names(paths: Iterable[str]) -> tuple[set[str], set[str]]:
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
        dirs, names = watch_names(baseline)
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
