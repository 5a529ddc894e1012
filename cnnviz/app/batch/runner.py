"""``cnnviz batch``: many configs × many images, in parallel, skipping what is up to date.

:func:`run_batch` takes a :class:`BatchRequest` and returns a :class:`BatchReport`:

1. **Expand** the config and image arguments and **validate** every config
   once, before any work starts (:mod:`~cnnviz.app.batch.expand`).  A pattern
   that matches nothing, or a config that does not validate, is reported at
   the end (and makes the exit status 1) but does not stop the rest.
2. Every config × every image is an *item* written to
   ``OUT/<config>/<image>/``.  An item whose folder holds a stamp with the
   same *key* is **skipped**: the key is a hash of the config file's bytes,
   the bytes of every filter or weights file it names, the ``--set``
   overrides, the image's bytes, the cnnviz version, ``--save-arrays`` and
   (``--shared-scale``) the set of images sharing the scale.  The stamp is
   written only after the render and its thumbnails succeeded.
3. The remaining items run as :class:`~cnnviz.app.batch.tasks.Task` objects on
   an executor (:mod:`~cnnviz.app.batch.executors`): a local process pool or
   a dask.distributed cluster.  One failing item does not stop the others.
4. ``--shared-scale``: a first pass runs every image of a config and keeps
   only each stage's min and max; the renders then use, per stage, the range
   over all the images as the colour scale (with a colorbar).
5. ``OUT/index.html`` (:mod:`~cnnviz.app.batch.contact_sheet`) is rewritten
   to cover every output in ``OUT``, and every item whose last attempt failed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import CnnvizError
from ...version import __version__
from .contact_sheet import THUMBS, read_stamp, write_index
from .executors import import_distributed, open_executor
from .expand import BatchConfig, BatchImage, expand_configs, expand_images
from .tasks import KEY_VERSION, Task, run_task

__all__ = ["BatchRequest", "BatchReport", "ItemResult", "ProgressCallback", "run_batch"]

#: ``progress(done, total, note)``: called after every finished task.
ProgressCallback = Callable[[int, int, str], None]


@dataclass
class BatchRequest:
    """What ``cnnviz batch`` was asked to do.

    Attributes
    ----------
    configs : list of str
        Config files, folders (their ``*.yaml`` / ``*.yml``) or globs.
    images : list of str
        Image files, folders (their image files), globs or sample names.
    outdir : str
        ``OUT``: outputs go to ``OUT/<config>/<image>/``, the contact sheet to
        ``OUT/index.html``.
    jobs : int or None
        Local worker processes (default: the machine's cores).  With
        ``scheduler``: at most this many tasks in flight (default: no limit).
    force : bool
        Re-render items that are up to date.
    shared_scale : bool
        One colour scale per stage across all the images of a config.
    scheduler : str or None
        ``tcp://HOST:PORT`` of a dask.distributed scheduler.
    overrides : list of str
        ``--set key.path=value`` applied to every config.
    save_arrays : bool
        Also write ``activations.npz``.
    """

    configs: list[str]
    images: list[str]
    outdir: str = "cnnviz-batch"
    jobs: int | None = None
    force: bool = False
    shared_scale: bool = False
    scheduler: str | None = None
    overrides: list[str] = field(default_factory=list)
    save_arrays: bool = False


class _Counter:
    """Tasks done of the total (which shrinks when a ``--shared-scale`` group loses renders), reported by callback."""

    def __init__(self, total: int, callback: ProgressCallback | None) -> None:
        self.total, self.done, self.callback = total, 0, callback

    def update(self, advance: int, note: str) -> None:
        self.done += advance
        if self.callback is not None:
            self.callback(self.done, self.total, note)


# ---------------------------------------------------------------------------
# The report.


@dataclass
class ItemResult:
    """One config × image of the batch and what became of it.

    ``status`` is ``rendered``, ``skipped`` (up to date) or ``failed``.
    """

    config: str
    image: str
    outdir: Path
    status: str
    error: str | None = None
    seconds: float = 0.0


@dataclass
class BatchReport:
    """What :func:`run_batch` did.

    Attributes
    ----------
    items : list of ItemResult
        Every config × image, configs in order, then images in order.
    errors : list of str
        Arguments that gave nothing (a pattern matching nothing, a missing file).
    config_errors : list of (config name, number of images, error line)
        Configs that failed validation: all their items failed with it
        (reported once per config, not once per item).
    index : Path or None
        The contact sheet.
    seconds : float
    """

    outdir: Path
    items: list[ItemResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    config_errors: list[tuple[str, int, str]] = field(default_factory=list)
    index: Path | None = None
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for it in self.items if it.status == status)

    @property
    def rendered(self) -> int:
        return self.count("rendered")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def failed(self) -> int:
        """Failed items, invalid configs and arguments that gave nothing (0: everything went well)."""
        return self.count("failed") + len(self.errors) + sum(1 for _, n, _ in self.config_errors if not n)

    def summary(self) -> str:
        """One line: how many outputs were rendered, skipped and failed, the time, the contact sheet."""
        n = len(self.items)
        text = (f"{n} output{'s' if n != 1 else ''}: {self.rendered} rendered, {self.skipped} skipped (up to date), "
                f"{self.count('failed')} failed in {self.seconds:.1f} s")
        if self.index is not None:
            text += f"; contact sheet: {self.index}"
        return text

    def failures(self) -> list[str]:
        """One line per problem: arguments that gave nothing, invalid configs, failed items."""
        lines = list(self.errors)
        bad_configs = set()
        for name, n, message in self.config_errors:
            bad_configs.add(name)
            lines.append(f"{name} × all {n} image{'s' if n != 1 else ''}: {message}" if n else f"{name}: {message}")
        for it in self.items:
            if it.status == "failed" and it.config not in bad_configs:
                lines.append(f"{it.config} × {it.image}: {it.error}")
        return lines


# ---------------------------------------------------------------------------
# The batch.


def _item_key(config: BatchConfig, image: BatchImage, req: BatchRequest, shared: Sequence[str] | None) -> str:
    data = {
        "v": KEY_VERSION,
        "cnnviz": __version__,
        "config": config.digest,
        "image": image.digest,
        "save_arrays": bool(req.save_arrays),
        "shared_scale": sorted(shared) if shared is not None else None,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _up_to_date(outdir: Path, key: str) -> bool:
    """The folder holds a complete render with this key: stamp, manifest, every listed file and thumbnail."""
    stamp = read_stamp(outdir)
    if stamp is None or stamp.get("key") != key:
        return False
    try:
        manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    names = list(manifest.get("files") or []) + [f"{THUMBS}/{n}" for n in stamp.get("thumbs") or {}]
    return all(isinstance(n, str) and (outdir / n).is_file() for n in names)


@dataclass
class _Group:
    """The items of one config under ``--shared-scale``: a range task per image first, then the renders."""

    tasks: list[Task]  # range tasks, one per image
    renders: dict[str, Task]  # image label -> render task (the items that are not up to date)
    pending: int = 0
    ranges: dict[int, list[float]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)


class _Runner:
    """Feeds tasks to an executor, keeping at most ``in_flight`` running, and settles their results."""

    def __init__(self, renders: Sequence[tuple[ItemResult, Task]], groups: Sequence[_Group], bar: _Counter) -> None:
        self.items = {(t.config_name, t.image_label): item for item, t in renders}
        self.bar = bar
        self.queue: deque[tuple[Task, _Group | None]] = deque()
        if groups:
            for g in groups:
                g.pending = len(g.tasks)
                self.queue.extend((t, g) for t in g.tasks)
        else:
            self.queue.extend((t, None) for _, t in renders)

    def run(self, executor: Executor, in_flight: int) -> None:
        running: dict[Future[Any], tuple[Task, _Group | None]] = {}
        while self.queue or running:
            while self.queue and len(running) < in_flight:
                task, group = self.queue.popleft()
                try:
                    running[executor.submit(run_task, task)] = (task, group)
                except Exception as exc:  # e.g. a broken process pool
                    self.settle(task, group, {"ok": False, "error": f"cannot start: {type(exc).__name__}: {exc}"})
            if not running:
                continue
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                task, group = running.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:  # the worker died, the task was lost, ...
                    result = {"ok": False, "error": f"the worker failed: {type(exc).__name__}: {exc}"}
                self.settle(task, group, result)

    def settle(self, task: Task, group: _Group | None, result: Mapping[str, Any]) -> None:
        item = self.items.get((task.config_name, task.image_label))
        if task.kind == "range":
            assert group is not None
            self.range_done(task, group, result)
            self.bar.update(1, f"{task.config_name} × {task.image_label} (scale)")
            return
        if item is not None:
            if result.get("ok"):
                item.status, item.seconds = "rendered", float(result.get("seconds", 0.0))
            else:
                item.status, item.error = "failed", str(result.get("error"))
        self.bar.update(1, f"{task.config_name} × {task.image_label}")

    def range_done(self, task: Task, group: _Group, result: Mapping[str, Any]) -> None:
        group.pending -= 1
        if result.get("ok"):
            for i, (lo, hi) in result["ranges"].items():
                cur = group.ranges.get(int(i))
                group.ranges[int(i)] = [lo, hi] if cur is None else [min(cur[0], lo), max(cur[1], hi)]
        else:
            group.failed.add(task.image_label)
            item = self.items.get((task.config_name, task.image_label))
            if item is not None and task.image_label in group.renders:
                item.status, item.error = "failed", str(result.get("error"))
        if group.pending:
            return
        ranges = tuple((i, float(lo), float(hi)) for i, (lo, hi) in sorted(group.ranges.items()))
        todo = [(dataclasses.replace(t, stage_ranges=ranges), None) for label, t in group.renders.items()
                if label not in group.failed]
        self.bar.total -= len(group.renders) - len(todo)  # renders that will not run
        self.queue.extendleft(reversed(todo))  # finish this config before starting the next one


def run_batch(req: BatchRequest, progress: ProgressCallback | None = None) -> BatchReport:
    """Render every config × every image of ``req``; see the module docstring.

    Parameters
    ----------
    req : BatchRequest
    progress : callable, optional
        ``progress(done, total, note)`` after every task (``note`` names the
        item); the command line draws its progress bar with it.

    Returns
    -------
    BatchReport
        ``failed`` is non-zero when anything failed.

    Raises
    ------
    CnnvizError
        Only for problems with the whole batch: ``--scheduler`` without dask,
        a scheduler that cannot be reached, an output folder that cannot be
        written.
    """
    t0 = time.monotonic()
    if req.scheduler is not None:
        import_distributed(req.scheduler)  # say so now, not after the validation
    out = Path(req.outdir)
    report = BatchReport(outdir=out)
    configs, config_arg_errors = expand_configs(req.configs, req.overrides)
    images, image_arg_errors = expand_images(req.images)
    report.errors += config_arg_errors + image_arg_errors
    if out.exists() and not out.is_dir():
        raise CnnvizError(f"{out}: exists and is not a folder")
    out_abs = out.resolve()

    shared = [im.digest for im in images] if req.shared_scale else None
    renders: list[tuple[ItemResult, Task]] = []
    groups: list[_Group] = []
    for cfg in configs:
        if cfg.error is not None:
            report.config_errors.append((cfg.name, len(images), cfg.error))
            for im in images:
                report.items.append(ItemResult(cfg.name, im.label, out / cfg.name / im.label, "failed", cfg.error))
            continue
        group = _Group([], {}) if req.shared_scale else None
        for im in images:
            item = ItemResult(cfg.name, im.label, out / cfg.name / im.label, "skipped")
            report.items.append(item)
            key = _item_key(cfg, im, req, shared)
            folder = out_abs / cfg.name / im.label
            assert cfg.config is not None
            task = Task("render", cfg.config, cfg.path, cfg.display, cfg.name, im.source, im.display,
                        im.label, str(folder), key, req.save_arrays)
            if group is not None:
                group.tasks.append(Task("range", cfg.config, cfg.path, cfg.display, cfg.name, im.source,
                                        im.display, im.label, str(folder)))
            if not req.force and _up_to_date(folder, key):
                continue
            item.status = "pending"
            if group is not None:
                group.renders[im.label] = task
            renders.append((item, task))
        if group is not None and group.renders:
            groups.append(group)

    # the biggest images first, so that the last task to finish is a small one
    pixels = {im.label: im.pixels for im in images}
    renders.sort(key=lambda r: -pixels[r[1].image_label])
    for g in groups:
        g.tasks.sort(key=lambda t: -pixels[t.image_label])
    total = len(renders) + sum(len(g.tasks) for g in groups)
    if total:
        _execute(req, renders, groups, total, progress)
    report.seconds = time.monotonic() - t0

    if report.items:
        failures = {(it.config, it.image): it.error or "failed" for it in report.items if it.status == "failed"}
        try:
            ok = [(it.config, it.image) for it in report.items if it.status in ("rendered", "skipped")]
            report.index = write_index(out, failures=failures, succeeded=ok, configs=[c.name for c in configs],
                                       images=[im.label for im in images], errors=report.failures(),
                                       sources={"config": {c.name: c.display for c in configs},
                                                "image": {im.label: im.display for im in images}})
        except OSError as exc:
            raise CnnvizError(f"{out}: cannot write index.html: {exc.strerror}") from None
        report.index = out / "index.html"  # as the user named OUT
    return report


def _execute(req: BatchRequest, renders: list[tuple[ItemResult, Task]], groups: list[_Group], total: int,
             progress: ProgressCallback | None) -> None:
    """Run the tasks; set each item's status (and error)."""
    bar = _Counter(total, progress)
    with open_executor(req.jobs, req.scheduler, total) as (executor, in_flight):
        _Runner(renders, groups, bar).run(executor, in_flight)
    for item, _ in renders:
        if item.status == "pending":  # pragma: no cover - every task settles
            item.status, item.error = "failed", "not run"
