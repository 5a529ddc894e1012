"""Expanding ``cnnviz batch``'s arguments: configs and images from files, folders, globs and sample names.

Every config is validated here, once, with the ``--set`` overrides; the
workers get the validated :class:`~cnnviz.config.Config`.  Labels (the
folder names ``OUT/<config>/<image>/``) are made safe and unique.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...config import Config, referenced_files
from ...errors import CnnvizError, ConfigErrors
from ...importers import load_config_file
from ...io.images import SAMPLES, missing_image_error, sample_path
from ...limits import safe_name

__all__ = [
    "IMAGE_EXTENSIONS",
    "CONFIG_EXTENSIONS",
    "BatchImage",
    "BatchConfig",
    "expand_images",
    "expand_configs",
    "config_digest",
    "file_digest",
    "error_line",
]

#: Files a folder or glob contributes as images (case-insensitive).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif")
#: Files a folder or glob contributes as configs.
CONFIG_EXTENSIONS = (".yaml", ".yml", ".onnx")

_MAGIC = re.compile(r"[*?[]")


def _unique(names: Sequence[str]) -> list[str]:
    """``names`` made unique in order: a repeat gets ``-2``, ``-3``, ..."""
    seen: set[str] = set()
    out = []
    for n in names:
        cand, k = n, 2
        while cand in seen:
            cand, k = f"{n}-{k}", k + 1
        seen.add(cand)
        out.append(cand)
    return out


def file_digest(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class BatchImage:
    """One image of a batch.

    Attributes
    ----------
    source : str
        What a worker loads: a sample name, or an absolute path.
    display : str
        How messages name it: the sample name, or the path as given or matched.
    label : str
        Its folder name under ``OUT/<config>/`` (unique within the batch).
    digest : str
        sha256 of its bytes (for a sample, of ``sample:<name>`` and its file).
    pixels : int
        Width × height from the file's header (0 when unreadable): big images
        are started first, so that one is not left running alone at the end.
    """

    source: str
    display: str
    label: str
    digest: str
    pixels: int = 0


def _folder_files(folder: str, extensions: Sequence[str]) -> list[str]:
    """The files in ``folder`` (not recursive) with one of ``extensions``, sorted by name."""
    return [os.path.join(folder, p.name) for p in sorted(Path(folder).iterdir(), key=lambda p: p.name)
            if p.suffix.lower() in extensions and p.is_file()]


def _expand_pattern(pat: str, extensions: Sequence[str], kind: str) -> tuple[list[str], str | None]:
    """The ``kind`` files one folder, file or glob argument names, and an error when it names none.

    A file is itself (whatever its extension); a folder gives its files with
    ``extensions``; a glob (``**`` recurses) gives the matching files with
    ``extensions`` and the files of matching folders, sorted.  Anything else
    is ``([], None)``: the caller words that.
    """
    if os.path.isdir(pat):
        files = _folder_files(pat, extensions)
        return files, None if files else f"{pat}: no {kind} files in this folder ({_extensions(extensions)})"
    if os.path.isfile(pat):
        return [pat], None
    if _MAGIC.search(pat):
        files = []
        for m in sorted(glob.glob(pat, recursive=True)):
            if os.path.isdir(m):
                files += _folder_files(m, extensions)
            elif Path(m).suffix.lower() in extensions and os.path.isfile(m):
                files.append(m)
        return files, None if files else f"{pat}: no {kind} file matches"
    return [], None


def _extensions(exts: Sequence[str]) -> str:
    return ", ".join(e[1:] for e in exts)


def _pixels(source: str) -> int:
    """Width × height from an image file's header (no decoding); 0 when it cannot be read."""
    from PIL import Image


    try:
        with Image.open(sample_path(source) if source in SAMPLES else source) as im:
            return int(im.size[0]) * int(im.size[1])
    except Exception:  # unreadable: its item fails later, with the loader's message
        return 0


