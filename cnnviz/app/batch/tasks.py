"""The work one batch worker does: a :class:`Task` in, a plain result out (never an exception).

A task carries the validated config and plain strings and paths, so it
pickles to a local process or a dask worker; the worker reads the image
itself and runs a :class:`~cnnviz.app.session.Session`, as ``cnnviz run``
does: ``render`` writes the folder, its thumbnails (made from the pictures as
drawn, :attr:`~cnnviz.app.session.SessionResult.drawings`) and (last) its stamp;
``range`` returns every grid stage's (min, max) for ``--shared-scale``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...config import Config
from ...errors import CnnvizError
from ...version import __version__
from ..session import Session
from .contact_sheet import STAMP, make_thumbnails, write_stamp
from .expand import error_line

__all__ = ["KEY_VERSION", "Task", "run_task"]

#: Bump when the meaning of the stamp's key, or what an up-to-date folder holds, changes
#: (2: thumbnails are the maps themselves, all one size).
KEY_VERSION = 2


@dataclass(frozen=True)
class Task:
    """One unit of work: a validated config, an image to read, a folder to write.

    ``kind`` is ``render`` (run and write ``outdir``) or ``range`` (run and
    return each stage's (min, max), for ``--shared-scale``).
    """

    kind: str
    config: Config
    config_path: str
    config_display: str
    config_name: str
    image: str
    image_display: str
    image_label: str
    outdir: str
    key: str = ""
    save_arrays: bool = False
    stage_ranges: tuple[tuple[int, float, float], ...] | None = None


def _render(task: Task) -> dict[str, Any]:
    session = Session(task.config, task.image)
    out = Path(task.outdir)
    if (out / STAMP).exists():
        (out / STAMP).unlink()  # from here on the folder is not up to date
    ranges = {i: (lo, hi) for i, lo, hi in task.stage_ranges} if task.stage_ranges is not None else None
    result = session.render(out, save_arrays=task.save_arrays, config_path=task.config_path, stage_ranges=ranges)
    thumbs = make_thumbnails(out, result.drawings)
    write_stamp(out, {
        "stamp_version": KEY_VERSION,
        "key": task.key,
        "cnnviz_version": __version__,
        "config": {"name": task.config_name, "path": task.config_path, "display": task.config_display},
        "image": {"label": task.image_label, "source": task.image, "display": task.image_display},
        "shared_scale": task.stage_ranges is not None,
        "save_arrays": task.save_arrays,
        "thumbs": thumbs,
    })
    return {"files": len(result.files)}


def run_task(task: Task) -> dict[str, Any]:
    """Do one :class:`Task` (in a worker); never raises for a failing item.

    Returns
    -------
    dict
        ``{"ok": True, "seconds": s, ...}`` (``ranges`` for a range task:
        stage index -> [min, max]), or ``{"ok": False, "error": line}``.
    """
    t0 = time.perf_counter()
    try:
        if task.kind == "range":
            ranges = Session(task.config, task.image).ranges()
            result: dict[str, Any] = {"ranges": {i: [lo, hi] for i, (lo, hi) in ranges.items()}}
        else:
            result = _render(task)
    except CnnvizError as err:
        message = error_line(err)
        # name the files as the user did, not by the absolute paths the worker was given
        if task.image != task.image_display:
            message = message.replace(task.image, task.image_display)
        message = message.replace(task.config_path, task.config_display)
        return {"ok": False, "error": message}
    except MemoryError:
        return {"ok": False, "error": "out of memory (shrink the image with input.resize, or use fewer jobs)"}
    except OSError as exc:  # the output folder is not writable, the disk is full, ...
        where = f"{exc.filename}: " if exc.filename else ""
        return {"ok": False, "error": f"{where}cannot write the output: {exc.strerror or exc}"}
    except Exception as exc:  # one failing image must not stop the others
        return {"ok": False, "error": f"unexpected error: {type(exc).__name__}: {exc}"}
    result["ok"] = True
    result["seconds"] = time.perf_counter() - t0
    return result
