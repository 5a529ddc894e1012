"""``render``: write a run's pictures, manifest and arrays into one folder (SPEC §3).

:class:`Writer` takes the input and then the layers one at a time (so that
a streaming run can draw and drop each stage), and :meth:`Writer.finish`
writes the overview and the manifest and removes the stage files that the
previous run in that folder listed and this one did not write again.
:func:`render` is the one-call form (``cnnviz.render``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config, load_config
from ..formatting import short_number, times
from ..io.images import image_label, resolve_image
from ..io.pngio import BackgroundWrites, atomic_write, write_png
from ..pipeline import Layer
from .bars import bar_chart
from .canvas import Drawing, rasterize
from .filters import filter_figure
from .fit import fit_drawing
from .grid import MAX_SIZE, GridPicture, grid_title, render_grid, stage_file_name, stage_grid
from .manifest import build_manifest, config_text, jsonable, manifest_json, output_stats, png_text
from .overlay import background_rgb, blend, overlay_cmap, overlay_picture
from .overview import OverviewRow, OverviewZoom, input_rgb, overview_zoom, render_input, render_overview
from .palette import LEVELS, colormap_colors, grid_palette, is_diverging, resolve_center
from .scale import Scale, finite_range, fixed_limits, is_vector, run_range, select_maps, stage_scale

__all__ = ["BACKGROUND_PIXELS", "OWN_FILE", "OWN_TEMP", "remove_orphaned_temps", "previous_files", "Writer", "render"]


#: Pictures of at least this many pixels are encoded in the background while the next is drawn (smaller ones
#: are written at once: for them a thread costs more than it saves).
BACKGROUND_PIXELS = 1 << 20

#: The only names a re-run removes (when its previous manifest lists them).
OWN_FILE = re.compile(r"^(?:filters_)?\d+_[\w.-]+\.png$|^overview\.png$|^activations\.npz$")


#: Temporary files of :func:`cnnviz.pngio.atomic_write`: ``.<name>.<pid>.<thread>.tmp``.
OWN_TEMP = re.compile(r"^\..+\.(\d+)\.\d+\.tmp$")


def remove_orphaned_temps(out: Path) -> list[Path]:
    """Remove temporary files a killed cnnviz process left in ``out`` (their process is gone)."""
    removed = []
    for p in out.iterdir() if out.is_dir() else []:
        m = OWN_TEMP.match(p.name)
        if not m or not p.is_file():
            continue
        pid = int(m.group(1))
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
        except (PermissionError, OSError):
            pass
    return removed


def previous_files(manifest: Path) -> set[str]:
    """File names listed by a previous manifest that cnnviz may remove."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return set()
    names: list[Any] = []
    if isinstance(data, dict):
        names += data.get("files") or []
        names += (data.get("input") or {}).get("files") or [] if isinstance(data.get("input"), dict) else []
        for st in data.get("stages") or []:
            if isinstance(st, dict):
                names += st.get("files") or []
    return {n for n in names if isinstance(n, str) and "/" not in n and "\\" not in n and OWN_FILE.match(n)}


