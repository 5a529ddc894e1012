#!/usr/bin/env python3
"""Write ``cnnviz/colormaps.npz``: every colormap matplotlib registers, as the lookup table it samples.

    python scripts/make_colormaps.py               # rewrite the shipped table
    python scripts/make_colormaps.py -o OUT.npz    # ... or write it elsewhere

Run it after upgrading matplotlib (``tests/test_colormaps.py`` says when the
shipped table no longer matches).  For each name in ``matplotlib.colormaps``
(the ``_r`` ones included: matplotlib builds a reversed segmented colormap
from reversed segment data, whose table is not always bit for bit the base
table reversed, and sometimes differs after rounding to 8 bits) the file
holds the ``N`` colours ``cmap(np.arange(cmap.N))[:, :3]`` (exactly the rows
``Colormap.__call__`` picks from for float input in ``[0, 1]``) as float64:
float32 changes the 8-bit rounding of about a thousand values.

Arrays in the file (``np.load(path)``, no pickles):

``names``               (K,) str, sorted
``sizes``               (K,) int32, each colormap's ``N``
``lut``                 (sum(sizes), 3) float64, the tables one after another in ``names`` order
``matplotlib_version``  () str, the matplotlib that made them
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "cnnviz" / "colormaps.npz"


def tables() -> dict[str, Any]:
    """The arrays of the file, made from the matplotlib installed."""
    import matplotlib
    from matplotlib import colormaps

    names = sorted(colormaps)
    luts = []
    for name in names:
        cmap = colormaps[name]
        lut = np.asarray(cmap(np.arange(cmap.N)), dtype=np.float64)[:, :3]
        assert lut.shape == (cmap.N, 3), name
        luts.append(lut)
    return {
        "names": np.array(names, dtype=str),
        "sizes": np.array([len(t) for t in luts], dtype=np.int32),
        "lut": np.concatenate(luts),
        "matplotlib_version": np.array(matplotlib.__version__, dtype=str),
    }


def write(path: Path) -> Path:
    """Write the table to ``path`` (compressed npz); return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez_compressed(f, **tables())
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", type=Path, default=OUT, help=f"where to write (default {OUT.relative_to(ROOT)})")
    args = ap.parse_args(argv)
    path = write(args.out)
    with np.load(path) as z:
        print(f"{path}: {len(z['names'])} colormaps, matplotlib {z['matplotlib_version']}, "
              f"{path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
