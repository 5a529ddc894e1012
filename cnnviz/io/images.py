"""Input images: read, orient, convert, resize; scikit-image's bundled samples.

The path of an image into a run, each step its own function so that the
caller can check limits between them (SPEC §6):

1. :func:`resolve_image` — what a source names: a sample or a file;
2. :func:`read_image` — decode it (refused from its header when too large),
   EXIF orientation applied, alpha dropped, as float64 (H, W, 1 | 3) in [0, 1];
3. :func:`target_shape` — the (H, W, C) the stack will see, *before* any
   pixel is converted or resized (the pixel limit and the memory estimate
   apply to this shape);
4. :func:`prepare_image` — colour, resize, value range and normalisation.

Nothing here knows a config: the settings are plain values.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CnnvizError, did_you_mean
from ..limits import MAX_PIXELS, check_pixels

__all__ = [
    "SAMPLES",
    "ImageSource",
    "resolve_image",
    "sample_path",
    "image_label",
    "missing_image_error",
    "read_image",
    "image_array",
    "resized_size",
    "target_shape",
    "prepare_image",
]

#: Sample name -> file in scikit-image's ``data`` folder (all ship with the
#: wheel and load offline).
SAMPLES: dict[str, str] = {
    "astronaut": "astronaut.png",
    "brick": "brick.png",
    "camera": "camera.png",
    "cat": "chelsea.png",
    "cell": "cell.png",
    "chelsea": "chelsea.png",
    "clock": "clock_motion.png",
    "coffee": "coffee.png",
    "coins": "coins.png",
    "colorwheel": "color.png",
    "grass": "grass.png",
    "gravel": "gravel.png",
    "horse": "horse.png",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "immunohistochemistry": "ihc.png",
    "logo": "logo.png",
    "microaneurysms": "microaneurysms.png",
    "moon": "moon.png",
    "page": "page.png",
    "retina": "retina.jpg",
    "rocket": "rocket.jpg",
    "shepp_logan_phantom": "phantom.png",
    "text": "text.png",
}

#: ``skimage.color.rgb2gray``'s luminance weights (ITU-R BT.709).
LUMA = np.array([0.2125, 0.7154, 0.0721])


def _skimage_data_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise CnnvizError("scikit-image is not installed, so the sample images are missing")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def sample_path(name: str) -> Path:
    """Path of the bundled sample image ``name`` (see :data:`SAMPLES`)."""
    return _skimage_data_dir() / SAMPLES[name]


@dataclass(frozen=True)
class ImageSource:
    """What an IMAGE argument names.

    Attributes
    ----------
    given : str
        The argument as written (messages name it).
    path : Path
        The file that is read: the sample's file in scikit-image's data
        folder, or the given file.
    sample : str or None
        The sample's name when it is one (a sample name wins over a file of
        that name in the current folder, as ``cnnviz samples`` promises).
    """

    given: str
    path: Path
    sample: str | None = None

    @property
    def label(self) -> str:
        """:func:`image_label` of the source."""
        return image_label(self.given)


def resolve_image(source: str | os.PathLike[str]) -> ImageSource:
    """A sample name or a file path -> :class:`ImageSource` (nothing is read)."""
    s = str(source)
    if s in SAMPLES:
        return ImageSource(s, sample_path(s), s)
    return ImageSource(s, Path(s))


_UNSAFE = re.compile(r"[^\w.-]")


def image_label(source: str | os.PathLike[str]) -> str:
    """A short, file-name-safe name for an image source: the sample name, or the file's stem.

    Characters other than letters, digits, ``_``, ``-`` and ``.`` become ``_``,
    a label never starts with ``.`` and never contains ``..``, so it can name a
    folder safely.

    >>> image_label("chelsea"), image_label("photos/my cat.jpg"), image_label("..png")
    ('chelsea', 'my_cat', 'image')
    """
    s = str(source)
    if s in SAMPLES:
        return s
    label = _UNSAFE.sub("_", Path(s).stem)
    label = re.sub(r"\.{2,}", ".", label).strip(".")
    return label or "image"


def missing_image_error(source: str) -> CnnvizError:
    """The error for an IMAGE argument that is neither a file nor a sample name."""
    if os.sep not in source and "/" not in source and "." not in source:
        return CnnvizError(
            f"no image file or sample named '{source}'{did_you_mean(source, SAMPLES)}; "
            "'cnnviz samples' lists the samples"
        )
    return CnnvizError(f"image file not found: {source}")


def read_image(source: str | os.PathLike[str] | ImageSource, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file or a sample, without any ``input`` settings.

    Parameters
    ----------
    source : str, path or ImageSource
        A file (PNG, JPEG, TIFF, BMP, GIF: first frame; 8 or 16 bit; gray,
        gray+alpha, RGB, RGBA, palette, CMYK; float TIFF) or a name from
        :data:`SAMPLES`.
    max_pixels : int
        Larger images are refused from their header, before decoding.

    Returns
    -------
    image : ndarray, shape (H, W, 1) or (H, W, 3), float64 in [0, 1]
        As a photo viewer shows it: the EXIF orientation is applied.  Alpha
        is dropped; a colour file whose three channels are equal is read as
        gray (1 channel).

    Raises
    ------
    CnnvizError
        Naming the image: missing, a folder or not a regular file (a FIFO, a
        device), empty, too many pixels, not an image, truncated, or holding
        NaN or inf values.
    """
    src = source if isinstance(source, ImageSource) else resolve_image(source)
    s, path = src.given, src.path
    try:
        if src.sample is None and not path.exists():
            raise missing_image_error(s)
        if path.is_dir():
            raise CnnvizError(f"{s}: is a directory, not an image")
        if not path.is_file():
            raise CnnvizError(f"{s}: is not a regular file (a pipe or a device?), so it cannot be read as an image")
        if path.stat().st_size == 0:
            raise CnnvizError(f"{s}: the file is empty (0 bytes)")
    except OSError as exc:
        raise CnnvizError(f"{s}: cannot read the image: {exc.strerror}") from None

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # our own limit is checked from the header below; Pillow's warning would print beside it
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                check_pixels(h, w, s, max_pixels)
                im.seek(0)
                arr = _to_array(ImageOps.exif_transpose(im))
    except CnnvizError:
        raise
    except UnidentifiedImageError:
        raise CnnvizError(f"{s}: not an image file cnnviz can read") from None
    except Image.DecompressionBombError:
        raise CnnvizError(f"{s}: more pixels than the limit of {max_pixels:,}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise CnnvizError(f"{s}: cannot read the image: {exc}") from None
    if not np.isfinite(arr).all():
        raise CnnvizError(f"{s}: the image holds NaN or infinite values")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return arr


def _to_array(im: Any) -> np.ndarray:
    """Pillow image -> float64 (H, W) or (H, W, 3) in [0, 1] (floats: scaled by their finite range)."""
    mode = im.mode
    if mode == "1":
        return np.asarray(im, dtype=np.float64)
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im).astype(np.float64) / 65535.0
    if mode == "I":
        a = np.asarray(im).astype(np.float64)
        top = 65535.0 if a.max(initial=0) > 255 or a.min(initial=0) < 0 else 255.0
        return np.clip(a / top, 0.0, 1.0)
    if mode == "F":
        a = np.asarray(im, dtype=np.float64)
        if not np.isfinite(a).all():
            return a  # refused by the caller, which names the file
        lo, hi = float(a.min(initial=0.0)), float(a.max(initial=0.0))
        if lo >= 0.0 and hi <= 1.0:
            return a
        return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    if mode in ("L", "LA", "La"):
        return np.asarray(im.convert("L"), dtype=np.float64) / 255.0
    if mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
        mode = im.mode
    if mode not in ("RGB", "RGBA"):
        im = im.convert("RGB")
    a = np.asarray(im)[:, :, :3]
    if (a[:, :, 0] == a[:, :, 1]).all() and (a[:, :, 1] == a[:, :, 2]).all():
        a = a[:, :, 0]  # a gray picture stored as colour is read as gray
    return a.astype(np.float64) / 255.0


