"""Expanding batch arguments: image and config patterns, folders, repeats, labels."""

from __future__ import annotations

import os

from cnnviz.app.batch.expand import expand_configs, expand_images
from tests.helpers import ALPHA, _png


def test_expanding_arguments(project):
    _png(project / "other" / "a.png", 20, 20)
    (project / "pics" / "notes.txt").write_text("not an image")
    images, errors = expand_images(["pics", "other/*.png", "camera", "pics/a.png", "other"])
    assert errors == []
    assert [im.label for im in images] == ["a", "a-2", "camera"]  # repeats dropped, labels made unique
    assert [im.display for im in images] == [os.path.join("pics", "a.png"), "other/a.png", "camera"]
    assert images[0].source == str(project / "pics" / "a.png")
    assert len({im.digest for im in images}) == 3
    (project / "configs").mkdir()
    (project / "configs" / "alpha.yaml").write_text(ALPHA)  # the same name: alpha
    configs, errors = expand_configs(["alpha.yaml", "configs", "*.yml", "beta.yaml", "missing.yaml"])
    assert errors == ["*.yml: no config file matches", "config file not found: missing.yaml"]
    assert [c.name for c in configs] == ["alpha", "alpha-2", "beta"]
    assert configs[0].digest == configs[1].digest and configs[0].error is None
