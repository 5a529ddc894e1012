#!/usr/bin/env python
"""Row 6's reference: cnnviz computes the stages, then a bare dump writes them (one process).

    python benchmarks/bare_dump.py CONFIG IMAGE RESIZE OUTDIR

does what a user without cnnviz's figures would write::

    config = cnnviz.load_config(CONFIG with input.resize = RESIZE)
    layers = cnnviz.run(config, IMAGE)

and writes each stage as ONE plain grey PNG, ``OUTDIR/NN_<stage name>.png``:
the stage's maps tiled side by side in a near-square grid (``ceil(sqrt(n))``
columns, row by row, no gaps) at 1:1, each map scaled to its own min..max
into 8-bit grey (a constant map is 0), saved with
``Image.fromarray(grid, "L").save(path)`` and Pillow's default PNG settings.
No labels, no colormap, no input picture, no overview, no manifest.

``benchmarks/run.py`` runs this script as a whole process, interleaved with
``cnnviz run CONFIG IMAGE --set input.resize=RESIZE -o DIR``, after checking
what it wrote (one PNG per stage, each tile equal to its map).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np


def tiled(maps: np.ndarray) -> np.ndarray:
    """(H, W, N) float maps -> one (rows*H, cols*W) uint8 grid, each map scaled by its own min..max."""
    h, w, n = maps.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    lo = maps.min(axis=(0, 1))
    hi = maps.max(axis=(0, 1))
    span = np.where(hi > lo, hi - lo, 1).astype(np.float32)
    grid = np.zeros((rows, h, cols, w), np.uint8)
    for i in range(n):
        q = (maps[:, :, i] - lo[i]) * (np.float32(255) / span[i])
        grid[i // cols, :, i % cols, :] = np.rint(q)
    return grid.reshape(rows * h, cols * w)


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    config_path, image, resize, outdir = Path(argv[0]), argv[1], int(argv[2]), Path(argv[3])

    import yaml
    from PIL import Image

    import cnnviz

    with open(config_path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    data.setdefault("input", {})["resize"] = resize
    config = cnnviz.load_config(data, base_dir=config_path.parent)
    layers = cnnviz.run(config, image)

    outdir.mkdir(parents=True, exist_ok=True)
    for layer in layers:
        grid = tiled(layer.output)
        Image.fromarray(grid, "L").save(outdir / f"{layer.index:02d}_{layer.name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
