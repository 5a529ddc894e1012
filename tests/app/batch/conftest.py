"""Fixtures of the batch tests: a warmed-up process and a project folder with two configs and images."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import ALPHA, BETA, _png


@pytest.fixture(scope="module", autouse=True)
def warm(tmp_path_factory):
    """Render once in this process, so that forked workers start with matplotlib and the fonts loaded.

    Only a speed-up for these tests (about a second per batch); the batches
    are the same without it.
    """
    from cnnviz.app.batch.tasks import Task, run_task

    root = tmp_path_factory.mktemp("warm")
    (root / "c.yaml").write_text(ALPHA)
    from cnnviz.config import load_config

    task = Task("render", load_config(root / "c.yaml"), str(root / "c.yaml"), "c.yaml", "c", "camera", "camera",
                "camera", str(root / "o"))
    assert run_task(task)["ok"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """Two configs and image files in a fresh current folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "alpha.yaml").write_text(ALPHA)
    (tmp_path / "beta.yaml").write_text(BETA)
    np.save(tmp_path / "k.npy", np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]]))
    _png(tmp_path / "pics" / "a.png", 48, 60, seed=1)
    _png(tmp_path / "more" / "b.png", 60, 40, seed=2)
    return tmp_path
