"""Choosing the watch backend: polling when watchfiles cannot be imported or --poll is given."""

from __future__ import annotations

import sys

from cnnviz.app.watch import (
    Watcher,
    WatchRequest,
)
from tests.helpers import Lines


def test_watchfiles_missing_falls_back_to_polling(project, monkeypatch):
    cfg, out = project
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # import fails
    w = Watcher(WatchRequest(str(cfg), "camera", str(out)), Lines(), Lines())
    assert w.backend_name == "polling"
    assert Watcher(WatchRequest(str(cfg), "camera", str(out), poll=True), Lines(), Lines()).backend_name == "polling"
