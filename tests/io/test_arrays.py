"""Kernel and weight files (.npy / .npz): shapes, keys, and the exact wording of every error."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest

from cnnviz.io.arrays import load_array_file, load_kernel_file
from tests.helpers import error_of


@pytest.mark.parametrize(
    "shape, expected",
    [((3, 3), (1, 3, 3)), ((2, 5), (1, 2, 5)), ((4, 3, 3), (4, 3, 3)), ((2, 3, 5, 3), (2, 3, 5, 3))],
)
def test_load_npy_shapes(tmp_path: pathlib.Path, shape: tuple[int, ...], expected: tuple[int, ...]) -> None:
    data = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    np.save(tmp_path / "k.npy", data)
    k = load_kernel_file(tmp_path / "k.npy", None)
    assert k.shape == expected and k.dtype == np.float64 and k.flags.c_contiguous
    np.testing.assert_array_equal(k.reshape(data.shape), data)


def test_load_accepts_str_path_int_and_bool(tmp_path: pathlib.Path) -> None:
    np.save(tmp_path / "i.npy", np.arange(9, dtype=np.int16).reshape(3, 3))
    k = load_kernel_file(str(tmp_path / "i.npy"), None)
    assert k.dtype == np.float64
    np.testing.assert_array_equal(k[0], np.arange(9).reshape(3, 3))
    np.save(tmp_path / "b.npy", np.eye(3, dtype=bool))
    np.testing.assert_array_equal(load_kernel_file(tmp_path / "b.npy", None)[0], np.eye(3))


def test_load_npz_single_and_keys(tmp_path: pathlib.Path) -> None:
    np.savez(tmp_path / "one.npz", only=np.ones((2, 3, 3)))
    assert load_kernel_file(tmp_path / "one.npz", None).shape == (2, 3, 3)
    assert load_kernel_file(tmp_path / "one.npz", "only").shape == (2, 3, 3)
    np.savez_compressed(tmp_path / "two.npz", edges=np.eye(3), blur=np.full((1, 5, 5, 2), 0.04))
    np.testing.assert_array_equal(load_kernel_file(tmp_path / "two.npz", "edges")[0], np.eye(3))
    assert load_kernel_file(tmp_path / "two.npz", "blur").shape == (1, 5, 5, 2)
    # a 3-D array is always (N, k_h, k_w), never (k_h, k_w, C)
    np.savez(tmp_path / "three.npz", w=np.ones((5, 5, 2)))
    assert load_kernel_file(tmp_path / "three.npz", None).shape == (5, 5, 2)


def test_load_npz_key_errors(tmp_path: pathlib.Path) -> None:
    np.savez(tmp_path / "two.npz", edges=np.eye(3), blur=np.ones((3, 3)))
    err = error_of(load_kernel_file, tmp_path / "two.npz", None)
    assert (err.message, err.path) == ("filter file holds several arrays; choose one with key: edges, blur", ("key",))
    err = error_of(load_kernel_file, tmp_path / "two.npz", "edgs")
    assert (err.message, err.path) == (
        "no array 'edgs' in the filter file (did you mean 'edges'?); it holds: edges, blur", ("key",)
    )
    err = error_of(load_kernel_file, tmp_path / "two.npz", "zzz")
    assert err.message == "no array 'zzz' in the filter file; it holds: edges, blur"
    err = error_of(load_kernel_file, tmp_path / "two.npz", 3)
    assert (err.message, err.path) == ("must be a string, not 3", ("key",))
    np.save(tmp_path / "a.npy", np.eye(3))
    err = error_of(load_kernel_file, tmp_path / "a.npy", "edges")
    assert (err.message, err.path) == ("'key' applies only to .npz files", ("key",))


def test_missing_file_names_full_resolved_path(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    err = error_of(load_kernel_file, pathlib.Path("sub/../missing.npy"), None)
    full = tmp_path.resolve() / "missing.npy"
    assert (err.message, err.path) == (f"filter file not found: {full}", ("file",))
    assert os.path.isabs(err.message.split(": ", 1)[1])


def file_error(path: pathlib.Path, key: str | None = None) -> tuple[str, tuple[object, ...]]:
    err = error_of(load_kernel_file, path, key)
    return err.message, err.path


def test_file_errors(tmp_path: pathlib.Path) -> None:
    root = tmp_path.resolve()
    (root / "dir.npy").mkdir()
    assert file_error(root / "dir.npy") == (f"filter file is a directory: {root / 'dir.npy'}", ("file",))
    (root / "k.txt").write_text("1 2 3")
    assert file_error(root / "k.txt") == (f"filter file must end in .npy or .npz: {root / 'k.txt'}", ("file",))
    (root / "junk.npy").write_text("not an array at all")
    assert file_error(root / "junk.npy") == (
        f"cannot read filter file {root / 'junk.npy'}: not a valid .npy or .npz file", ("file",)
    )
    (root / "junk.npz").write_bytes(b"PK\x03\x04 broken zip")
    assert file_error(root / "junk.npz") == (
        f"cannot read filter file {root / 'junk.npz'}: not a valid .npy or .npz file", ("file",)
    )
    np.save(root / "full.npy", np.ones((50, 50)))
    (root / "cut.npy").write_bytes((root / "full.npy").read_bytes()[:300])
    assert file_error(root / "cut.npy") == (
        f"cannot read filter file {root / 'cut.npy'}: not a valid .npy or .npz file", ("file",)
    )
    np.savez(root / "empty.npz")
    assert file_error(root / "empty.npz") == (f"filter file holds no arrays: {root / 'empty.npz'}", ("file",))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file(tmp_path: pathlib.Path) -> None:
    p = tmp_path.resolve() / "locked.npy"
    np.save(p, np.eye(3))
    p.chmod(0)
    try:
        assert file_error(p) == (f"cannot read filter file {p}: permission denied", ("file",))
    finally:
        p.chmod(0o600)


def test_os_errors_while_reading(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path.resolve() / "k.npy"
    np.save(p, np.eye(3))

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    def io_error(*args: object, **kwargs: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(np, "load", denied)
    assert file_error(p) == (f"cannot read filter file {p}: permission denied", ("file",))
    monkeypatch.setattr(np, "load", io_error)
    assert file_error(p) == (f"cannot read filter file {p}: Input/output error", ("file",))


@pytest.mark.parametrize(
    "array, message",
    [
        (np.array(["a", "b", "c"] * 3).reshape(3, 3), "kernel must hold real numbers, not dtype <U1"),
        (np.ones((3, 3), dtype=complex), "kernel must hold real numbers, not dtype complex128"),
        (np.arange(5.0), "kernel array has shape (5,); expected (k_h, k_w), (N, k_h, k_w) or (N, k_h, k_w, C)"),
        (np.array(2.0), "kernel array has shape (); expected (k_h, k_w), (N, k_h, k_w) or (N, k_h, k_w, C)"),
        (np.ones((1, 2, 3, 3, 1)), "kernel array has shape (1, 2, 3, 3, 1); expected (k_h, k_w), (N, k_h, k_w) or (N, k_h, k_w, C)"),
        (np.ones((0, 3, 3)), "kernel array has shape (0, 3, 3), which is empty"),
        (np.array([[1.0, np.nan], [0, 0]]), "kernel contains NaN or inf"),
        (np.array([[1.0, -np.inf], [0, 0]], dtype=np.float32), "kernel contains NaN or inf"),
    ],
)
def test_bad_arrays(tmp_path: pathlib.Path, array: np.ndarray, message: str) -> None:
    np.save(tmp_path / "k.npy", array)
    assert file_error(tmp_path / "k.npy") == (message, ("file",))
    np.savez(tmp_path / "k.npz", w=array)
    assert file_error(tmp_path / "k.npz", "w") == (message, ("file",))


def test_object_arrays_are_never_unpickled(tmp_path: pathlib.Path) -> None:
    obj = np.empty((2, 2), dtype=object)
    obj[:] = [[1, 2], [3, {"x": 1}]]
    np.save(tmp_path / "o.npy", obj, allow_pickle=True)
    assert file_error(tmp_path / "o.npy") == ("kernel must hold real numbers, not dtype object", ("file",))
    np.savez(tmp_path / "o.npz", w=obj)
    assert file_error(tmp_path / "o.npz") == ("kernel must hold real numbers, not dtype object", ("file",))


def test_load_array_file_any_shape_weights_wording(tmp_path: pathlib.Path) -> None:
    root = tmp_path.resolve()
    np.save(root / "w.npy", np.arange(12, dtype=np.int32).reshape(3, 4))
    w = load_array_file(root / "w.npy")
    assert w.shape == (3, 4) and w.dtype == np.float64
    np.savez(root / "w.npz", weights=np.ones((2, 5)), bias=np.zeros(2))
    assert load_array_file(root / "w.npz", "bias").shape == (2,)
    np.save(root / "v.npy", np.ones(7))
    assert load_array_file(root / "v.npy").shape == (7,)  # the caller checks the shape it needs

    def err(path: pathlib.Path, key: str | None = None) -> tuple[str, tuple[object, ...]]:
        e = error_of(load_array_file, path, key)
        return e.message, e.path

    assert err(root / "nope.npy") == (f"weights file not found: {root / 'nope.npy'}", ("file",))
    assert err(root / "w.npz") == (
        "weights file holds several arrays; choose one with key: weights, bias", ("key",)
    )
    assert err(root / "w.npz", "weight") == (
        "no array 'weight' in the weights file (did you mean 'weights'?); it holds: weights, bias",
        ("key",),
    )
    np.save(root / "e.npy", np.ones((0, 3)))
    assert err(root / "e.npy") == ("array has shape (0, 3), which is empty", ("file",))
    np.save(root / "n.npy", np.array([1.0, np.nan]))
    assert err(root / "n.npy") == ("array contains NaN or inf", ("file",))
    np.save(root / "s.npy", np.array(["x"]))
    assert err(root / "s.npy") == ("array must hold real numbers, not dtype <U1", ("file",))
