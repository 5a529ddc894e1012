"""A run's pictures drawn in memory, exactly as ``cnnviz run`` draws them, and encoded as PNG bytes.

:class:`MemoryWriter` is the :class:`~cnnviz.rendering.writer.Writer` that
``cnnviz run`` uses, keeping each drawing instead of writing it (and
drawing neither filters nor overlays, which a notebook does not show), so a
grid shown here is the grid ``cnnviz run`` writes, pixel for pixel.  A
projection has no file of its own: :func:`projection_picture` blends its
one map over the input with the overlays' rule
(:func:`~cnnviz.rendering.overlay.blend`).
"""

from __future__ import annotations

import base64
import html
import io
import math
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..config import Config
from ..formatting import short_number, times
from ..pipeline.geometry import Projection
from ..pipeline.run import Layer, RunSource
from ..rendering.canvas import INK_COLOUR, SOFT_COLOUR, Drawing, Raster, Rect, rasterize, text_size
from ..rendering.grid import colorbar_items, text_unit, wrap
from ..rendering.overlay import ALPHA, background_rgb, blend
from ..rendering.palette import LEVELS, colormap_colors, grid_palette
from ..rendering.scale import area_average, finite_range, run_range, stage_scale
from ..rendering.writer import Writer

__all__ = ["MemoryWriter", "draw_run", "run_html", "layer_picture", "projection_picture", "png_bytes", "img_tag",
           "PROJECTION_SIZE"]

#: A projection's picture is shrunk (area-averaged) until its input fits in this many pixels a side.
PROJECTION_SIZE = 1024


class MemoryWriter(Writer):
    """A :class:`~cnnviz.rendering.writer.Writer` that keeps its drawings (``drawings``, ``order``) and writes nothing.

    The writer wants a folder: it gets an empty temporary one, removed before
    anything is drawn.  Filters and overlays are not drawn (a notebook shows
    the overview and the grids); nothing else in the config changes.
    """

    def __init__(self, config: Config, *, image_name: str | None = None,
                 global_range: tuple[float, float] | None = None) -> None:
        with tempfile.TemporaryDirectory(prefix="cnnviz-notebook-") as tmp:
            super().__init__(config, tmp, image_name=image_name, global_range=global_range)
        #: The stems of the pictures drawn, in order (``00_input``, ``01_edges``, ..., ``overview``).
        self.order: list[str] = []

    @property
    def opts(self) -> Mapping[str, Any]:
        return {**self.config.render, "filters": False, "overlay": False}

    def picture(self, stem: str, drawing: Drawing, stage: str) -> str:
        self.drawings[stem] = drawing
        self.order.append(stem)
        return f"{stem}.png"


def draw_run(layers: Sequence[Layer], source: RunSource, *, until: Layer | None = None) -> MemoryWriter:
    """Draw the input and ``layers`` in order, then the overview; with ``until``, stop after that layer.

    ``normalize: global`` takes its range from every one of ``layers``, as ``cnnviz run`` does.
    """
    config = source.config
    global_range = run_range(layers) if config.render["normalize"] == "global" else None
    w = MemoryWriter(config, image_name=source.image_name, global_range=global_range)
    w.input(source.image)
    for layer in layers:
        w.add(layer)
        if layer is until:
            return w
    if config.render["overview"] and w.rows:
        w.overview(w.config_path)
    return w


def png_bytes(d: Drawing) -> bytes:
    """The drawing as PNG bytes: the pixels :func:`~cnnviz.rendering.canvas.rasterize` gives (palette or RGB)."""
    from PIL import Image

    pixels, palette = rasterize(d)
    im = Image.fromarray(np.ascontiguousarray(pixels))
    if palette is not None:
        im.putpalette(np.asarray(palette, np.uint8).reshape(-1, 3).tobytes(), rawmode="RGB")
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=6, dpi=(d.dpi, d.dpi))
    return buf.getvalue()


def img_tag(d: Drawing) -> str:
    """An ``<img>`` holding the drawing as a ``data:image/png`` URI, shown at its size at 100 dpi."""
    data = base64.b64encode(png_bytes(d)).decode("ascii")
    width = max(1, round(d.width * 100 / d.dpi))
    alt = html.escape(d.title or "cnnviz picture", quote=True)
    return f'<img src="data:image/png;base64,{data}" alt="{alt}" title="{alt}" width="{width}" ' \
           f'style="display:block;max-width:100%;height:auto;margin:0 0 12px 0">'


