"""Seeded random kernels and dense matrices: shapes, reproducibility, moments and fans, errors verbatim."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnviz.ops.random_kernels import random_kernels, random_matrix
from tests.helpers import error_of


def test_random_kernel_shapes_and_defaults() -> None:
    rng = np.random.default_rng(0)
    k = random_kernels({}, 1, rng)
    assert k.shape == (1, 3, 3, 1) and k.dtype == np.float64
    assert random_kernels(None, 2, rng).shape == (1, 3, 3, 2)  # type: ignore[arg-type]
    assert random_kernels({"count": 4, "size": [3, 5]}, 3, rng).shape == (4, 3, 5, 3)
    assert random_kernels({"count": 2, "size": 7, "dist": "he"}, 1, rng).shape == (2, 7, 7, 1)
    u = random_kernels({"count": 50, "size": 5}, 3, rng)
    assert u.min() >= 0.0 and u.max() < 1.0  # default dist: uniform [0, 1)


def test_random_kernels_reproducible() -> None:
    spec = {"count": 3, "size": 5, "dist": "normal", "std": 2}
    a = random_kernels(spec, 3, np.random.default_rng(42))
    b = random_kernels(spec, 3, np.random.default_rng(42))
    c = random_kernels(spec, 3, np.random.default_rng(43))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    m1 = random_matrix({"dist": "glorot"}, (4, 9), np.random.default_rng(7))
    m2 = random_matrix({"dist": "glorot"}, (4, 9), np.random.default_rng(7))
    np.testing.assert_array_equal(m1, m2)


BIG = {"count": 64, "size": 16}  # 64*16*16*16 = 262144 samples with C = 16


C_BIG = 16


def test_random_uniform_bounds_and_moments() -> None:
    k = random_kernels({**BIG, "low": -2, "high": 3}, C_BIG, np.random.default_rng(1))
    assert k.min() >= -2 and k.max() < 3
    assert k.min() < -1.99 and k.max() > 2.99
    assert k.mean() == pytest.approx(0.5, abs=0.02)
    assert k.std() == pytest.approx(5 / math.sqrt(12), rel=0.01)
    same = random_kernels({"low": 1, "high": 1}, 1, np.random.default_rng(1))
    np.testing.assert_array_equal(same, 1.0)


def test_random_normal_moments() -> None:
    k = random_kernels({**BIG, "dist": "normal", "mean": 3, "std": 0.5}, C_BIG, np.random.default_rng(2))
    assert k.mean() == pytest.approx(3.0, abs=0.005)
    assert k.std() == pytest.approx(0.5, rel=0.01)
    d = random_kernels({**BIG, "dist": "normal"}, C_BIG, np.random.default_rng(2))
    assert d.mean() == pytest.approx(0.0, abs=0.01) and d.std() == pytest.approx(1.0, rel=0.01)


def test_random_he_std() -> None:
    k = random_kernels({**BIG, "dist": "he"}, C_BIG, np.random.default_rng(3))
    fan_in = 16 * 16 * C_BIG
    assert k.mean() == pytest.approx(0.0, abs=0.001)
    assert k.std() == pytest.approx(math.sqrt(2 / fan_in), rel=0.01)


def test_random_glorot_bounds() -> None:
    k = random_kernels({**BIG, "dist": "glorot"}, C_BIG, np.random.default_rng(4))
    fan_in, fan_out = 16 * 16 * C_BIG, 16 * 16 * 64
    bound = math.sqrt(6 / (fan_in + fan_out))
    assert -bound <= k.min() and k.max() <= bound
    assert k.min() < -0.99 * bound and k.max() > 0.99 * bound
    assert k.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)


def test_random_matrix_fans() -> None:
    units, inputs = 100, 5000
    he = random_matrix({"dist": "he"}, (units, inputs), np.random.default_rng(5))
    assert he.shape == (units, inputs) and he.dtype == np.float64
    assert he.std() == pytest.approx(math.sqrt(2 / inputs), rel=0.01)
    gl = random_matrix({"dist": "glorot"}, (units, inputs), np.random.default_rng(6))
    bound = math.sqrt(6 / (units + inputs))
    assert np.abs(gl).max() <= bound and np.abs(gl).max() > 0.99 * bound
    un = random_matrix({}, (3, 4), np.random.default_rng(0))
    assert un.shape == (3, 4) and un.min() >= 0 and un.max() < 1
    nm = random_matrix({"dist": "normal", "mean": -1, "std": 0.1}, (units, inputs), np.random.default_rng(0))
    assert nm.mean() == pytest.approx(-1, abs=0.001)


@pytest.mark.parametrize(
    "spec, message, path",
    [
        ({"cont": 3}, "unknown parameter 'cont' (did you mean 'count'?)", ("cont",)),
        ({"sizes": 3}, "unknown parameter 'sizes' (did you mean 'size'?)", ("sizes",)),
        ({"foo": 3}, "unknown parameter 'foo' (random takes: count, size, dist, low, high, mean, std)", ("foo",)),
        ({"std": 2}, "'std' does not apply to dist 'uniform' (it takes low, high)", ("std",)),
        ({"dist": "normal", "low": 0}, "'low' does not apply to dist 'normal' (it takes mean, std)", ("low",)),
        ({"dist": "he", "std": 1}, "'std' does not apply to dist 'he' (it takes no parameters)", ("std",)),
        ({"dist": "glorot", "high": 1}, "'high' does not apply to dist 'glorot' (it takes no parameters)", ("high",)),
        ({"dist": "unifrom"}, "unknown dist 'unifrom' (did you mean 'uniform'?)", ("dist",)),
        ({"dist": "xavier"}, "unknown dist 'xavier'", ("dist",)),
        ({"dist": 3}, "must be one of uniform, normal, he, glorot, not 3", ("dist",)),
        ({"count": 0}, "must be at least 1, not 0", ("count",)),
        ({"count": 2.0}, "must be an integer, not 2.0", ("count",)),
        ({"count": True}, "must be an integer, not true", ("count",)),
        ({"count": "3"}, "must be an integer, not '3'", ("count",)),
        ({"count": 4097}, "must be at most 4096, not 4097", ("count",)),
        ({"size": 0}, "must be at least 1, not 0", ("size",)),
        ({"size": [3, -1]}, "must be at least 1, not -1", ("size", 1)),
        ({"size": "big"}, "must be an integer or [height, width], not 'big'", ("size",)),
        ({"low": "a"}, "must be a number, not 'a'", ("low",)),
        ({"low": False}, "must be a number, not false", ("low",)),
        ({"high": float("nan")}, "must be a finite number, not nan", ("high",)),
        ({"low": 2, "high": 1}, "must be at least low (2), not 1", ("high",)),
        ({"high": -1}, "must be at least low (0), not -1", ("high",)),
        ({"low": 2}, "must be at most high (1), not 2", ("low",)),
        ({"dist": "normal", "std": -1}, "must be at least 0, not -1", ("std",)),
        ({"dist": "normal", "mean": "x"}, "must be a number, not 'x'", ("mean",)),
        ([1, 2], "must be a mapping, not [1, 2]", ()),
        ("uniform", "must be a mapping, not 'uniform'", ()),
    ],
)
def test_random_kernel_errors(spec: object, message: str, path: tuple[object, ...]) -> None:
    err = error_of(random_kernels, spec, 1, np.random.default_rng(0))
    assert (err.message, err.path) == (message, path)


@pytest.mark.parametrize(
    "spec, message, path",
    [
        ({"count": 3}, "'count' does not apply to dense weights, whose shape is (units, inputs)", ("count",)),
        ({"size": 3}, "'size' does not apply to dense weights, whose shape is (units, inputs)", ("size",)),
        ({"cnt": 3}, "unknown parameter 'cnt' (random takes: dist, low, high, mean, std)", ("cnt",)),
        ({"dist": "he", "mean": 0}, "'mean' does not apply to dist 'he' (it takes no parameters)", ("mean",)),
        ({"dist": "normal", "std": "wide"}, "must be a number, not 'wide'", ("std",)),
    ],
)
def test_random_matrix_errors(spec: object, message: str, path: tuple[object, ...]) -> None:
    err = error_of(random_matrix, spec, (2, 3), np.random.default_rng(0))
    assert (err.message, err.path) == (message, path)


def test_random_programming_errors_are_not_user_errors() -> None:
    with pytest.raises(ValueError):
        random_kernels({}, 0, np.random.default_rng(0))
    with pytest.raises(ValueError):
        random_matrix({}, (0, 3), np.random.default_rng(0))
