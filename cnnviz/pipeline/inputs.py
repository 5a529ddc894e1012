"""The image a stack sees: read, checked against the limits at the shape the stack will see, prepared.

:func:`read_input` decodes (refusing an image over the pixel limit from its
header), :func:`input_shape` gives the (H, W, C) after ``input`` — checked
against the pixel limit *before* anything is resized — and
:func:`prepare_input` converts and resizes.  :func:`load_image` does all
three (``cnnviz.load_image``).
"""

from __future__ import annotations

import os

import numpy as np

from ..config import Config
from ..errors import CnnvizError
from ..io.images import ImageSource, image_array, prepare_image, read_image, resolve_image, target_shape
from ..limits import MAX_PIXELS

__all__ = ["RawImage", "read_input", "input_shape", "prepare_input", "load_image", "resize_bytes"]

#: An image as read: the array (H, W, C) float in [0, 1], and its source (None for an array).
RawImage = tuple[np.ndarray, ImageSource | None]


def read_input(source: str | os.PathLike[str] | np.ndarray, *, max_pixels: int = MAX_PIXELS) -> RawImage:
    """Read a file or sample (or take an array), without the config's ``input`` settings."""
    if isinstance(source, np.ndarray):
        return image_array(source), None
    src = resolve_image(source)
    return read_image(src, max_pixels=max_pixels), src


def input_shape(raw: RawImage, config: Config | None, *, max_pixels: int = MAX_PIXELS) -> tuple[int, int, int]:
    """The (H, W, C) the stack sees; a resize to more than ``max_pixels`` is refused before it is done."""
    arr, src = raw
    color, resize = (config.color, config.resize) if config is not None else ("keep", None)
    shape = target_shape(arr.shape, color, resize)
    if resize is not None and shape[0] * shape[1] > max_pixels:
        raise CnnvizError(f"{src.given if src else 'the image'}: input.resize to {shape[1]}×{shape[0]} = "
                          f"{shape[0] * shape[1]:,} pixels is more than the limit of {max_pixels:,}")
    if config is not None and config.normalize is not None:
        for key, values in zip(("mean", "std"), config.normalize, strict=True):
            if len(values) not in (1, shape[2]):
                s = "" if shape[2] == 1 else "s"
                raise config.error(f"{len(values)} values for the input's {shape[2]} channel{s}"
                                   f"{f' ({src.given})' if src else ''}", ("input", "normalize", key))
    return shape


def resize_bytes(raw: RawImage, config: Config | None) -> int:
    """Bytes resizing needs besides the result (scikit-image works in float64 on the converted image)."""
    arr, _ = raw
    if config is None or config.resize is None:
        return 0
    h, w, c = target_shape(arr.shape, config.color, config.resize)
    return (h * w * c + arr.shape[0] * arr.shape[1] * c) * 8


def prepare_input(raw: RawImage, config: Config | None) -> np.ndarray:
    """Apply ``input`` (colour, resize, range, normalize) and the run's dtype: (H, W, C), C-contiguous."""
    arr, _ = raw
    if config is None:
        return prepare_image(arr)
    mean, std = config.normalize if config.normalize is not None else (None, None)
    return prepare_image(arr, color=config.color, resize=config.resize, dtype=config.np_dtype,
                         value_range=config.value_range, mean=mean, std=std)


def load_image(source: str | os.PathLike[str] | np.ndarray, config: Config | None = None, *,
               max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Load an image and apply the config's ``input`` section.

    Parameters
    ----------
    source : str, path or ndarray
        A file path, a sample name (``chelsea``, ``camera``, ...) or an array
        (H, W) or (H, W, C); integer arrays are scaled by their dtype's maximum.
    config : Config, optional
        Supplies ``input.color``, ``input.resize`` and ``dtype``
        (defaults: keep, none, float32).
    max_pixels : int
        Images with more pixels, as read or as resized, are refused first.

    Returns
    -------
    image : ndarray, shape (H, W, C), the config's dtype, values in [0, 1]
        C is 1 for ``color: gray``, 3 for ``color: rgb``, else the file's (1 or 3).
    """
    raw = read_input(source, max_pixels=max_pixels)
    input_shape(raw, config, max_pixels=max_pixels)
    return prepare_input(raw, config)
