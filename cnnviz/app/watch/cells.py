"""What the ``--serve`` page needs to point at a feature-map cell: where each tile is drawn, and its values.

:func:`page_cells` reads one render (its drawings, its layers, their planned
geometry) into a :class:`PageCells`:

* :meth:`PageCells.meta` — JSON for ``/cells``: for the input picture and for
  each stage's grid picture, the picture's size and every tile's box (the
  drawing's :class:`~cnnviz.rendering.canvas.Raster` items: ``x, y, w, h`` in
  the picture's pixels, and the ``rows × cols`` of data it shows, so a tile
  shrunk 1:N or zoomed maps exactly), the stage's output shape, receptive
  field, jump and start (SPEC §8), and the shrink factor;
* :meth:`PageCells.values` — the bytes of ``/values/<stage>/<channel>``: one
  map of a shown tile, 8-bit.  A 24-byte little-endian header (``uint32``
  rows, ``uint32`` cols, ``float64`` min, ``float64`` max of the map's finite
  values), then ``rows × cols`` codes, row by row: code ``q`` in 0 … 254
  stands for ``min + q · (max − min) / 254`` (within ``(max − min) / 508`` of
  the true value), 255 for NaN or ±inf.  A quarter of the float32 map, made
  only when the page asks for it, only for maps the grid shows.
"""

from __future__ import annotations

import re
import struct
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...rendering.canvas import Raster, Text
from ...rendering.palette import LEVELS

__all__ = ["LEVELS_8BIT", "NOT_FINITE", "HEADER", "encode_map", "decode_map", "infer_shrink", "PageCells",
           "page_cells"]

#: Codes 0 … 254 are values; 255 is NaN or ±inf.
LEVELS_8BIT = 255
NOT_FINITE = 255
#: rows, cols (uint32), min, max (float64), little-endian.
HEADER = struct.Struct("<IIdd")

_MAP = re.compile(r"^map (\d+)$")
_STAGE_STEM = re.compile(r"^(\d+)_")
_INPUT_STEM = re.compile(r"^0+_input$")
_SHOWN_AT = re.compile(r"shown at 1:(\d+)")


def encode_map(a: np.ndarray) -> bytes:
    """One map (H, W) as :data:`HEADER` + 8-bit codes (see the module's docstring)."""
    a = np.asarray(a)
    rows, cols = a.shape
    finite = np.isfinite(a)
    every = bool(finite.all())
    if a.size and (every or finite.any()):
        vals = a if every else a[finite]
        lo, hi = float(vals.min()), float(vals.max())
    else:
        lo = hi = 0.0
    if hi > lo:
        x = (a.astype(np.float64) - lo) * ((LEVELS_8BIT - 1) / (hi - lo))
        if not every:
            x = np.where(finite, x, 0.0)
        codes = np.rint(x).astype(np.uint8)
    else:
        codes = np.zeros((rows, cols), np.uint8)
    if not every:
        codes[~finite] = NOT_FINITE
    return HEADER.pack(rows, cols, lo, hi) + codes.tobytes()


def decode_map(data: bytes) -> tuple[np.ndarray, float, float]:
    """The values :func:`encode_map` stands for (float64, NaN for 255), and the map's min and max."""
    rows, cols, lo, hi = HEADER.unpack_from(data)
    codes = np.frombuffer(data, np.uint8, rows * cols, HEADER.size).reshape(rows, cols)
    v = lo + codes * ((hi - lo) / (LEVELS_8BIT - 1))
    return np.where(codes == NOT_FINITE, np.nan, v), lo, hi


