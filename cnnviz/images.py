"""Input images: files in the common formats and scikit-image's bundled samples.

:func:`load_image` returns a float array (H, W, C) scaled to [0, 1], with the
config's ``input.color`` and ``input.resize`` applied.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import CnnvizError, did_you_mean

if TYPE_CHECKING:
    from .config import Config

__all__ = ["SAMPLES", "MAX_PIXELS", "load_image", "read_image", "sample_path", "image_label"]

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

#: Images with more pixels than this are refused before they are decoded.
MAX_PIXELS = 100_000_000

#: ``skimage.color.rgb2gray``'s luminance weights (ITU-R BT.709).
_LUMA = np.array([0.2125, 0.7154, 0.0721])


def _skimage_data_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise CnnvizError("scikit-image is not installed, so the sample images are missing")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def sample_path(name: str) -> Path:
    """Path of the bundled sample image ``name`` (see :data:`SAMPLES`)."""
    return _skimage_data_dir() / SAMPLES[name]


def image_label(source: str | os.PathLike[str]) -> str:
    """A short, file-name-safe name for an image source: the sample name, or the file's stem.

    Characters other than letters, digits, ``_``, ``-`` and ``.`` become ``_``,
    and a label never starts with ``.``, so it can name a folder safely.
    """
    import re

    s = str(source)
    if s in SAMPLES:
        return s
    label = re.sub(r"[^\w.-]", "_", Path(s).stem).lstrip(".")
    return label or "image"


def missing_image_error(source: str) -> CnnvizError:
    """The error for an IMAGE argument that is neither a file nor a sample name."""
    if os.sep not in source and "/" not in source and "." not in source:
        return CnnvizError(
            f"no image file or sample named '{source}'{did_you_mean(source, SAMPLES)}; "
            "'cnnviz samples' lists the samples"
        )
    return CnnvizError(f"image file not found: {source}")


def read_image(source: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file or a sample, without any ``input`` settings.

    Parameters
    ----------
    source : str or path
        A file (PNG, JPEG, TIFF, BMP, GIF: first frame; 8 or 16 bit; gray,
        gray+alpha, RGB, RGBA, palette, CMYK) or a name from :data:`SAMPLES`.
    max_pixels : int
        Larger images are refused from their header, before decoding.

    Returns
    -------
    image : ndarray, shape (H, W, 1) or (H, W, 3), float64 in [0, 1]
        Alpha is dropped; a colour file whose three channels are equal is
        read as gray (1 channel).
    """
    s = str(source)
    path = Path(s)
    if s in SAMPLES:
        path = sample_path(s)
    elif not path.exists():
        raise missing_image_error(s)
    elif path.is_dir():
        raise CnnvizError(f"{s}: is a directory, not an image")
    try:
        if path.stat().st_size == 0:
            raise CnnvizError(f"{s}: the file is empty (0 bytes)")
    except OSError as exc:
        raise CnnvizError(f"{s}: cannot read the image: {exc.strerror}") from None

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise CnnvizError(
                    f"{s}: {w}×{h} = {w * h:,} pixels is more than the limit of {max_pixels:,}"
                )
            im.seek(0)
            arr = _to_array(im)
    except CnnvizError:
        raise
    except UnidentifiedImageError:
        raise CnnvizError(f"{s}: not an image file cnnviz can read") from None
    except Image.DecompressionBombError:
        raise CnnvizError(f"{s}: more pixels than the limit of {max_pixels:,}") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise CnnvizError(f"{s}: cannot read the image: {exc}") from None
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return arr


def _to_array(im: Any) -> np.ndarray:
    """Pillow image -> float64 (H, W) or (H, W, 3) in [0, 1]."""
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
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
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


def load_image(
    source: str | os.PathLike[str] | np.ndarray,
    config: Config | None = None,
    *,
    max_pixels: int = MAX_PIXELS,
) -> np.ndarray:
    """Load an image and apply the config's ``input`` section.

    Parameters
    ----------
    source : str, path or ndarray
        A file path, a sample name (``chelsea``, ``camera``, ...) or an array
        (H, W) or (H, W, C); integer arrays are scaled by their dtype's maximum.
    config : Config, optional
        Supplies ``input.color``, ``input.resize`` and ``dtype``
        (defaults: keep, none, float32).

    Returns
    -------
    image : ndarray, shape (H, W, C), the config's dtype, values in [0, 1]
        C is 1 for ``color: gray``, 3 for ``color: rgb``, else the file's (1 or 3).
    """
    if isinstance(source, np.ndarray):
        arr = _array_image(source)
    else:
        arr = read_image(source, max_pixels=max_pixels)
    color = config.color if config else "keep"
    resize = config.resize if config else None
    dtype = config.np_dtype if config else np.dtype(np.float32)
    if color == "gray" and arr.shape[2] == 3:
        arr = (arr @ _LUMA)[:, :, None]
    elif color == "gray" and arr.shape[2] != 1:
        raise CnnvizError(f"color: gray needs a 1- or 3-channel image, not {arr.shape[2]} channels")
    elif color == "rgb" and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif color == "rgb" and arr.shape[2] != 3:
        raise CnnvizError(f"color: rgb needs a 1- or 3-channel image, not {arr.shape[2]} channels")
    if resize is not None:
        arr = _resize(arr, resize)
    return np.ascontiguousarray(arr, dtype=dtype)


def _array_image(a: np.ndarray) -> np.ndarray:
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


def _resize(arr: np.ndarray, resize: int | tuple[int, int]) -> np.ndarray:
    h, w = arr.shape[:2]
    if isinstance(resize, int):
        f = resize / max(h, w)
        shape = (max(1, round(h * f)), max(1, round(w * f)))
    else:
        shape = resize
    if shape == (h, w):
        return arr
    from skimage.transform import resize as sk_resize

    out = sk_resize(arr, shape + (arr.shape[2],), order=1, anti_aliasing=shape[0] < h or shape[1] < w,
                    preserve_range=True, mode="reflect")
    return np.clip(out, 0.0, 1.0, out=out)
