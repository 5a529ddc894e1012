"""Fixtures of the watch tests: a project with a config naming a .npy filter file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import KERNELS, config_text


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    """A config naming a .npy filter file, and its output folder."""
    np.save(tmp_path / "kernels.npy", KERNELS)
    cfg = tmp_path / "stack.yaml"
    cfg.write_text(config_text(), encoding="utf-8")
    return cfg, tmp_path / "out"