def infer_shrink(h: int, w: int, rows: int, cols: int, texts: Sequence[str] = ()) -> int | None:
    """The factor N by which maps of h × w cells were area-averaged into rows × cols (None: none fits).

    A picture shrunk 1:N shows ``ceil(h / N) × ceil(w / N)`` cells and says
    ``shown at 1:N`` in its subtitle; that statement decides when it is
    there (and fits), else the smallest N that gives this size (the one
    both the input picture and the grids choose: each tries the factors
    from small to large and takes the first that fits).
    """
    if (rows, cols) == (h, w):
        return 1

    def fits(n: int) -> bool:
        return n >= 2 and -(-h // n) == rows and -(-w // n) == cols

    for t in texts:
        for m in _SHOWN_AT.finditer(t):
            if fits(int(m.group(1))):
                return int(m.group(1))
    if rows < 1 or cols < 1 or rows > h or cols > w:
        return None
    lo = max(2, -(-h // rows))  # the smallest N with ceil(h / N) <= rows
    for n in range(lo, max(h, w) + 1):
        if fits(n):
            return n
        if -(-h // n) < rows:
            break
    return None


def _box(r: Raster) -> dict[str, int]:
    rows, cols = r.data.shape[:2]
    return {"x": int(r.x), "y": int(r.y), "w": int(r.w), "h": int(r.h), "rows": int(rows), "cols": int(cols)}


def _hex(rgb: Any) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in rgb[:3])


@dataclass
class PageCells:
    """One render's tile positions and (on demand) values; see the module's docstring."""

    generation: int = 0
    input: dict[str, Any] | None = None
    pictures: dict[str, dict[str, Any]] = field(default_factory=dict)
    maps: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)
    float32_bytes: dict[int, int] = field(default_factory=dict)
    cache_size: int = 64
    _cache: OrderedDict[tuple[int, int], bytes] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def meta(self) -> dict[str, Any]:
        """The ``/cells`` JSON."""
        return {"generation": self.generation, "precision": "8-bit", "levels": LEVELS_8BIT,
                "input": self.input, "pictures": self.pictures}

    def values(self, stage: int, channel: int) -> bytes | None:
        """``/values/<stage>/<channel>``: that map, 8-bit (None unless its grid shows it)."""
        key = (stage, channel)
        a = self.maps.get(key)
        if a is None:
            return None
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        data = encode_map(a[:, :, channel])
        with self._lock:
            self._cache[key] = data
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return data


def _texts(d: Any) -> list[str]:
    return [i.text for i in d.items if isinstance(i, Text)]


def page_cells(drawings: Mapping[str, Any], layers: Sequence[Any], input_shape: Sequence[int] | None,
               generation: int = 0) -> PageCells:
    """Read one render into a :class:`PageCells`.

    Parameters
    ----------
    drawings : mapping of file stem to Drawing
        :attr:`cnnviz.app.session.SessionResult.drawings`: ``00_input``, ``01_edges``, ...
    layers : list of Layer
        Every stage's output (kept by the renderer), with its planned stage (its geometry).
    input_shape : (H, W[, C])
        The input as the stack saw it.
    generation : int
        The page's render counter.
    """
    cells = PageCells(generation)
    by_index = {int(la.index): la for la in layers}
    for stem, d in drawings.items():
        rasters = [r for r in d.items if isinstance(r, Raster)]
        if _INPUT_STEM.match(stem) and input_shape is not None:
            h, w = int(input_shape[0]), int(input_shape[1])
            boxes = []
            for r in rasters:
                if r.name == "input" or _MAP.match(r.name):
                    n = infer_shrink(h, w, int(r.data.shape[0]), int(r.data.shape[1]), _texts(d))
                    if n is not None:
                        boxes.append({**_box(r), "shrink": n})
            if boxes:
                cells.input = {"stem": stem, "width": d.width, "height": d.height, "shape": [h, w],
                               "rasters": boxes}
            continue
        m = _STAGE_STEM.match(stem)
        layer = by_index.get(int(m.group(1))) if m else None
        if layer is None or layer.stage is None:
            continue
        out = layer.output
        if out.ndim != 3:
            continue
        h, w, c = (int(v) for v in out.shape)
        tiles, shrink, ramp = [], None, None
        for r in rasters:
            mm = _MAP.match(r.name)
            if not mm or r.data.ndim != 2 or int(mm.group(1)) >= c:
                continue
            n = infer_shrink(h, w, int(r.data.shape[0]), int(r.data.shape[1]), _texts(d))
            if n is None or (shrink is not None and n != shrink):
                continue
            shrink = n
            ch = int(mm.group(1))
            tiles.append({"channel": ch, **_box(r)})
            cells.maps[(int(layer.index), ch)] = out
            if ramp is None and r.palette is not None:
                ramp = [_hex(r.palette[i]) for i in range(min(LEVELS, len(r.palette)))]
        if not tiles:
            continue
        ps = layer.stage
        cells.float32_bytes[int(layer.index)] = h * w * c * 4
        cells.pictures[stem] = {
            "stage": int(layer.index), "name": layer.name, "type": layer.type, "shape": [h, w, c],
            "receptive_field": [int(v) for v in ps.receptive_field], "jump": [int(v) for v in ps.jump],
            "start": [float(v) for v in ps.start], "width": d.width, "height": d.height, "shrink": shrink,
            "tiles": tiles, "ramp": ramp if shrink and shrink > 1 else None,
        }
    return cells
