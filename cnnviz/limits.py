"""The one vocabulary of limits and value checks that configs, kernels and images share.

Limits protect the machine (SPEC §6): no kernel, window, count or picture
may be so large that validating, planning or drawing it exhausts memory or
time.  The checkers turn a user's value into a normalised one or raise a
:class:`~cnnviz.errors.CnnvizError` worded for that user, with the key path
relative to the value (callers prepend their part with ``err.under``).

Two spellings of a wrong value are used, both here so they stay one place:
:func:`describe` (``a list``, ``a mapping``, ``'abc'``) for config keys, and
:func:`show` (the value as written: ``[1, 'a']``) for preset and random-kernel
parameters, whose messages quote the value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .errors import CnnvizError, KeyPath, PathItem, did_you_mean

__all__ = [
    "MAX_KERNEL_SIDE",
    "MAX_KERNELS",
    "MAX_KERNEL_VALUES",
    "MAX_ORIENTATIONS",
    "MAX_UNITS",
    "MAX_PIXELS",
    "MAX_RESIZE_SIDE",
    "MAX_CHANNELS",
    "Checker",
    "describe",
    "show",
    "wrong",
    "is_int",
    "is_number",
    "integer",
    "number",
    "boolean",
    "choice",
    "pair",
    "string",
    "string_list",
    "number_or_list",
    "as_number",
    "as_int",
    "as_size",
    "as_bool",
    "as_mapping",
    "name",
    "safe_name",
    "check_kernel_values",
    "check_pixels",
]

#: Largest kernel or pooling-window side accepted (rows or columns).
MAX_KERNEL_SIDE = 1025
#: Most kernels one filter entry (a ``random`` count, a file) may hold.
MAX_KERNELS = 4096
#: Most values one filter entry may produce (count × kh × kw × C).
MAX_KERNEL_VALUES = 1 << 24
#: Most orientations one ``gabor_bank`` may make.
MAX_ORIENTATIONS = 360
#: Most units a dense stage may have.
MAX_UNITS = 1_000_000
#: Images (as read, and as resized by ``input.resize``) with more pixels are refused.
MAX_PIXELS = 100_000_000
#: Largest side ``input.resize`` accepts (the pixel limit applies as well).
MAX_RESIZE_SIDE = 65536
#: Most channels a per-channel list (``input.normalize``, batchnorm) may hold.
MAX_CHANNELS = 100_000

Checker = Callable[[Any, KeyPath], Any]


# ---------------------------------------------------------------------------
# Wording of values.


def describe(value: Any) -> str:
    """A config value as messages name it: ``null``, ``true``, ``'abc'``, ``a list``, ``a mapping``, ``1.5``.

    >>> describe([1]), describe({}), describe("x"), describe(None), describe(2.5)
    ('a list', 'a mapping', "'x'", 'null', '2.5')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return str(value)