def image_array(a: np.ndarray) -> np.ndarray:
    """An array given as the image -> (H, W, C) floats in its own float dtype (integers scaled by their maximum).

    Raises
    ------
    CnnvizError
        A shape other than (H, W) or (H, W, C), a non-numeric dtype, NaN or inf.
    """
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or 0 in a.shape:
        raise CnnvizError(f"an image array must have shape (H, W) or (H, W, C), not {a.shape}")
    if a.dtype == bool:
        return a.astype(np.float64)
    if np.issubdtype(a.dtype, np.integer):
        info = np.iinfo(a.dtype)
        return np.clip(a.astype(np.float64) / info.max, 0.0, 1.0)
    if not np.issubdtype(a.dtype, np.floating):
        raise CnnvizError(f"an image array must hold numbers, not {a.dtype}")
    if not np.isfinite(a).all():
        raise CnnvizError("the image array contains NaN or inf")
    return a if a.dtype in (np.float32, np.float64) else a.astype(np.float64)


def resized_size(h: int, w: int, resize: int | tuple[int, int] | None) -> tuple[int, int]:
    """(H, W) after ``input.resize``: ``None`` keeps it, ``[h, w]`` is that, an int is the longest side.

    >>> resized_size(300, 451, 256), resized_size(300, 451, (64, 64)), resized_size(300, 451, None)
    ((170, 256), (64, 64), (300, 451))
    """
    if resize is None:
        return h, w
    if isinstance(resize, int):
        f = resize / max(h, w)
        return max(1, round(h * f)), max(1, round(w * f))
    return int(resize[0]), int(resize[1])


