"""The registry of stage types: every module's types are found, and every type answers every question."""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

import cnnviz
import cnnviz.stages as stages
from cnnviz.stages import REGISTRY, STAGE_TYPES
from cnnviz.stages.base import Key, StageType


def test_every_module_with_stage_types_is_registered():
    found = []
    for m in pkgutil.iter_modules(stages.__path__):
        module = importlib.import_module(f"cnnviz.stages.{m.name}")
        found += [t.name for t in getattr(module, "STAGE_TYPES", ())]
    assert sorted(found) == sorted(STAGE_TYPES)
    assert {"conv", "relu", "pool", "dense", "softmax", "clip", "hardsigmoid", "hardswish", "batchnorm"} <= set(found)


def test_a_type_defined_twice_is_refused(monkeypatch):
    """The registry is built by listing the package; two modules claiming one name is a bug, found at import."""
    from cnnviz.stages import pointwise

    monkeypatch.setattr(pointwise, "STAGE_TYPES", (*pointwise.STAGE_TYPES, REGISTRY["conv"]))
    with pytest.raises(RuntimeError, match="stage type 'conv' is defined twice"):
        stages._discover()


@pytest.mark.parametrize("name", STAGE_TYPES)
def test_every_type_is_complete(name):
    kind = REGISTRY[name]
    assert isinstance(kind, StageType) and kind.name == name and kind.doc
    assert all(isinstance(k, Key) for k in kind.keys.values())
    assert kind.arity in (1, None)


MINIMAL = {
    "conv": {"filters": [[[1, 0], [0, -1]]]},
    "leaky_relu": {}, "pool": {}, "global_pool": {}, "norm": {}, "dense": {"units": 3}, "softmax": {},
    "batchnorm": {"mean": 0.5, "var": 0.25}, "clip": {"min": 0.2, "max": 0.7}, "hardsigmoid": {},
    "hardswish": {}, "relu": {}, "sigmoid": {}, "tanh": {}, "abs": {},
    "add": {"inputs": ["input", "input"]}, "mul": {"inputs": ["input", "input"]},
    "concat": {"inputs": ["input", "input"]},
}


@pytest.mark.parametrize("name", STAGE_TYPES)
def test_every_type_plans_runs_and_describes_itself(name):
    """Shape rule, apply, costs, geometry, words and fingerprint, for the smallest stack of each type."""
    config = cnnviz.load_config({"seed": 3, "stages": [{"type": name, **MINIMAL[name]}]})
    x = np.random.default_rng(0).random((6, 7, 2)).astype(np.float32)
    (ps,) = cnnviz.plan(config, x.shape)
    (layer,) = cnnviz.run(config, x)
    assert layer.output.shape == ps.output_shape and layer.output.dtype == np.float32
    assert ps.temp_bytes() >= 0 and ps.param_count >= 0 and ps.macs >= 0
    assert isinstance(ps.describe(), str) and isinstance(ps.summarize(), str)
    assert ps.receptive_field[0] >= 1 and ps.jump[0] >= 1
    assert ps.fingerprint() == cnnviz.plan(config, x.shape)[0].fingerprint()
    if REGISTRY[name].inplace:  # the in-place path computes the same values
        y = x.copy()
        np.testing.assert_array_equal(ps.apply(y, inplace=True), layer.output)


def test_unknown_type_suggests_a_registered_one():
    with pytest.raises(cnnviz.CnnvizError, match=r"unknown stage type 'hardswsh' \(did you mean 'hardswish'\?\)"):
        cnnviz.load_config({"stages": ["hardswsh"]})
