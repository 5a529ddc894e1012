"""Atomic file writing, PNG writing with text chunks, and reading them back.

Every file cnnviz writes goes through :func:`atomic_write`: it is written to a
hidden temporary name in the destination folder and renamed over the final
name with :func:`os.replace`, so an interrupted run never leaves a
half-written file behind.

Every PNG carries, in text chunks (``iTXt``, compressed when long):

=====================  ==================================================
key                    value
=====================  ==================================================
``Software``           ``cnnviz <version>`` (the standard PNG keyword)
``Title``              the picture's title, when it has one
``cnnviz.version``     the cnnviz version that wrote the file
``cnnviz.config``      the resolved config (every default filled in), YAML
``cnnviz.image``       the image's name (sample name or file stem)
``cnnviz.stage``       ``NN_<stage-name>`` for a stage's pictures
=====================  ==================================================

:func:`read_png_metadata` reads them back (``cnnviz inspect``).  This module
imports neither matplotlib nor click.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import CnnvizError

__all__ = [
    "TEXT_PREFIX",
    "atomic_write",
    "write_bytes",
    "write_png",
    "read_png_metadata",
    "remove_pending_temporaries",
]

#: Prefix of cnnviz's own PNG text keywords (``cnnviz.config``, ...).
TEXT_PREFIX = "cnnviz."

#: zlib level for PNGs: 1 is several times faster than Pillow's default 6
#: and, on feature maps, within a few percent of its size.
COMPRESS_LEVEL = 1
#: zlib strategy: Z_RLE (3) is about twice as fast as the default on
#: 8-bit grids (64 maps of 256×256: ~0.045 s instead of ~0.08 s) at a
#: similar size, since a grid is runs of background and smooth maps.
COMPRESS_TYPE = 3

#: Text values longer than this are stored compressed (zTXt-style iTXt).
_ZIP_TEXT_OVER = 1024


#: Temporary files being written now (a worker stopped by a signal removes them before it exits).
_PENDING: set[Path] = set()


def remove_pending_temporaries() -> None:
    """Remove the temporary files of every :func:`atomic_write` still open (for a process told to stop now)."""
    for tmp in list(_PENDING):
        with contextlib.suppress(OSError):
            tmp.unlink()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", encoding: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success rename it to ``path``.

    The temporary file (``.<name>.<pid>.<thread>.tmp`` in the same folder,
    so the rename is atomic) is removed if the block raises; an
    :class:`OSError` about the temporary file (an unwritable folder, an
    immutable file in the way) is raised naming ``path`` instead.

    >>> with atomic_write("out/manifest.json", "w") as f:   # doctest: +SKIP
    ...     f.write("{}")
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    _PENDING.add(tmp)
    try:
        with open(tmp, mode, encoding=encoding) as f:
            yield f
            f.flush()
        os.replace(tmp, path)
        _PENDING.discard(tmp)
    except OSError as exc:
        _PENDING.discard(tmp)
        with contextlib.suppress(OSError):
            tmp.unlink()
        if exc.filename is not None and Path(exc.filename) == tmp:
            # the user knows the file by its own name, never by the hidden temporary one
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    except BaseException:
        _PENDING.discard(tmp)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


def _pnginfo(text: Mapping[str, str] | None) -> Any:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for key, value in (text or {}).items():
        value = str(value)
        info.add_itxt(key, value, zip=len(value) > _ZIP_TEXT_OVER)
    return info


def write_png(
    path: str | os.PathLike[str],
    array: np.ndarray,
    palette: np.ndarray | None = None,
    text: Mapping[str, str] | None = None,
    *,
    dpi: int | None = None,
    compress_level: int = COMPRESS_LEVEL,
    compress_type: int = COMPRESS_TYPE,
) -> Path:
    """Write an 8-bit image as a PNG, atomically.

    Parameters
    ----------
    path : path
        Destination; written through a temporary file in the same folder.
    array : ndarray, uint8
        (H, W) index image when ``palette`` is given (written as a 'P' mode
        PNG), else (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA.
    palette : ndarray (K, 3) uint8, K <= 256, optional
        The colour of each index of a (H, W) ``array``.
    text : mapping of str to str, optional
        PNG text chunks (``iTXt``; compressed when longer than 1 KiB).
    dpi : int, optional
        Stored in the ``pHYs`` chunk.
    compress_level : int
        zlib level, 1 (fast, the default) to 9.
    compress_type : int
        zlib strategy (3, Z_RLE, by default; -1 for zlib's default).

    Returns
    -------
    Path
    """
    from PIL import Image

    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"write_png needs uint8 pixels, not {array.dtype}")
    if palette is not None:
        if array.ndim != 2:
            raise ValueError(f"a palette image must be (H, W), not {array.shape}")
        pal = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
        if len(pal) > 256:
            raise ValueError(f"a PNG palette holds at most 256 colours, not {len(pal)}")
        im = _as_palette(Image.fromarray(np.ascontiguousarray(array)), pal)
    elif array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4)):
        im = Image.fromarray(np.ascontiguousarray(array))
    else:
        raise ValueError(f"cannot write an image of shape {array.shape}")
    kwargs: dict[str, Any] = {
        "compress_level": compress_level,
        "compress_type": compress_type,
        "pnginfo": _pnginfo(text),
    }
    if dpi:
        kwargs["dpi"] = (dpi, dpi)
    with atomic_write(path, "wb") as f:
        im.save(f, format="PNG", **kwargs)
    return Path(path)


def _as_palette(im: Any, pal: np.ndarray) -> Any:
    """An 'L' image of indices -> a 'P' image with palette ``pal`` (no copy of the pixels' meaning)."""
    im.putpalette(pal.tobytes(), rawmode="RGB")  # an 'L' image becomes 'P' in place
    return im


def read_png_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read back the text chunks cnnviz writes into every PNG.

    Parameters
    ----------
    path : path
        A PNG that cnnviz wrote.

    Returns
    -------
    dict
        ``version``, ``config`` (YAML text of the resolved config), ``image``,
        and, where present, ``stage`` and ``title`` (plus ``software``).

    Raises
    ------
    CnnvizError
        The file is missing, not a PNG, or carries no cnnviz metadata.
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    try:
        with Image.open(p) as im:
            if im.format != "PNG":
                raise CnnvizError(f"{p}: not a PNG file (it is {im.format})")
            im.load()  # text chunks after the image data are read on load
            chunks = dict(getattr(im, "text", {}) or {})
    except FileNotFoundError:
        raise CnnvizError(f"file not found: {p}") from None
    except IsADirectoryError:
        raise CnnvizError(f"{p}: is a directory, not a PNG file") from None
    except UnidentifiedImageError:
        raise CnnvizError(f"{p}: not a PNG file") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise CnnvizError(f"{p}: cannot read the PNG: {exc}") from None
    out: dict[str, str] = {}
    for key, value in chunks.items():
        if key.startswith(TEXT_PREFIX):
            out[key[len(TEXT_PREFIX):]] = str(value)
    if not out:
        raise CnnvizError(f"{p}: carries no cnnviz metadata (was it written by cnnviz?)")
    for key in ("Title", "Software"):
        if key in chunks:
            out.setdefault(key.lower(), str(chunks[key]))
    return out
