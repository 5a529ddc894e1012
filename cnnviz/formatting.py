"""How numbers, sizes and shapes are written, in messages, tables and pictures alike.

>>> times(298, 449, 2), short_number(-0.01234), format_bytes(3 << 30)
('298×449×2', '−0.0123', '3.0 GiB')
"""

from __future__ import annotations

import math

__all__ = ["times", "short_number", "format_bytes"]


def times(*xs: int) -> str:
    """``3×3``-style sizes and shapes."""
    return "×".join(str(int(x)) for x in xs)


def short_number(v: float, digits: int = 3) -> str:
    """A short number with a real minus sign: 0.0123, −1.5, 2.4e+03 -> ``2.4e3``."""
    if not math.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    s = f"{v:.{digits}g}"
    if "e" in s:
        mant, exp = s.split("e")
        s = f"{mant}e{int(exp)}"
    return s.replace("-", "−")


def format_bytes(n: float) -> str:
    """``1.5 GiB``-style sizes (binary units)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError
