"""Where a map comes from: one stage's map placed exactly on the input's pixel grid (SPEC §8).

Every planned stage carries its receptive field, jump and start (see
:func:`cnnviz.pipeline.plan.step_geometry`): output cell (i, j) is centred on
input coordinate ``start + (i, j) · jump`` and stands for the jump × jump
block around that centre.  :func:`project` paints each cell's value on its
block, so padding, stride and valid convolutions shift and scale a map by
exactly what they do — nothing is stretched to fit (a bilinear stretch of a
valid 21×21 stack's map puts every cell up to 10 pixels off).

Coordinates: pixel (y, x) covers ``[y − ½, y + ½) × [x − ½, x + ½)``; a
block is the half-open ``[c − J/2, c + J/2)`` around its centre c, and a pixel
belongs to the block that holds its centre.  Pixels no block holds (the
border a valid conv eats, the rows a floor-mode pool drops) are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..formatting import times

__all__ = ["Projection", "cell_indices", "project"]


@dataclass(frozen=True)
class Projection:
    """One map on the input's pixel grid.

    Attributes
    ----------
    values : ndarray (H, W), float64
        The cell value each input pixel falls in; NaN where no cell's block reaches.
    stage, channel : str, int
        Which map: the stage's name and the channel.
    receptive_field, jump : (int, int)
    start : (float, float)
        The stage's geometry (input pixels).
    map : ndarray (h, w)
        The map itself, as computed.
    image : ndarray (H, W) or (H, W, C), or None
        The input the map is placed on (the backdrop of its overlay), when known.
    """

    values: np.ndarray
    stage: str
    channel: int
    receptive_field: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[float, float]
    map: np.ndarray
    image: np.ndarray | None = field(default=None, repr=False, compare=False)

    def cell_at(self, y: int, x: int) -> tuple[int, int] | None:
        """The output cell (i, j) whose block holds input pixel (y, x), or None."""
        iy = cell_indices(np.array([y]), self.start[0], self.jump[0], self.map.shape[0])[0]
        ix = cell_indices(np.array([x]), self.start[1], self.jump[1], self.map.shape[1])[0]
        return None if iy < 0 or ix < 0 else (int(iy), int(ix))


def cell_indices(pixels: np.ndarray, start: float, jump: int, cells: int) -> np.ndarray:
    """Along one axis: the cell each pixel belongs to, or −1.

    >>> cell_indices(np.arange(6), 1.5, 2, 2)   # a 2x2 pool after a valid 3x3 conv: cells at 1.5 and 3.5
    array([-1,  0,  0,  1,  1, -1])
    """
    i = np.floor((pixels - start) / jump + 0.5).astype(np.int64)
    return np.where((i >= 0) & (i < cells), i, -1)


def project(layer: Any, channel: int = 0, *, image_shape: tuple[int, ...] | None = None,
            image: np.ndarray | None = None) -> Projection:
    """Place map ``channel`` of ``layer`` on the input's pixel grid.

    Parameters
    ----------
    layer : Layer
        One of :func:`cnnviz.run`'s results (it knows its stage's geometry).
    channel : int
        Which map; negative counts from the end.
    image_shape : (H, W) or (H, W, C), optional
        The input's size [the one the stage was planned for].
    image : ndarray (H, W) or (H, W, C), optional
        The input, kept on the result as its overlay's backdrop [the run's
        input, for a layer of :func:`cnnviz.run`]; not used to compute.

    Returns
    -------
    Projection
        ``values`` (H, W): out[y, x] = map[i, j] where cell (i, j)'s block
        holds pixel (y, x), NaN elsewhere.

    Raises
    ------
    ValueError
        A layer without geometry (built by hand), a channel out of range, or
        an ``image`` of another size than the input's.

    Notes
    -----
    A stage that sees the whole input (``dense``, ``global_pool``) has one
    cell whose block is the whole input: its value covers every pixel.
    """
    ps = getattr(layer, "stage", None)
    if ps is None:
        raise ValueError("this layer has no stage plan, so no geometry: use a layer from cnnviz.run")
    out = np.asarray(layer.output)
    h, w, c = out.shape
    if not -c <= channel < c:
        raise ValueError(f"stage '{layer.name}' has {c} channels; channel {channel} does not exist")
    channel %= c
    shape = tuple(image_shape) if image_shape is not None else tuple(ps.image_shape)
    if len(shape) < 2 or shape[0] <= 0 or shape[1] <= 0:
        raise ValueError("the input's size is not known: pass image_shape")
    if image is None:
        image = getattr(getattr(layer, "source", None), "image", None)
        if image is not None and tuple(np.shape(image)[:2]) != shape[:2]:
            image = None  # the run's input, but the map was asked for on another size
    elif tuple(np.shape(image)[:2]) != shape[:2]:
        raise ValueError(f"the image is {times(*np.shape(image)[:2])} but the input is {times(*shape[:2])}")
    iy = cell_indices(np.arange(shape[0]), ps.start[0], ps.jump[0], h)
    ix = cell_indices(np.arange(shape[1]), ps.start[1], ps.jump[1], w)
    m = out[:, :, channel].astype(np.float64)
    values = m[np.clip(iy, 0, None)][:, np.clip(ix, 0, None)]
    values[(iy < 0)[:, None] | (ix < 0)[None, :]] = np.nan
    return Projection(values, layer.name, channel, tuple(ps.receptive_field), tuple(ps.jump),  # type: ignore[arg-type]
                      tuple(ps.start), m, image)  # type: ignore[arg-type]
