"""Fixtures shared by several test files: a CliRunner, and one render of a small stack."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings

from cnnviz.rendering.writer import render
from tests.helpers import small_run

# One set of hypothesis settings for every property test, whatever the order files are collected in:
# 300 examples a property in CI, 5,000 with HYPOTHESIS_PROFILE=long.
settings.register_profile("ci", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    stages = [
        {"type": "conv", "name": "edges", "filters": [{"preset": "sobel_x"}, {"preset": "sobel_y"}]},
        "relu",
        {"type": "pool", "size": 2},
        "global_pool",
        {"type": "dense", "units": 3, "labels": ["cat", "dog", "owl"]},
        "softmax",
    ]
    config, x, layers = small_run(stages, render_opts={"cmap": "RdBu_r", "normalize": "layer"})
    files = render(config, layers, out, image=x, image_name="noise", save_arrays=True, config_path="cfg.yaml")
    return out, config, x, layers, files