class Writer:
    """Write one run into ``outdir``: :meth:`input`, then :meth:`add` per layer, then :meth:`finish`.

    Each layer is drawn as it is added and not kept (only its shape and
    statistics are), so a caller may drop it at once (streaming).  Use it as
    a context manager: leaving the block with an exception removes the
    unfinished ``activations.npz``; the pictures already written are whole.
    ``normalize: global`` needs ``global_range`` (the run's min and max over
    every grid stage) before the first layer is added.
    """

    def __init__(self, config: Config, outdir: str | os.PathLike[str], *, image_name: str | None = None,
                 config_path: str | os.PathLike[str] | None = None, save_arrays: bool = False,
                 stage_ranges: Mapping[int, Sequence[float]] | None = None,
                 global_range: tuple[float, float] | None = None) -> None:
        self.config = config
        self.out = Path(outdir)
        self.out.mkdir(parents=True, exist_ok=True)
        remove_orphaned_temps(self.out)
        if config_path is None and config.source and not config.source.startswith("<"):
            config_path = config.source
        self.config_path = os.fspath(config_path) if config_path is not None else None
        self.image_name = image_name
        self.label = image_label(image_name) if image_name is not None else None
        self.config_text = config_text(config)
        self.width = max(2, len(str(len(config.stages))))
        self.global_range = global_range
        self.stage_ranges = stage_ranges
        self.written: list[Path] = []
        self.color_ranges: dict[int, tuple[float, float]] = {}
        self.input_files: list[str] = []
        self.stage_files: dict[int, list[str]] = {}
        self.other_files: list[str] = []
        self.rows: list[OverviewRow] = []
        self.layers: list[Layer] = []  # shapes only: each output replaced by a broadcast zero
        self.stats: dict[int, Mapping[str, Any]] = {}
        self.image_shape: tuple[int, ...] | None = None
        self.background: np.ndarray | None = None  # the input as the overlays' grey backdrop (render.overlay)
        self.overlay_tiles: list[tuple[str, int, np.ndarray]] = []  # (stage, channel, (H, W, 3) uint8)
        self._rgb: dict[int, bool] = {0: True}  # does position k still hold the image's R, G, B channels?
        self._magnitude: dict[int, float] = {}
        self._names: dict[int, list[str] | None] = {0: None}  # each position's channel names (kernel sources)  # largest |value| at each position: what "equal" is measured against
        self.grids: dict[int, GridPicture] = {}  # every grid drawn (its layout: where each map's tiles are)
        self.drawings: dict[str, Drawing] = {}  # every picture drawn, by file stem (``01_edges``)
        self.zoom = OverviewZoom(1, 1.0)
        self._stack = contextlib.ExitStack()
        self._writes = BackgroundWrites()  # big PNGs are encoded while the next picture is drawn
        self._zip: Any = None
        if save_arrays:
            import zipfile

            f = self._stack.enter_context(atomic_write(self.out / "activations.npz", "wb"))
            self._zip = self._stack.enter_context(
                zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True))

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if exc[0] is None:
                self._writes.wait()
            else:
                self._writes.cancel()  # the pictures not yet started are not written; the one under way ends whole
        finally:
            self._stack.__exit__(*exc)

    @property
    def opts(self) -> Mapping[str, Any]:
        return self.config.render

    @property
    def labels(self) -> bool:
        return bool(self.opts["labels"])

    @property
    def dpi(self) -> int:
        return int(self.opts["dpi"])

    @property
    def overview_maps(self) -> int:
        return min(5, int(self.opts["max_maps"]))

    @property
    def max_size(self) -> int:
        return int(self.opts.get("max_size") or MAX_SIZE)

    @property
    def fmt(self) -> str:
        return str(self.opts.get("format") or "png")

    def picture(self, stem: str, drawing: Drawing, stage: str) -> str:
        """Write ``drawing`` as ``<stem>.<format>`` with the run's metadata; its file name."""
        name = f"{stem}.{self.fmt}"
        drawing = fit_drawing(drawing, self.max_size)  # parts that do not shrink with max_size (a bar plot)
        self.drawings[stem] = drawing
        text = png_text(self.config_text, self.label, title=drawing.title, stage=stage)
        if self.fmt == "png":
            pixels, palette = rasterize(drawing)
            if pixels.shape[0] * pixels.shape[1] >= BACKGROUND_PIXELS:
                self._writes.submit(write_png, self.out / name, pixels, palette, text=text, dpi=self.dpi)
            else:
                self._writes.check()  # a picture failed in the background: stop as a plain run would
                write_png(self.out / name, pixels, palette, text=text, dpi=self.dpi)
        else:
            from .vector import write_vector

            write_vector(self.out / name, drawing, self.fmt, text)
        self.written.append(self.out / name)
        return name

    def input(self, image: np.ndarray) -> None:
        """``00_input.png`` and the overview's first row, from the input (H, W) or (H, W, C) as the stack saw it."""
        image = np.asarray(image)
        self.image_shape = tuple(int(v) for v in image.shape)
        self.background = background_rgb(image) if self.opts.get("overlay") else None
        img = image[:, :, None] if image.ndim == 2 else image
        self._magnitude[0] = float(np.max(np.abs(img))) if img.size else 0.0
        stem = f"{0:0{self.width}d}_input"
        title = f"{0:0{self.width}d} input · {times(*img.shape)}"
        lo, hi = (float(img.min()), float(img.max())) if img.size else (0.0, 0.0)
        sub = (self.label or "the input as the stack sees it") + f" · values {short_number(lo)} … {short_number(hi)}"
        o = self.opts
        # the overview is laid out at dpi 100 and scaled: its one pixel scale is chosen at dpi 100
        self.zoom = overview_zoom(img.shape[0], img.shape[1], 100, self.max_size * 100 // self.dpi,
                                  self.overview_maps, 336)
        if img.shape[2] in (1, 3) and lo >= 0.0 and hi <= 1.0:
            d = render_input(img, title, sub, scale=o["scale"], labels=self.labels, dpi=self.dpi,
                             max_size=self.max_size)
            self.input_files.append(self.picture(stem, d, stem))
            tile = input_rgb(self.zoom.cells(img.astype(np.float64)))
            self.rows.append(OverviewRow(f"{0:0{self.width}d} input", times(*img.shape), self.label or "", [tile],
                                         [0], self.zoom.size(*img.shape[:2])))
        else:  # many channels, or values outside 0 … 1 (input.range, input.normalize): a grid on its own range
            pic = render_grid(img, title=title, subtitle=sub, cmap="gray", normalize="layer",
                              max_maps=o["max_maps"], columns=o["columns"], scale=o["scale"],
                              labels=self.labels, colorbar=o["colorbar"], dpi=self.dpi, max_size=self.max_size)
            self.input_files.append(self.picture(stem, pic.drawing, stem))
            self.rows.append(self._row(f"{0:0{self.width}d} input", times(*img.shape), self.label or "", img,
                                       pic.scale, grid_palette("gray")))

    def _row(self, heading: str, detail: str, note: str, y: np.ndarray, scale: Scale,
             palette: np.ndarray) -> OverviewRow:
        """An overview row: the strongest few maps on the grid's scale, at the overview's pixel scale."""
        sel = select_maps(y, self.overview_maps)
        q = scale.indices(self.zoom.cells(y, sel), sel)
        return OverviewRow(heading, detail, note, [q[:, :, j] for j in range(len(sel))], [int(c) for c in sel],
                           self.zoom.size(*y.shape[:2]), palette, scale)

    def add(self, layer: Layer) -> None:
        """Draw one stage's pictures (and add its array to ``activations.npz``); the output is not kept."""
        ps = layer.stage  # None for a layer built by hand: drawn without a description or kernels
        sources = ps.sources if ps is not None else (layer.index - 1,)
        keeps = ps.kind.keeps_channels if ps is not None else True
        self._rgb[layer.index] = keeps and all(self._rgb.get(s, False) for s in sources)
        y = layer.output
        n = y.shape[2]
        lo, hi = finite_range(y) if y.size else (0.0, 0.0)
        mag = max(abs(float(lo)), abs(float(hi)))  # the largest finite |value|, without an |y| copy of the stage
        self._magnitude[layer.index] = mag
        reference = max((self._magnitude.get(s, 0.0) for s in sources), default=0.0)
        names = ps.tile_labels() if ps is not None else None
        if names is None and keeps and len(sources) == 1 and self._names.get(sources[0]) is not None \
                and len(self._names[sources[0]] or []) == y.shape[2]:
            names = self._names[sources[0]]  # abs of sobel_x is still sobel_x's channel
        self._names[layer.index] = names
        stem = stage_file_name(layer.index, layer.name, self.width)[:-4]
        heading = f"{layer.index:0{self.width}d} {layer.name}"
        detail = f"{layer.type} · {times(*y.shape)}"
        if ps is not None and ps.config.inputs is not None:
            detail += " ← " + ", ".join(ps.config.inputs)
        desc = ps.describe() if ps is not None else ""
        files = []
        if is_vector(y.shape):
            vec = y.reshape(-1)
            names = list(ps.labels) if ps is not None and ps.labels else None
            title = grid_title(layer.index, layer.name, layer.type, y.shape, width=self.width)
            probs = ps is not None and ps.kind.probabilities
            sub = desc or ("probabilities" if probs else "")
            d = bar_chart(vec, title=title if self.labels else "", subtitle=sub if self.labels else "",
                          labels=names, probabilities=probs, dpi=self.dpi)
            d.title = title
            files.append(self.picture(stem, d, stem))
            self.rows.append(OverviewRow(heading, detail, f"{n} value{'s' if n != 1 else ''}", [],
                                         vector=vec, vector_labels=names, probabilities=probs))
        else:
            o = self.opts
            centred = resolve_center(o["center"], o["cmap"])
            limits = None
            if self.stage_ranges is not None and layer.index in self.stage_ranges:
                limits = fixed_limits(self.stage_ranges[layer.index], centred)
                self.color_ranges[layer.index] = limits
            pic = stage_grid(layer, self.opts, global_range=self.global_range, width=self.width, limits=limits,
                             reference=reference, tile_names=self._names[layer.index])
            files.append(self.picture(stem, pic.drawing, stem))
            self.grids[layer.index] = pic
            if self.background is not None and ps is not None:
                files.append(self.overlay(layer, stem, heading, desc, centred, limits, reference))
            note = f"{min(n, self.overview_maps)} of {n} maps" if n > self.overview_maps else \
                f"{n} map{'s' if n != 1 else ''}"
            if pic.scale.shared:
                note += f" · {short_number(float(pic.scale.lo[0]))} … {short_number(float(pic.scale.hi[0]))}"
            self.rows.append(self._row(heading, detail, note, y, pic.scale, grid_palette(o["cmap"])))
        kernels = ps.kernels if ps is not None else None
        if self.opts["filters"] and kernels is not None and ps is not None:
            n_k = kernels.shape[0]
            title = f"filters of {heading} ({layer.type}) · {n_k} kernel{'s' if n_k != 1 else ''}"
            cmap = self.opts["cmap"] if is_diverging(self.opts["cmap"]) else "RdBu_r"
            # colour patches, and R, G, B headers, only while the kernels' channels are still the image's
            rgb_input = kernels.shape[3] == 3 and all(self._rgb.get(s, False) for s in sources)
            d = filter_figure(kernels, shapes=ps.kernel_shapes, names=ps.kernel_names,
                              dilation=tuple(ps.params.get("dilation", (1, 1))),
                              title=title if self.labels else "", subtitle=desc if self.labels else "", cmap=cmap,
                              filter_scale=str(self.opts.get("filter_scale") or "kernel"), as_colour=rgb_input,
                              channel_names=("R", "G", "B") if rgb_input else None,
                              max_kernels=int(self.opts["max_maps"]), dpi=self.dpi, max_size=self.max_size)
            d.title = title
            files.append(self.picture(f"filters_{stem}", d, stem))
        self.stage_files[layer.index] = files
        if self._zip is not None:
            key = stage_file_name(layer.index, layer.name, self.width)[:-4]
            with self._zip.open(key + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(layer.output), allow_pickle=False)
        self.stats[layer.index] = output_stats(layer.output)
        self.layers.append(Layer(layer.index, layer.name, layer.type,
                                 np.broadcast_to(np.zeros((), layer.output.dtype), layer.output.shape),
                                 layer.stage, layer.seconds))

    def overlay(self, layer: Layer, stem: str, heading: str, desc: str, centred: bool,
                limits: tuple[float, float] | None, reference: float) -> str:
        """``overlay_NN_<stage>``: the stage's strongest maps placed on the input and blended over it."""
        o, ps, y = self.opts, layer.stage, layer.output
        assert ps is not None and self.background is not None
        cmap = overlay_cmap(o["cmap"])
        scale = stage_scale(y, o["normalize"], center=centred, global_range=self.global_range, limits=limits,
                            clip=o.get("clip"), reference=reference)
        title = f"overlay of {heading} ({layer.type}) · {times(*y.shape)}"
        d = overlay_picture(y, self.background, scale, start=ps.start, jump=ps.jump,
                            receptive_field=ps.receptive_field, title=title, subtitle=desc, cmap=cmap,
                            count=int(o.get("overlay_maps") or 4), tile_names=self._names.get(layer.index),
                            labels=self.labels, colorbar=bool(o["colorbar"]), dpi=self.dpi, max_size=self.max_size)
        d.title = title
        ch = int(select_maps(y, 1)[0])  # the overview's overlay row: each stage's strongest map
        centre = LEVELS // 2 if scale.centred else None
        tile = blend(self.background, scale.indices(y[:, :, [ch]], np.array([ch]))[:, :, 0], ps.start, ps.jump,
                     colormap_colors(cmap, LEVELS), centre=centre)
        self.overlay_tiles = [*self.overlay_tiles, (layer.name, ch, tile)][-self.overview_maps:]
        return self.picture(f"overlay_{stem}", d, stem)

    def overview(self, config_path: str | None) -> None:
        """``overview.png``: the input and every stage, a row each, at one pixel scale."""
        o = self.opts
        centred = resolve_center(o["center"], o["cmap"])
        name = self.config.name or (Path(config_path).stem if config_path else "cnnviz")
        title = name + (f" on {self.label}" if self.label else "")
        scale = "one scale per stage shared with other images" if self.stage_ranges is not None \
            else f"normalize {o['normalize']}"
        shrink = f"every map at one scale, 1:{self.zoom.shrink}" if self.zoom.shrink > 1 else \
            f"every map at one scale, {self.zoom.pixels:g} pixel{'s' if self.zoom.pixels != 1 else ''} per cell"
        sub = f"cmap {o['cmap']} · {scale}" + (" · 0 at the centre" if centred else "") \
            + f" · the {self.overview_maps} strongest maps of each stage, numbered by channel · {shrink}"
        if self.config.description:
            sub = f"{self.config.description} · {sub}"
        bar = None
        if o["normalize"] == "global" and self.global_range is not None and o["colorbar"] and not self.color_ranges:
            bar = next((r.scale for r in self.rows[1:] if r.scale is not None and r.scale.shared), None)
        rows = list(self.rows)
        if self.overlay_tiles and self.image_shape is not None:  # render.overlay: a row placed on the input
            h, w = self.image_shape[:2]
            rows.append(OverviewRow("overlays", "on the input", "each stage's strongest map",
                                    [input_rgb(self.zoom.cells(t.astype(np.float64) / 255.0))
                                     for _, _, t in self.overlay_tiles],
                                    [c for _, c, _ in self.overlay_tiles], self.zoom.size(h, w),
                                    tile_labels=[f"{n} · {c}" for n, c, _ in self.overlay_tiles]))
        d = render_overview(rows, title=title, subtitle=sub, dpi=self.dpi, colorbar=bar, max_size=self.max_size)
        self.other_files.append(self.picture("overview", d, "overview"))

    def finish(self) -> list[Path]:
        """Close ``activations.npz``, write the overview and the manifest, remove stale files; every file written."""
        if self._zip is not None:
            self._zip = None
            self._stack.close()
            self.other_files.append("activations.npz")
            self.written.append(self.out / "activations.npz")
        if self.opts["overview"] and self.rows:
            self.overview(self.config_path)
        self._writes.wait()  # every picture is on disk before the manifest lists it
        manifest_path = self.out / "manifest.json"
        stale = previous_files(manifest_path)
        source = resolve_image(self.image_name) if self.image_name is not None else None
        manifest = build_manifest(self.config, self.layers, self.stage_files, input_files=self.input_files,
                                  other_files=self.other_files, image=source, image_shape=self.image_shape,
                                  config_path=self.config_path, stats=self.stats)
        for st in manifest["stages"]:
            if st["index"] in self.color_ranges:
                st["color_range"] = jsonable(list(self.color_ranges[st["index"]]))
        with atomic_write(manifest_path, "w", encoding="utf-8") as f:
            f.write(manifest_json(manifest))
        self.written.append(manifest_path)
        for name in sorted(stale - set(manifest["files"])):
            p = self.out / name
            try:
                if p.is_file() or p.is_symlink():
                    p.unlink()
            except OSError:
                pass
        return self.written