def expand_images(patterns: Sequence[str]) -> tuple[list[BatchImage], list[str]]:
    """Expand image arguments into images, in order, without repeats.

    A sample name (``cnnviz samples``) is the sample, as in ``cnnviz run``;
    a file is itself (whatever its extension); a folder gives its image files
    (by extension: png, jpg, jpeg, tif, tiff, bmp, gif; not recursive); a glob
    (``*``, ``?``, ``[``; ``**`` recurses) gives the image files and folders it
    matches, sorted.

    Returns
    -------
    images : list of BatchImage
        Labels made unique (``-2``, ``-3``, ... in this order).
    errors : list of str
        One line per argument that gave no image.
    """

    found: list[tuple[str, str, str]] = []  # (source, display, natural label)
    errors: list[str] = []
    for pat in patterns:
        if pat in SAMPLES:
            found.append((pat, pat, pat))
            continue
        files, error = _expand_pattern(pat, IMAGE_EXTENSIONS, "image")
        if error:
            errors.append(error)
        elif not files:
            errors.append(str(missing_image_error(pat)))
            continue
        for f in files:
            found.append((os.path.abspath(f), f, Path(f).stem))
    images: list[BatchImage] = []
    seen: set[str] = set()
    unique = []
    for source, display, label in found:
        if source not in seen:
            seen.add(source)
            unique.append((source, display, label))
    labels = _unique([safe_name(lbl) for _, _, lbl in unique])
    for (source, display, _), label in zip(unique, labels, strict=True):
        try:
            if source in SAMPLES:
                digest = hashlib.sha256(f"sample:{source}:{file_digest(sample_path(source))}".encode()).hexdigest()
            else:
                digest = file_digest(source)
        except OSError as exc:
            # unreadable: its item fails with the loader's own message; nothing to compare
            digest = f"unreadable:{exc.errno}:{time.time_ns()}"
        images.append(BatchImage(source, display, label, digest, _pixels(source)))
    return images, errors


@dataclass(frozen=True)
class BatchConfig:
    """One config of a batch.

    Attributes
    ----------
    path : str
        Absolute path (what workers load).
    display : str
        The path as given or matched (what messages name).
    name : str
        Its folder name under ``OUT/`` (the config's ``name:`` or file stem; unique).
    digest : str or None
        sha256 over the config's bytes, the files it names and the overrides;
        None when the config is invalid.
    error : str or None
        Why the config is invalid (one line).
    config : Config or None
        The config, validated once here (with the overrides); workers get it as it is.
    """

    path: str
    display: str
    name: str
    digest: str | None
    error: str | None
    config: Config | None = None


def _expand_config_patterns(patterns: Sequence[str]) -> tuple[list[str], list[str]]:
    files: list[str] = []
    errors: list[str] = []
    for pat in patterns:
        got, error = _expand_pattern(pat, CONFIG_EXTENSIONS, "config")
        if error:
            errors.append(error)
        elif not got:
            errors.append(f"config file not found: {pat}")
        files += got
    seen: set[str] = set()
    out = []
    for f in files:
        a = os.path.abspath(f)
        if a not in seen:
            seen.add(a)
            out.append(f)
    return out, errors


def config_digest(config_path: str | os.PathLike[str], config: Any, overrides: Sequence[str]) -> str:
    """sha256 over the config file's bytes, each file it names (path as written and bytes), and the overrides."""
    h = hashlib.sha256()
    h.update(b"config\0")
    h.update(file_digest(config_path).encode())
    memory = config.files.memory if config.files is not None else {}
    for p in referenced_files(config.data, config.base_dir):
        if str(p.resolve()) in memory:
            continue  # an imported model's weights: part of the model file hashed above
        h.update(b"\0file\0" + str(p).encode() + b"\0" + file_digest(p).encode())
    h.update(b"\0overrides\0" + json.dumps(list(overrides)).encode())
    return h.hexdigest()


def error_line(err: CnnvizError) -> str:
    if isinstance(err, ConfigErrors) and len(err.errors) > 1:
        more = len(err.errors) - 1
        return f"{err} (and {more} more error{'s' if more > 1 else ''}: cnnviz validate lists them)"
    return str(err)


def expand_configs(patterns: Sequence[str], overrides: Sequence[str] = ()) -> tuple[list[BatchConfig], list[str]]:
    """Expand and validate config arguments.

    Returns
    -------
    configs : list of BatchConfig
        Every config file found, in order, without repeats; an invalid one
        has ``error`` set (and its items fail with it).
    errors : list of str
        One line per argument that gave no config file.
    """
    files, errors = _expand_config_patterns(patterns)
    staged: list[tuple[str, str, str, str | None, str | None, Config | None]] = []
    for f in files:
        name = Path(f).stem
        try:
            config = load_config_file(f, overrides)
            name = config.name or name
            digest = config_digest(f, config, overrides)
            staged.append((os.path.abspath(f), f, name, digest, None, config))
        except CnnvizError as err:
            staged.append((os.path.abspath(f), f, name, None, error_line(err), None))
        except OSError as exc:
            staged.append((os.path.abspath(f), f, name, None, f"{f}: cannot read: {exc.strerror}", None))
    names = _unique([safe_name(s[2]) for s in staged])
    return [BatchConfig(p, d, n, dg, e, c) for (p, d, _, dg, e, c), n in zip(staged, names, strict=True)], errors
