"""``cnnviz watch``: incremental re-rendering, file watching backends, the watcher, the ``--serve`` page."""

from __future__ import annotations

from .backends import PollBackend, WatchfilesBackend, file_signature, have_watchfiles
from .incremental import IncrementalRenderer, RenderReport, first_changed_stage
from .watcher import Watcher, WatchRequest, referenced_files, watch_command

__all__ = ["IncrementalRenderer", "PollBackend", "RenderReport", "WatchRequest", "Watcher", "WatchfilesBackend",
           "file_signature", "first_changed_stage", "have_watchfiles", "referenced_files", "watch_command"]
