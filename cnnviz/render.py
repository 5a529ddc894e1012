"""Write a run's pictures (plain grids for now; see the rendering issue)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config, load_config
from .pipeline import Layer

__all__ = ["render", "tile_maps"]


def tile_maps(maps: np.ndarray, columns: int | None = None, gap: int = 1) -> np.ndarray:
    """Tile (H, W, N) maps, each scaled to its own [0, 1], into one (rows*H, cols*W) uint8 image."""
    h, w, n = maps.shape
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    lo = maps.min(axis=(0, 1))
    span = maps.max(axis=(0, 1)) - lo
    span[span == 0] = 1
    scaled = ((maps - lo) / span * 255 + 0.5).astype(np.uint8)
    out = np.zeros((rows * (h + gap) - gap, cols * (w + gap) - gap), np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = scaled[:, :, i]
    return out


def _write(path: Path, img: np.ndarray) -> None:
    from PIL import Image

    tmp = path.with_name(f".{path.name}.tmp")
    Image.fromarray(img).save(tmp, format="PNG")
    os.replace(tmp, path)


def render(config: Config | Any, layers: list[Layer], outdir: str | os.PathLike[str], *, image: np.ndarray | None = None) -> list[Path]:
    """Write ``00_input.png`` (when ``image`` is given) and one ``NN_<name>.png`` grid per layer."""
    config = load_config(config)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    width = max(2, len(str(len(layers))))
    if image is not None:
        p = out / f"{0:0{width}d}_input.png"
        _write(p, tile_maps(image))
        written.append(p)
    for layer in layers:
        p = out / f"{layer.index:0{width}d}_{layer.name}.png"
        _write(p, tile_maps(layer.output))
        written.append(p)
    return written
