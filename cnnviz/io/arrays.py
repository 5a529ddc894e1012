"""Kernel and weight files: ``.npy`` / ``.npz`` arrays, loaded without ever unpickling.

* :func:`load_kernel_file` -> ``(N, k_h, k_w)`` or ``(N, k_h, k_w, C)``.
* :func:`load_array_file` -> the file's own shape (dense weights, batchnorm statistics).

Every user mistake is a :class:`~cnnviz.errors.CnnvizError` whose ``path`` is
relative to the entry (``("file",)``, ``("key",)``); callers prepend their part.
"""

from __future__ import annotations

import io
import os
import pathlib
from collections.abc import Callable

import numpy as np

from ..errors import CnnvizError, did_you_mean
from ..limits import show

__all__ = ["ConfigFiles", "load_array_file", "load_kernel_file"]


def _kernel_shape_problem(shape: tuple[int, ...]) -> str | None:
    if len(shape) not in (2, 3, 4):
        return (
            f"kernel array has shape {shape}; expected (k_h, k_w), (N, k_h, k_w) "
            "or (N, k_h, k_w, C)"
        )
    return None


def _read_array(
    path: pathlib.Path | str,
    key: str | None,
    *,
    label: str,
    noun: str,
    shape_noun: str,
    shape_problem: Callable[[tuple[int, ...]], str | None],
    data: bytes | None = None,
) -> np.ndarray:
    """Shared loader: resolve, open without pickles, pick ``key``, check dtype/shape/finiteness.

    ``label`` names the file in messages (``filter file``), ``noun`` its
    content (``kernel``) and ``shape_noun`` the content's shape (``kernel
    array``); ``data``, when given, is the file's bytes (held in memory).
    Returns a C-contiguous float64 copy.
    """
    given = pathlib.Path(os.fspath(path)).expanduser()
    try:
        resolved = given.resolve()
    except (OSError, RuntimeError):
        resolved = given.absolute()
    where = ("file",)
    if data is None:
        try:
            exists = resolved.exists()
            is_dir = resolved.is_dir()
        except OSError as exc:
            raise CnnvizError(f"cannot read {label} {resolved}: {exc.strerror or exc}", where) from None
        if not exists:
            raise CnnvizError(f"{label} not found: {resolved}", where)
        if is_dir:
            raise CnnvizError(f"{label} is a directory: {resolved}", where)
    if resolved.suffix.lower() not in (".npy", ".npz"):
        raise CnnvizError(f"{label} must end in .npy or .npz: {resolved}", where)
    if key is not None and not isinstance(key, str):
        raise CnnvizError(f"must be a string, not {show(key)}", ("key",))

    def unreadable(exc: BaseException) -> CnnvizError:
        if isinstance(exc, ValueError) and "Object arrays" in str(exc):
            return CnnvizError(f"{noun} must hold real numbers, not dtype object", where)
        if isinstance(exc, PermissionError):
            return CnnvizError(f"cannot read {label} {resolved}: permission denied", where)
        if isinstance(exc, OSError) and exc.strerror:
            return CnnvizError(f"cannot read {label} {resolved}: {exc.strerror}", where)
        return CnnvizError(f"cannot read {label} {resolved}: not a valid .npy or .npz file", where)

    try:
        loaded = np.load(io.BytesIO(data) if data is not None else resolved, allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError, OSError, EOFError, BadZipFile...
        raise unreadable(exc) from None

    if isinstance(loaded, np.ndarray):
        if key is not None:
            raise CnnvizError("'key' applies only to .npz files", ("key",))
        array = loaded
    else:
        with loaded:
            names = list(loaded.files)
            if not names:
                raise CnnvizError(f"{label} holds no arrays: {resolved}", where)
            if key is None:
                if len(names) > 1:
                    raise CnnvizError(
                        f"{label} holds several arrays; choose one with key: " + ", ".join(names),
                        ("key",),
                    )
                key = names[0]
            elif key not in names:
                raise CnnvizError(
                    f"no array '{key}' in the {label}{did_you_mean(key, names)}; "
                    "it holds: " + ", ".join(names),
                    ("key",),
                )
            try:
                array = loaded[key]
            except Exception as exc:  # a damaged or pickled member
                raise unreadable(exc) from None

    dtype = array.dtype
    if not (
        np.issubdtype(dtype, np.integer)
        or np.issubdtype(dtype, np.floating)
        or np.issubdtype(dtype, np.bool_)
    ):
        raise CnnvizError(f"{noun} must hold real numbers, not dtype {dtype}", where)
    shape = tuple(int(n) for n in array.shape)
    problem = shape_problem(shape)
    if problem is not None:
        raise CnnvizError(problem, where)
    if array.size == 0:
        raise CnnvizError(f"{shape_noun} has shape {shape}, which is empty", where)
    out = np.array(array, dtype=np.float64, order="C")  # a copy
    if not np.isfinite(out).all():
        raise CnnvizError(f"{noun} contains NaN or inf", where)
    return out


def load_kernel_file(path: pathlib.Path | str, key: str | None = None, *, data: bytes | None = None) -> np.ndarray:
    """Load kernels from a ``.npy`` or ``.npz`` file (never unpickling anything).

    Parameters
    ----------
    path : pathlib.Path or str
        The file; the caller resolves a config-relative path first (a
        relative path is taken from the current directory).
    key : str or None
        For ``.npz``: which array.  Optional when the file holds exactly one
        array; an error for ``.npy``.

    Returns
    -------
    ndarray, float64
        ``(N, k_h, k_w)`` (a 2-D ``(k_h, k_w)`` array becomes ``N = 1``; a
        3-D array is always ``(N, k_h, k_w)``) or ``(N, k_h, k_w, C)``.
        Integer and bool arrays are converted.

    Raises
    ------
    CnnvizError
        At ``("file",)``: ``filter file not found: /full/resolved/path.npy``,
        ``filter file is a directory: ...``, ``filter file must end in .npy
        or .npz: ...``, ``cannot read filter file ...: permission denied``,
        ``cannot read filter file ...: not a valid .npy or .npz file``,
        ``filter file holds no arrays: ...``, ``kernel must hold real
        numbers, not dtype <U3``, ``kernel array has shape (5,); expected
        (k_h, k_w), (N, k_h, k_w) or (N, k_h, k_w, C)``, ``kernel array has
        shape (0, 3, 3), which is empty``, ``kernel contains NaN or inf``.
        At ``("key",)``: ``must be a string, not 3``, ``'key' applies only
        to .npz files``, ``filter file holds several arrays; choose one with
        key: a, b``, ``no array 'x' in the filter file (did you mean
        'y'?); it holds: a, b``.
    """
    out = _read_array(
        path, key, label="filter file",
        noun="kernel",
        shape_noun="kernel array",
        shape_problem=_kernel_shape_problem,
        data=data,
    )
    return out[None] if out.ndim == 2 else out


def load_array_file(path: pathlib.Path | str, key: str | None = None, *, data: bytes | None = None) -> np.ndarray:
    """Load one numeric array of any shape (dense weights) from ``.npy`` / ``.npz``.

    The same rules as :func:`load_kernel_file` except the shape, which the
    caller checks.  Messages are worded for a weights file: ``weights file
    not found: /full/path.npy``, ``cannot read weights file ...: not a valid
    .npy or .npz file``, ``array must hold real numbers, not dtype <U3``,
    ``array has shape (0, 3), which is empty``, ``array contains NaN or
    inf``; key problems as for kernel files (``no array 'x' in the weights
    file; it holds: a, b``).

    Parameters
    ----------
    path : pathlib.Path or str
    key : str or None

    Returns
    -------
    ndarray, float64, C-contiguous
        The file's array, of its own (non-empty) shape.
    """
    return _read_array(
        path,
        key,
        label="weights file",
        noun="array",
        shape_noun="array",
        shape_problem=lambda shape: None,
        data=data,
    )


class ConfigFiles:
    """The files a config's ``file:`` entries name: relative to its folder, or held in memory.

    A config written by ``cnnviz import`` names its weights file
    (``digits.npz``); ``cnnviz run MODEL.onnx`` imports in memory, and its
    config reads the same names from ``memory`` (resolved path -> the
    file's bytes) instead of the disk.
    """

    def __init__(self, base_dir: str | os.PathLike[str], memory: dict[str, bytes] | None = None) -> None:
        self.base_dir = pathlib.Path(base_dir)
        self.memory = dict(memory or {})

    def resolve(self, name: str) -> pathlib.Path:
        """The full path of ``name`` (relative to the config's folder)."""
        return (self.base_dir / name).resolve()

    def kernels(self, name: str, key: str | None) -> tuple[np.ndarray, pathlib.Path]:
        """:func:`load_kernel_file` of ``name``, and its full path."""
        full = self.resolve(name)
        return load_kernel_file(full, key, data=self.memory.get(str(full))), full

    def array(self, name: str, key: str | None) -> np.ndarray:
        """:func:`load_array_file` of ``name``."""
        full = self.resolve(name)
        return load_array_file(full, key, data=self.memory.get(str(full)))
