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
import struct
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import CnnvizError

__all__ = [
    "TEXT_PREFIX",
    "atomic_write",
    "write_bytes",
    "encode_png",
    "write_png",
    "read_png_metadata",
    "remove_pending_temporaries",
    "BackgroundWrites",
]

#: Prefix of cnnviz's own PNG text keywords (``cnnviz.config``, ...).
TEXT_PREFIX = "cnnviz."

#: zlib level for PNGs: 1 is several times faster than Pillow's default 6
#: and, on feature maps, within a few percent of its size.
COMPRESS_LEVEL = 1
#: zlib strategy of palette PNGs: Z_RLE (3) is about twice as fast as the
#: default on 8-bit grids (64 maps of 256×256: ~0.045 s instead of ~0.08 s)
#: at a similar size, since a grid is runs of background and smooth maps.
#: RGB and grey pictures use zlib's default (on "up"-filtered rows it is as
#: fast, and its files are a fifth smaller).
COMPRESS_TYPE = 3
_RLE = COMPRESS_TYPE

_SIGNATURE = b"\x89PNG\r\n\x1a\n"

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


class BackgroundWrites:
    """Write files in order, each in a thread of its own, while the caller goes on drawing.

    :meth:`submit` starts ``fn(*args, **kwargs)`` once the previous job has
    ended (one job runs at a time, in the order given); at most ``depth``
    jobs are pending (their pixels held in memory) before :meth:`submit`
    waits.  zlib and Pillow's encoder release the GIL, so a PNG is encoded
    while the next picture is laid out.  The first job that raises stops the
    rest (they are skipped, as a run that stops at its first failure would
    never have written them) and its exception is raised by the next
    :meth:`submit` or by :meth:`wait`.  :meth:`cancel` skips what has not
    started and waits for the job running now.  Each file is still written
    through :func:`atomic_write`, so none is ever left half-written; the
    threads are not daemons, so an interpreter that exits waits for the write
    under way.
    """

    def __init__(self, depth: int = 2) -> None:
        self.depth = depth
        self._threads: deque[threading.Thread] = deque()
        self._error: BaseException | None = None
        self._stopped = False

    def _run(self, previous: threading.Thread | None, fn: Callable[..., Any], args: Any, kwargs: Any) -> None:
        if previous is not None:
            previous.join()
        if self._error is not None or self._stopped:
            return
        try:
            fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller's thread
            self._error = exc

    def check(self) -> None:
        """Raise the exception of a job that failed (once); nothing after it is written."""
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            exc, self._error = self._error, None
            self._stopped = True  # nothing after a failed write is written
            raise exc

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` after the jobs submitted before it."""
        while len(self._threads) >= self.depth:
            self._threads.popleft().join()
        self._raise()
        if self._stopped:
            return
        t = threading.Thread(target=self._run, args=(self._threads[-1] if self._threads else None, fn, args, kwargs),
                             name="cnnviz-write")
        t.start()
        self._threads.append(t)

    def wait(self) -> None:
        """Wait for every job; raise the first one's exception, if one failed."""
        while self._threads:
            self._threads.popleft().join()
        self._raise()

    def cancel(self) -> None:
        """Skip the jobs that have not started, wait for the one running, forget any failure."""
        self._stopped = True
        while self._threads:
            self._threads.popleft().join()
        self._error = None


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _itxt(key: str, value: str) -> bytes:
    raw = value.encode("utf-8")
    packed = len(value) > _ZIP_TEXT_OVER
    return key.encode("latin-1") + (b"\0\1\0" if packed else b"\0\0\0") + b"\0\0" + (
        zlib.compress(raw) if packed else raw)


def _is_grey(array: np.ndarray) -> bool:
    """An (H, W, 3) picture whose every pixel has R = G = B (a grey input, a grey colormap)."""
    return bool(np.array_equal(array[:, :, 0], array[:, :, 1]) and np.array_equal(array[:, :, 1], array[:, :, 2]))


def encode_png(
    array: np.ndarray,
    palette: np.ndarray | None = None,
    text: Mapping[str, str] | None = None,
    *,
    dpi: int | None = None,
    compress_level: int = COMPRESS_LEVEL,
    compress_type: int | None = None,
) -> bytes:
    """An 8-bit image as PNG bytes (arguments as :func:`write_png`).

    A palette image is stored as its indices, unfiltered (as Pillow does);
    grey, RGB and RGBA rows are stored with PNG's "up" filter (each byte
    minus the one above it), which costs one subtraction and suits pictures
    that are mostly flat runs; an RGB picture with R = G = B everywhere is
    stored as greyscale (the same pixels, a third of the bytes).  The whole
    image is deflated in one call (zlib releases the GIL for it).
    """
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"write_png needs uint8 pixels, not {array.dtype}")
    chunks = []
    if palette is not None:
        if array.ndim != 2:
            raise ValueError(f"a palette image must be (H, W), not {array.shape}")
        pal = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
        if len(pal) > 256:
            raise ValueError(f"a PNG palette holds at most 256 colours, not {len(pal)}")
        colour, filt, strategy = 3, 0, _RLE
        chunks.append(_chunk(b"PLTE", pal.tobytes()))
    elif array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4)):
        if array.ndim == 3 and array.shape[2] == 3 and _is_grey(array):
            array = array[:, :, 0]
        colour = 0 if array.ndim == 2 else (2 if array.shape[2] == 3 else 6)
        filt, strategy = 2, zlib.Z_DEFAULT_STRATEGY
    else:
        raise ValueError(f"cannot write an image of shape {array.shape}")
    if compress_type is not None:
        strategy = zlib.Z_DEFAULT_STRATEGY if compress_type < 0 else compress_type
    h, w = array.shape[:2]
    flat = array.reshape(h, -1)
    rows = np.empty((h, flat.shape[1] + 1), np.uint8)
    rows[:, 0] = filt
    if filt == 2 and h:
        rows[0, 1:] = flat[0]
        np.subtract(flat[1:], flat[:-1], out=rows[1:, 1:])  # modulo 256, as the filter is defined
    else:
        rows[:, 1:] = flat
    z = zlib.compressobj(compress_level, zlib.DEFLATED, 15, 9, strategy)
    data = z.compress(rows.data) + z.flush()
    head = [_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))]
    if dpi:
        ppm = int(dpi / 0.0254 + 0.5)
        head.append(_chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)))
    for key, value in (text or {}).items():
        head.append(_chunk(b"iTXt", _itxt(key, str(value))))
    return b"".join([_SIGNATURE, *head[:1], *chunks, *head[1:], _chunk(b"IDAT", data), _chunk(b"IEND", b"")])


def write_png(
    path: str | os.PathLike[str],
    array: np.ndarray,
    palette: np.ndarray | None = None,
    text: Mapping[str, str] | None = None,
    *,
    dpi: int | None = None,
    compress_level: int = COMPRESS_LEVEL,
    compress_type: int | None = None,
) -> Path:
    """Write an 8-bit image as a PNG, atomically (encoded by :func:`encode_png`).

    Parameters
    ----------
    path : path
        Destination; written through a temporary file in the same folder.
    array : ndarray, uint8
        (H, W) index image when ``palette`` is given (written as a palette
        PNG), else (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA.
    palette : ndarray (K, 3) uint8, K <= 256, optional
        The colour of each index of a (H, W) ``array``.
    text : mapping of str to str, optional
        PNG text chunks (``iTXt``; compressed when longer than 1 KiB).
    dpi : int, optional
        Stored in the ``pHYs`` chunk.
    compress_level : int
        zlib level, 1 (fast, the default) to 9.
    compress_type : int, optional
        zlib strategy (-1: zlib's default); by default Z_RLE (3) for a
        palette image, zlib's default for the others.

    Returns
    -------
    Path
    """
    data = encode_png(array, palette, text, dpi=dpi, compress_level=compress_level, compress_type=compress_type)
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


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