def run_html(layers: Sequence[Layer]) -> str | None:
    """The overview (or, without one, the input) and every stage's picture, as ``<img>`` tags; None without a run."""
    source = getattr(layers, "source", None)
    if not isinstance(source, RunSource):
        return None
    w = draw_run(layers, source)
    stems = [s for s in w.order if not (s.endswith("_input") and "overview" in w.drawings)]
    if "overview" in stems:
        stems.insert(0, stems.pop(stems.index("overview")))
    return '<div class="cnnviz-run">' + "".join(img_tag(w.drawings[s]) for s in stems) + "</div>"


def layer_picture(layer: Layer) -> Drawing | None:
    """The layer's grid (or bar chart) as its run draws it; None for a layer that does not know its run.

    While the run's list is alive, the stages before it are drawn too (what a
    grid says about a stage depends on its inputs: the magnitude "equal" is
    measured against, the channel names it inherits), so the picture is the
    run's; otherwise the layer is drawn on its own, after the run's input.
    """
    source = getattr(layer, "source", None)
    if not isinstance(source, RunSource):
        return None
    run = source.layers()
    w = draw_run(run if run is not None and any(la is layer for la in run) else [layer], source, until=layer)
    return w.drawings[w.order[-1]]


def projection_picture(p: Projection, *, max_side: int = PROJECTION_SIZE) -> Drawing | None:
    """The projection's map blended over its input, with a colorbar; None when it has no input.

    One map on its own range: ``inferno`` when its values have one sign,
    ``RdBu_r`` centred on 0 (near-zero cells leave the input visible) when
    they have both.  Each cell paints its jump × jump block; pixels no cell
    reaches show the input faded (the overlays' rule).
    """
    if p.image is None:
        return None
    m = np.asarray(p.map, np.float64)[:, :, None]
    lo, hi = (float(v) for v in finite_range(m))
    centred = lo < 0.0 < hi
    cmap = "RdBu_r" if centred else "inferno"
    scale = stage_scale(m, "layer", center=centred)
    colors = colormap_colors(cmap, LEVELS)
    tile = blend(background_rgb(p.image), scale.indices(m)[:, :, 0], p.start, p.jump, colors,
                 centre=LEVELS // 2 if scale.centred else None)
    h, w = tile.shape[:2]
    shrink = max(1, math.ceil(max(h, w) / max_side))
    if shrink > 1:
        tile = np.round(area_average(tile.astype(np.float64), shrink)).astype(np.uint8)
    zoom = max(1, min(48, 360 // max(tile.shape[:2])))
    th, tw = tile.shape[0] * zoom, tile.shape[1] * zoom
    unit = text_unit(tw, 1.0)
    margin, tsize, ssize = round(unit * 1.3), round(unit * 1.3), round(unit * 0.95)
    cb = round(unit * 1.6) + unit + round(unit * 0.85 * 7)
    title = f"{p.stage} · map {p.channel} on the input"
    parts = [f"map {times(*p.map.shape)}, values {short_number(lo)} … {short_number(hi)}",
             f"each cell on its {times(*p.jump)}-pixel block, receptive field {times(*p.receptive_field)}",
             f"{cmap} · the map's own range" + (" · 0 at the centre" if centred else ""),
             (f"blended over the input (grey), up to {round(ALPHA * 100)} % as √|value| grows" if centred
              else f"blended {round(ALPHA * 100)} % over the input (grey)") + "; faded: no cell"]
    if shrink > 1:
        parts.append(f"shown at 1:{shrink}")
    lines = wrap(parts, ssize, max(tw + cb, unit * 30))
    lh = text_size("Ag", ssize)[1]
    top = margin + text_size("Ag", tsize, True)[1] + round(unit * 0.3) + len(lines) * lh + round(unit * 0.6)
    width = max(2 * margin + tw + cb, 2 * margin + text_size(title, tsize, True)[0],
                2 * margin + max((text_size(s, ssize)[0] for s in lines), default=0))
    d = Drawing(width, top + th + margin, 100, title=title)
    d.text(margin, margin, title, tsize, INK_COLOUR, bold=True)
    y = margin + text_size("Ag", tsize, True)[1] + round(unit * 0.3)
    for line in lines:
        d.text(margin, y, line, ssize, SOFT_COLOUR)
        y += lh
    d.add(Raster(margin, top, tw, th, tile, None, f"overlay {p.channel}"))
    d.add(Rect(margin - 1, top - 1, margin + tw + 1, top + th + 1, outline=(0xC8, 0xC8, 0xC8)))
    cb_x = margin + tw + round(unit * 1.6)
    colorbar_items(d, (top, cb_x, top + th, cb_x + unit), scale, grid_palette(cmap), unit, 1.0)
    return d