def render(
    config: Config | Any,
    layers: Iterable[Layer],
    outdir: str | os.PathLike[str],
    *,
    image: np.ndarray | None = None,
    image_name: str | None = None,
    save_arrays: bool = False,
    config_path: str | os.PathLike[str] | None = None,
    stage_ranges: Mapping[int, Sequence[float]] | None = None,
    stream: bool = False,
    global_range: tuple[float, float] | None = None,
) -> list[Path]:
    """Write a run's pictures, manifest and arrays (SPEC §3).

    Parameters
    ----------
    config : Config, dict, path or YAML text
        Its ``render`` section decides cmap, normalisation, centring,
        ``max_maps``, columns, scale, dpi, labels, colorbar, and whether the
        overview and the filter pictures are drawn.
    layers : iterable of Layer
        From :func:`cnnviz.run` (or, with ``stream``, from
        :func:`cnnviz.pipeline.iter_run`).
    outdir : path
        Created if missing.  Files are written atomically; the files that the
        previous ``manifest.json`` there listed and this run does not write
        again are removed (nothing else is touched).
    image : ndarray (H, W) or (H, W, C), optional
        The input as the stack saw it: ``00_input.png`` and the overview's
        first row.
    image_name : str, optional
        The image's sample name or path, for the manifest and the PNG metadata.
    save_arrays : bool
        Also write ``activations.npz``: one (H, W, C) array per stage, keyed
        ``NN_<stage-name>``.
    config_path : path, optional
        Recorded in the manifest (default: the config's source file).
    stage_ranges : mapping of stage index to (lo, hi), optional
        A fixed colour range for those stages' grids instead of
        ``render.normalize`` (``cnnviz batch --shared-scale`` passes the range
        over all the images of a config, so that they can be compared):
        centred on zero like any other scale when the colormap is diverging
        (or ``render.center: zero``), drawn with a colorbar, and recorded in
        the manifest as the stage's ``color_range``.  Vector stages (bar
        charts) ignore it.
    stream : bool
        ``layers`` is a generator whose layers are drawn and dropped one at a
        time.  With ``normalize: global`` pass ``global_range``.
    global_range : (lo, hi), optional
        The run's range for ``normalize: global`` (default: computed from
        ``layers`` when they are not streamed).

    Returns
    -------
    list of Path
        Every file written, ``manifest.json`` last.
    """
    config = load_config(config)
    if not stream:
        layers = list(layers)
        if global_range is None and config.render["normalize"] == "global":
            global_range = run_range(layers)
    with Writer(config, outdir, image_name=image_name, config_path=config_path, save_arrays=save_arrays,
                stage_ranges=stage_ranges, global_range=global_range) as w:
        if image is not None:
            w.input(image)
        for layer in layers:
            w.add(layer)
        return w.finish()
