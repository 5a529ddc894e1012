"""matplotlib's colormaps without importing matplotlib: lookup tables bundled in ``colormaps.npz``.

``import matplotlib.colors`` alone costs about 0.4 s, more than a whole
grid takes to render, so the colours come from a table made by
``scripts/make_colormaps.py``: for every colormap matplotlib registers
(``_r`` ones included), the ``N`` float64 colours its ``Colormap.__call__``
picks from.  :func:`colormap_rgb` indexes them the way matplotlib indexes
float input, so its colours are matplotlib's, bit for bit, for the
matplotlib version the table was made with (:func:`table_version`; and
matplotlib's default ``image.lut`` of 256, which sets most colormaps' ``N``).
A name the table lacks (a colormap registered by seaborn or cmocean, or new
in a later matplotlib) is looked up in matplotlib, which is then imported.
Regenerate the table after upgrading matplotlib (``tests/test_colormaps.py``
says when it is stale).

>>> colormap_rgb("gray", 3).tolist()
[[0, 0, 0], [128, 128, 128], [255, 255, 255]]
>>> is_diverging("RdBu_r"), is_diverging("viridis")
(True, False)
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["DIVERGING", "TABLE", "colormap_names", "colormap_rgb", "is_diverging", "table_version"]

#: The bundled table (see ``scripts/make_colormaps.py`` for its arrays).
TABLE = Path(__file__).with_name("colormaps.npz")

#: Matplotlib's diverging colormaps (and a few registered by seaborn/cmocean);
#: a name ending in ``_r`` is diverging when its base name is.
DIVERGING = frozenset({
    "PiYG", "PRGn", "BrBG", "PuOr", "RdGy", "RdBu", "RdYlBu", "RdYlGn", "Spectral",
    "coolwarm", "bwr", "seismic", "berlin", "managua", "vanimo",
    "icefire", "vlag", "cmo.balance", "cmo.delta", "cmo.curl", "cmo.diff", "cmo.tarn",
})


def is_diverging(cmap: str) -> bool:
    """Whether ``cmap`` is a diverging colormap (its centre means zero)."""
    base = cmap[:-2] if cmap.endswith("_r") else cmap
    return base in DIVERGING


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, tuple[int, int]], str]:
    """name -> (first row, N) in the table, and the table's matplotlib version; empty without a table.

    Reads only the small arrays of the file (an npz is read member by member).
    """
    try:
        with np.load(TABLE) as z:
            names = [str(s) for s in z["names"]]
            sizes = [int(s) for s in z["sizes"]]
            version = str(z["matplotlib_version"])
    except (OSError, KeyError, ValueError):  # no table (a broken install): matplotlib for every name
        return {}, ""
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).tolist() if sizes else []
    return {n: (int(s), k) for n, s, k in zip(names, starts, sizes)}, version


@lru_cache(maxsize=1)
def _lut() -> np.ndarray:
    with np.load(TABLE) as z:
        lut = np.asarray(z["lut"], dtype=np.float64)
    lut.flags.writeable = False
    return lut


@lru_cache(maxsize=1)
def colormap_names() -> tuple[str, ...]:
    """The colormaps of the bundled table, sorted (matplotlib's own, as of :func:`table_version`)."""
    return tuple(_index()[0])


def table_version() -> str:
    """The matplotlib version the bundled table was made with (``""`` without a table)."""
    return _index()[1]


@lru_cache(maxsize=64)
def colormap_rgb(name: str, n: int) -> np.ndarray:
    """The colormap ``name`` sampled at ``linspace(0, 1, n)``: (n, 3) uint8, read-only.

    Equal to ``np.round(matplotlib.colormaps[name](np.linspace(0, 1, n))[:, :3] * 255)``.
    A name not in the table is looked up in matplotlib (``KeyError`` when it
    has no such colormap either).
    """
    found = _index()[0].get(name)
    if found is None:
        from matplotlib import colormaps  # a colormap the table does not have

        rgb = np.asarray(colormaps[name](np.linspace(0.0, 1.0, n)), dtype=np.float64)[:, :3]
    else:
        start, size = found
        lut = _lut()[start:start + size]
        # matplotlib's Colormap._get_rgba_and_mask for float input: scale by N,
        # 1.0 (== N) is the last colour, truncate to int, clip into the table
        xa = np.linspace(0.0, 1.0, n)
        xa *= size
        xa[xa == size] = size - 1
        rgb = lut.take(xa.astype(int), axis=0, mode="clip")
    out = np.round(rgb * 255).astype(np.uint8)
    out.flags.writeable = False
    return out