def show(value: Any) -> str:
    """A parameter value the way the user wrote it (YAML spelling), briefly.

    >>> show("abc"), show(True), show(None), show(2.0), show([1, "a"])
    ("'abc'", 'true', 'null', '2.0', "[1, 'a']")
    """
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        text = f"'{value}'"
    elif isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        text = repr(f)
    elif isinstance(value, (int, np.integer)):
        text = str(int(value))
    elif isinstance(value, Mapping):
        return "a mapping"
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(show(v) for v in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def wrong(expected: str, value: Any, path: KeyPath, hint: str = "") -> CnnvizError:
    """``must be <expected>, not <value>`` at ``path``."""
    return CnnvizError(f"must be {expected}, not {describe(value)}{hint}", path)


def is_int(v: Any) -> bool:
    """An integer that is not a bool (NumPy integers count)."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def is_number(v: Any) -> bool:
    """An int or float that is not a bool (NumPy numbers count)."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


# ---------------------------------------------------------------------------
# Config checkers: (value, path) -> normalised value.


def integer(minimum: int | None = None, maximum: int | None = None) -> Checker:
    """An integer in ``minimum .. maximum``."""

    def check(v: Any, path: KeyPath) -> int:
        if not is_int(v):
            raise wrong("an integer", v, path)
        if minimum is not None and v < minimum:
            raise CnnvizError(f"must be at least {minimum}, not {v}", path)
        if maximum is not None and v > maximum:
            raise CnnvizError(f"must be at most {maximum}, not {v}", path)
        return int(v)

    return check


def number(minimum: float | None = None, *, positive: bool = False, maximum: float | None = None) -> Checker:
    """A finite number (``positive``: greater than 0) in ``minimum .. maximum``, as float."""

    def check(v: Any, path: KeyPath) -> float:
        if not is_number(v):
            raise wrong("a number", v, path)
        if not math.isfinite(v):
            raise CnnvizError(f"must be a finite number, not {v}", path)
        if positive and v <= 0:
            raise CnnvizError(f"must be greater than 0, not {v}", path)
        if minimum is not None and v < minimum:
            raise CnnvizError(f"must be at least {minimum}, not {v}", path)
        if maximum is not None and v > maximum:
            raise CnnvizError(f"must be at most {maximum}, not {v}", path)
        return float(v)

    return check


def boolean(v: Any, path: KeyPath) -> bool:
    """``true`` or ``false``."""
    if not isinstance(v, bool):
        raise wrong("true or false", v, path)
    return v


def choice(*options: str) -> Checker:
    """One of ``options`` (with a "did you mean")."""

    def check(v: Any, path: KeyPath) -> str:
        if not isinstance(v, str) or v not in options:
            hint = did_you_mean(v, options) if isinstance(v, str) else ""
            raise wrong("one of " + ", ".join(options), v, path, hint)
        return v

    return check


def pair(minimum: int, maximum: int | None = None) -> Checker:
    """An int or ``[a, b]`` -> ``(a, b)``, each in ``minimum .. maximum``."""
    one = integer(minimum, maximum)

    def check(v: Any, path: KeyPath) -> tuple[int, int]:
        if isinstance(v, list):
            if len(v) != 2:
                raise CnnvizError(f"must be an integer or a list of 2 integers, not a list of {len(v)}", path)
            return (one(v[0], path + (0,)), one(v[1], path + (1,)))
        if not is_int(v):
            raise wrong("an integer or a list of 2 integers", v, path)
        a = one(v, path)
        return (a, a)

    return check


def string(v: Any, path: KeyPath) -> str:
    """A string."""
    if not isinstance(v, str):
        raise wrong("a string", v, path)
    return v


def string_list(v: Any, path: KeyPath) -> tuple[str, ...]:
    """A list of strings (numbers are written as strings: class labels ``[0, 1, ...]``)."""
    if not isinstance(v, list):
        raise wrong("a list of strings", v, path)
    out = []
    for i, x in enumerate(v):
        if is_number(x):
            x = str(x)
        out.append(string(x, path + (i,)))
    return tuple(out)


def number_or_list(v: Any, path: KeyPath) -> float | tuple[float, ...]:
    """A number, or a list of numbers (one per channel, kernel or unit)."""
    if isinstance(v, list):
        if len(v) > MAX_CHANNELS:
            raise CnnvizError(f"a list of at most {MAX_CHANNELS:,} numbers, not {len(v):,}", path)
        return tuple(number()(x, path + (i,)) for i, x in enumerate(v))
    return number()(v, path)


# ---------------------------------------------------------------------------
# Parameter checkers (presets, random kernels): messages quote the value as written.


def _fmt_bound(bound: float) -> str:
    """``0`` for ``0.0``, ``1.5`` for ``1.5``."""
    return str(int(bound)) if float(bound).is_integer() else repr(float(bound))


def _check_range(value: Any, x: float, path: Sequence[PathItem], minimum: float | None, exclusive: bool,
                 maximum: float | None) -> None:
    if minimum is not None:
        if exclusive and not x > minimum:
            raise CnnvizError(f"must be greater than {_fmt_bound(minimum)}, not {show(value)}", path)
        if not exclusive and not x >= minimum:
            raise CnnvizError(f"must be at least {_fmt_bound(minimum)}, not {show(value)}", path)
    if maximum is not None and x > maximum:
        raise CnnvizError(f"must be at most {_fmt_bound(maximum)}, not {show(value)}", path)


def as_number(value: Any, path: Sequence[PathItem], minimum: float | None = None, exclusive: bool = False,
              maximum: float | None = None) -> float:
    """A finite real number (ints accepted, bools not), optionally bounded."""
    if not is_number(value):
        raise CnnvizError(f"must be a number, not {show(value)}", path)
    try:
        x = float(value)
    except OverflowError:
        x = math.inf
    if not math.isfinite(x):
        raise CnnvizError(f"must be a finite number, not {show(value)}", path)
    _check_range(value, x, path, minimum, exclusive, maximum)
    return x


def as_int(value: Any, path: Sequence[PathItem], minimum: float | None = None, maximum: float | None = None) -> int:
    """An integer (not a bool, not a float), optionally bounded."""
    if not is_int(value):
        raise CnnvizError(f"must be an integer, not {show(value)}", path)
    n = int(value)
    _check_range(value, n, path, minimum, False, maximum)
    return n


def as_size(value: Any, path: Sequence[PathItem]) -> tuple[int, int]:
    """``k`` -> ``(k, k)``; ``[h, w]`` -> ``(h, w)``; each side in 1 .. MAX_KERNEL_SIDE."""
    if is_int(value):
        side = as_int(value, path, 1, MAX_KERNEL_SIDE)
        return side, side
    if isinstance(value, (list, tuple)) and len(value) == 2:
        h = as_int(value[0], (*path, 0), 1, MAX_KERNEL_SIDE)
        w = as_int(value[1], (*path, 1), 1, MAX_KERNEL_SIDE)
        return h, w
    raise CnnvizError(f"must be an integer or [height, width], not {show(value)}", path)


def as_bool(value: Any, path: Sequence[PathItem]) -> bool:
    """``true`` or ``false`` (NumPy bools count)."""
    if not isinstance(value, (bool, np.bool_)):
        raise CnnvizError(f"must be true or false, not {show(value)}", path)
    return bool(value)


def as_mapping(value: Any, path: Sequence[PathItem]) -> Mapping[Any, Any]:
    """A mapping (``null`` counts as empty)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise CnnvizError(f"must be a mapping, not {show(value)}", path)
    return value


# ---------------------------------------------------------------------------
# Names that become file and folder names.

_NAME_RE = re.compile(r"^\w[\w.-]*$")
_RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)}
_UNSAFE = re.compile(r'[/\\:*?"<>|\x00-\x1f]')


def name(v: Any, path: KeyPath) -> str:
    """A stage or config name: it becomes part of a file name, so keep it to a safe alphabet."""
    v = string(v, path)
    if not _NAME_RE.match(v) or ".." in v or len(v) > 64:
        raise CnnvizError(
            f"the name {v!r} may only use letters, digits, '_', '-' and single '.', "
            "start with a letter or digit, and be at most 64 characters",
            path,
        )
    if v.split(".")[0].lower() in _RESERVED:
        raise CnnvizError(f"the name {v!r} is reserved on Windows; choose another", path)
    return v


def safe_name(text: str) -> str:
    """``text`` made a safe folder name: no path separators, no characters Windows refuses, never ``.`` or ``..``.

    >>> safe_name("a/b"), safe_name(".."), safe_name("..."), safe_name("my config")
    ('a_b', '_', '_', 'my config')
    """
    s = _UNSAFE.sub("_", text).strip()
    return "_" if not s.strip(".") else s


# ---------------------------------------------------------------------------
# Sizes.


def check_kernel_values(count: int, kh: int, kw: int, c: int) -> None:
    """Refuse a filter entry of more than :data:`MAX_KERNEL_VALUES` values (count × kh × kw × C)."""
    total = count * kh * kw * c
    if total > MAX_KERNEL_VALUES:
        raise CnnvizError(
            f"{count} kernel{'s' if count != 1 else ''} of {kh}×{kw}×{c} is {total:,} values, "
            f"more than the limit of {MAX_KERNEL_VALUES:,}"
        )


def check_pixels(height: int, width: int, what: str, limit: int = MAX_PIXELS) -> None:
    """Refuse a picture of more than ``limit`` pixels: ``<what>: W×H = N pixels is more than ...``."""
    if height * width > limit:
        raise CnnvizError(f"{what}: {width}×{height} = {width * height:,} pixels is more than the limit of {limit:,}")