def _color_channels(c: int, color: str) -> int:
    if color == "gray":
        if c not in (1, 3):
            raise CnnvizError(f"color: gray needs a 1- or 3-channel image, not {c} channels")
        return 1
    if color == "rgb":
        if c not in (1, 3):
            raise CnnvizError(f"color: rgb needs a 1- or 3-channel image, not {c} channels")
        return 3
    return c


def target_shape(shape: Sequence[int], color: str = "keep",
                 resize: int | tuple[int, int] | None = None) -> tuple[int, int, int]:
    """The (H, W, C) :func:`prepare_image` gives an image of ``shape``, computed without touching a pixel.

    >>> target_shape((300, 451, 3), "gray", 256)
    (170, 256, 1)
    """
    h, w = int(shape[0]), int(shape[1])
    c = int(shape[2]) if len(shape) == 3 else 1
    return (*resized_size(h, w, resize), _color_channels(c, color))


def prepare_image(
    arr: np.ndarray,
    *,
    color: str = "keep",
    resize: int | tuple[int, int] | None = None,
    dtype: Any = np.float32,
    value_range: tuple[float, float] = (0.0, 1.0),
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> np.ndarray:
    """Apply an ``input`` section to an image read by :func:`read_image` (or :func:`image_array`).

    Parameters
    ----------
    arr : ndarray (H, W, C), floats in [0, 1]
    color : {'keep', 'gray', 'rgb'}
        ``gray``: rgb2gray's luminance; ``rgb``: a gray image repeated into 3 channels.
    resize : None, int or (h, w)
        :func:`resized_size`; bilinear (``skimage.transform.resize``,
        anti-aliased when shrinking).
    dtype : dtype
    value_range : (lo, hi)
        [0, 1] is mapped linearly to it, after resizing.
    mean, std : sequences of 1 or C numbers, optional
        Then ``(x - mean) / std`` per channel.

    Returns
    -------
    ndarray, shape :func:`target_shape` ``(arr.shape, color, resize)``, ``dtype``, C-contiguous
    """
    c = _color_channels(arr.shape[2], color)
    if c == 1 and arr.shape[2] == 3:
        arr = (arr @ LUMA)[:, :, None]
    elif c == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    h, w = arr.shape[:2]
    size = resized_size(h, w, resize)
    if size != (h, w):
        from skimage.transform import resize as sk_resize

        out = sk_resize(arr, size + (arr.shape[2],), order=1, anti_aliasing=size[0] < h or size[1] < w,
                        preserve_range=True, mode="reflect")
        arr = np.clip(out, 0.0, 1.0, out=out)
    x = np.ascontiguousarray(arr, dtype=dtype)
    lo, hi = value_range
    if (lo, hi) != (0.0, 1.0):
        x *= x.dtype.type(hi - lo)
        x += x.dtype.type(lo)
    if mean is not None or std is not None:
        m = np.asarray(mean if mean is not None else [0.0], np.float64)
        s = np.asarray(std if std is not None else [1.0], np.float64)
        x -= m.astype(x.dtype)
        x /= s.astype(x.dtype)
    return x

