"""The vector backends of a :class:`~cnnviz.rendering.canvas.Drawing`: SVG (written here) and PDF (matplotlib).

``render.format: svg | pdf`` (SPEC §3) writes every picture as a vector file
that shows what the PNG shows:

- text stays text: an SVG ``<text>``, or PDF text in DejaVu Sans embedded
  as a TrueType font (``pdf.fonttype`` 42), at the PNG's positions.  A
  Pillow anchor's horizontal part becomes ``text-anchor`` (SVG; the PDF is
  placed from Pillow's own advance width); its vertical part becomes the
  baseline, computed from the same font as the PNG's text and written with
  ``dominant-baseline="alphabetic"``: viewers disagree about where
  ``text-before-edge`` or ``central`` lie (Illustrator and older librsvg
  ignore them), but never about the baseline;
- maps are embedded images at their data's own resolution (a 12×12 map in a
  96×96 box is a 12×12 PNG, or a 12×12 PDF image), drawn nearest-neighbour:
  ``image-rendering: pixelated`` in SVG, no ``/Interpolate`` in the PDF;
- rectangles and lines are ``<rect>`` and ``<line>`` (PDF paths), on the
  PNG's pixel grid: an outline lies inside its rectangle, a line of width
  *t* covers the *t* pixels the PNG gives it;
- the metadata every PNG carries in text chunks (the resolved config, the
  image name, the version) is in the SVG's ``<metadata>`` and the PDF's
  document information dictionary, laid out as :mod:`cnnviz.io.vectormeta`
  describes and reads back for ``cnnviz inspect``.

Coordinates are the drawing's device pixels: the SVG's ``width``/``height``
(in ``px``) and ``viewBox`` are the PNG's size; the PDF page is
``width / dpi`` × ``height / dpi`` inches, so a 100-dpi picture prints at the
size matplotlib would give it.  matplotlib is imported only for a PDF.
"""

from __future__ import annotations

import base64
import io
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..io.pngio import TEXT_PREFIX, atomic_write
from ..io.vectormeta import PDF_KEYS, SVG_NAMESPACE
from .canvas import Drawing, Line, Raster, Rect, Text
from .text import font, font_file

__all__ = ["FONT_FAMILY", "to_svg", "to_pdf", "write_vector", "raster_png", "baseline_offset"]

#: The font of every text (the PNG's font; viewers without it use their sans-serif).
FONT_FAMILY = "DejaVu Sans, sans-serif"

_TEXT_ANCHOR = {"l": "start", "m": "middle", "r": "end"}
#: Characters XML 1.0 cannot hold, not even as a character reference.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# ---------------------------------------------------------------------------
# Where text goes: Pillow's anchors, as baseline offsets.


@lru_cache(maxsize=8192)
def _offsets(text: str, size: int, bold: bool, anchor: str) -> tuple[int, int]:
    """(how far left of the anchor point the text starts, how far below it the baseline lies), as Pillow places it.

    Measured on the PNG's own font, for this text (Pillow rounds per text): the PDF starts its text at the
    first, both backends put their baseline at the second.
    """
    f = font(size, bold)
    v = anchor[1:2] or "a"
    h = anchor[:1] or "l"
    at = f.getbbox(text, anchor="l" + v)
    on_baseline = f.getbbox(text, anchor="ls")
    shifted = f.getbbox(text, anchor=h + "s")
    return shifted[0] - on_baseline[0], at[1] - on_baseline[1]


def baseline_offset(t: Text) -> int:
    """How far below ``t.y`` the PNG puts the baseline of ``t`` (0 for anchor ``?s``)."""
    return _offsets(t.text, t.size, t.bold, t.anchor)[1]


def _hex(c: tuple[int, int, int]) -> str:
    r, g, b = (int(v) for v in c)
    return f"#{r:02x}{g:02x}{b:02x}"


# ---------------------------------------------------------------------------
# Maps: a PNG at the data's own resolution.


def raster_png(r: Raster) -> bytes:
    """The raster's data as a PNG, one pixel per value (an 8-bit palette PNG for index data)."""
    from PIL import Image

    data = np.ascontiguousarray(r.data)
    if data.ndim == 2:
        if r.palette is None:
            raise ValueError(f"raster {r.name!r}: index data without a palette")
        im = Image.fromarray(data.astype(np.uint8, copy=False), "L")
        pal = np.asarray(r.palette, np.uint8).reshape(-1, 3)
        used = int(data.max()) + 1 if data.size else 1
        im.putpalette(pal[:max(used, 1)].tobytes(), rawmode="RGB")
    else:
        im = Image.fromarray(data[:, :, :3].astype(np.uint8, copy=False), "RGB")
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


# ---------------------------------------------------------------------------
# SVG.


def _xml(text: str, attribute: bool = False) -> str:
    """``text`` escaped for XML content (or a double-quoted attribute), carriage returns kept as ``&#13;``."""
    text = _NOT_XML.sub("\ufffd", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    if attribute:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    return text


def _num(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))


def _metadata_elements(metadata: Mapping[str, str]) -> list[str]:
    """One ``<cnnviz:KEY>`` per key: the ``cnnviz.`` keys first, then the PNG keywords (Title, Software)."""
    ordered = [(k[len(TEXT_PREFIX):], v) for k, v in metadata.items() if k.startswith(TEXT_PREFIX)]
    ordered += [(k.lower(), v) for k, v in metadata.items() if not k.startswith(TEXT_PREFIX)]
    out = []
    for key, value in ordered:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key):
            continue  # not an XML name: never one of cnnviz's keys
        value = str(value)
        if _NOT_XML.search(value):
            enc = base64.b64encode(value.encode("utf-8", "surrogatepass")).decode("ascii")
            out.append(f'<cnnviz:{key} encoding="base64">{enc}</cnnviz:{key}>')
        else:
            out.append(f"<cnnviz:{key}>{_xml(value)}</cnnviz:{key}>")
    return out


def _svg_text(t: Text) -> str:
    _, dy = _offsets(t.text, t.size, t.bold, t.anchor)
    x, y = round(t.x), round(t.y) + dy
    attrs = f'x="{x}" y="{y}" font-size="{t.size}"'
    if "  " in t.text or t.text != t.text.strip(" "):
        attrs += ' xml:space="preserve"'  # keep the spaces as written (on the element: Chromium looks nowhere else)
    if t.bold:
        attrs += ' font-weight="bold"'
    anchor = _TEXT_ANCHOR.get(t.anchor[:1] or "l", "start")
    if anchor != "start":
        attrs += f' text-anchor="{anchor}"'
    return f'<text {attrs} fill="{_hex(t.color)}">{_xml(t.text)}</text>'


def _svg_rect(r: Rect) -> list[str]:
    w, h = r.x1 - r.x0, r.y1 - r.y0
    if w <= 0 or h <= 0:
        return []
    out = []
    if r.fill is not None:
        out.append(f'<rect x="{r.x0}" y="{r.y0}" width="{w}" height="{h}" fill="{_hex(r.fill)}"/>')
    if r.outline is not None and r.width > 0:
        t = r.width
        if 2 * t >= w or 2 * t >= h:  # the outline fills it
            out.append(f'<rect x="{r.x0}" y="{r.y0}" width="{w}" height="{h}" fill="{_hex(r.outline)}"/>')
        else:  # a stroke centred t/2 inside the edge covers exactly the PNG's t pixels
            out.append(f'<rect x="{_num(r.x0 + t / 2)}" y="{_num(r.y0 + t / 2)}" width="{w - t}" height="{h - t}" '
                       f'fill="none" stroke="{_hex(r.outline)}" stroke-width="{t}"/>')
    return out


def _line_box(ln: Line) -> tuple[int, int, int, int, str]:
    """The PNG's pixels of a line, (x0, y0, x1, y1) exclusive, and its orientation (``v``, ``h`` or ``box``)."""
    t = ln.width
    xa, xb = sorted((ln.x0, ln.x1))
    ya, yb = sorted((ln.y0, ln.y1))
    x0, x1 = (xa - t // 2, xa + t - t // 2) if xa == xb else (xa, xb + 1)
    y0, y1 = (ya - t // 2, ya + t - t // 2) if ya == yb else (ya, yb + 1)
    kind = "box" if (xa == xb) == (ya == yb) else "v" if xa == xb else "h"  # a point or a slant: its box
    return x0, y0, x1, y1, kind


def _svg_line(ln: Line) -> str:
    x0, y0, x1, y1, kind = _line_box(ln)
    c = _hex(ln.color)
    if kind == "v":
        cx = _num((x0 + x1) / 2)
        return f'<line x1="{cx}" y1="{y0}" x2="{cx}" y2="{y1}" stroke="{c}" stroke-width="{x1 - x0}"/>'
    if kind == "h":
        cy = _num((y0 + y1) / 2)
        return f'<line x1="{x0}" y1="{cy}" x2="{x1}" y2="{cy}" stroke="{c}" stroke-width="{y1 - y0}"/>'
    return f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" fill="{c}"/>'


def _svg_image(r: Raster) -> str:
    href = "data:image/png;base64," + base64.b64encode(raster_png(r)).decode("ascii")
    label = f'aria-label="{_xml(r.name, True)}" ' if r.name else ""
    return (f'<image x="{r.x}" y="{r.y}" width="{r.w}" height="{r.h}" preserveAspectRatio="none" '
            f'image-rendering="optimizeSpeed" style="image-rendering:crisp-edges;image-rendering:pixelated" '
            f'{label} xlink:href="{href}"/>')


def to_svg(drawing: Drawing, metadata: Mapping[str, str] | None = None) -> str:
    """``drawing`` as an SVG document (text), with ``metadata`` (the PNG text chunks) in ``<metadata>``.

    Parameters
    ----------
    drawing : Drawing
        Sizes and positions in device pixels (the PNG's).
    metadata : mapping of str to str, optional
        :func:`~cnnviz.rendering.manifest.png_text`'s keys (``Software``,
        ``Title``, ``cnnviz.version``, ``cnnviz.config``, ...).

    Returns
    -------
    str
        UTF-8 SVG 1.1 (images by ``xlink:href``, which every viewer reads), plus CSS's
        ``image-rendering: pixelated`` for today's browsers.
    """
    metadata = dict(metadata or {})
    W, H = int(drawing.width), int(drawing.height)
    title = drawing.title or str(metadata.get("Title", ""))
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" '
           f'width="{W}px" height="{H}px" viewBox="0 0 {W} {H}">']
    if title:
        out.append(f"<title>{_xml(title)}</title>")
    if metadata:
        out.append(f'<metadata><cnnviz:metadata xmlns:cnnviz="{SVG_NAMESPACE}">')
        out += _metadata_elements(metadata)
        out.append("</cnnviz:metadata></metadata>")
    out.append(f'<rect width="{W}" height="{H}" fill="#ffffff"/>')
    out.append(f'<g font-family="{FONT_FAMILY}" dominant-baseline="alphabetic" stroke-linecap="butt">')
    for item in drawing.items:
        if isinstance(item, Text):
            out.append(_svg_text(item))
        elif isinstance(item, Raster):
            if item.w > 0 and item.h > 0 and item.data.size:
                out.append(_svg_image(item))
        elif isinstance(item, Rect):
            out += _svg_rect(item)
        elif isinstance(item, Line):
            out.append(_svg_line(item))
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# PDF (matplotlib's PDF backend, without pyplot).


def _pdf_info(metadata: Mapping[str, str]) -> dict[str, Any]:
    """The document information dictionary: ``/cnnviz.*`` keys, ``/Title``, ``/Creator`` (= Software)."""
    info: dict[str, Any] = {"CreationDate": None}  # no date: the same picture is the same bytes
    for key, value in metadata.items():
        info[PDF_KEYS.get(key, key)] = str(value)
    return info


def _pdf_font(bold: bool) -> Any:
    """The PNG's own font file (DejaVu Sans from matplotlib's data), by path: no font lookup, no substitute."""
    from matplotlib.font_manager import FontProperties

    path = font_file(bold)
    if path is None:  # pragma: no cover - matplotlib without its fonts
        return FontProperties(family="DejaVu Sans", weight="bold" if bold else "normal")
    return FontProperties(fname=path)


def to_pdf(drawing: Drawing, metadata: Mapping[str, str] | None = None, out: Any = None) -> bytes:
    """``drawing`` as a PDF (its bytes, or written to the binary file ``out``), ``metadata`` in its info dictionary."""
    import warnings

    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    metadata = dict(metadata or {})
    W, H, dpi = int(drawing.width), int(drawing.height), int(drawing.dpi) or 100
    pt = 72.0 / dpi  # points per device pixel
    with matplotlib.rc_context({"pdf.fonttype": 42, "image.composite_image": False, "path.snap": False}):
        fig = Figure(figsize=(W / dpi, H / dpi), dpi=dpi, facecolor="white")
        fig.suppressComposite = True  # each map its own image, never one resampled composite
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ax.set_xlim(0, W)
        ax.set_ylim(H, 0)  # device pixels, y down, as in the drawing
        for z, item in enumerate(drawing.items):
            if isinstance(item, Text):
                dx, dy = _offsets(item.text, item.size, item.bold, item.anchor)
                ax.text(round(item.x) + dx, round(item.y) + dy, item.text, fontproperties=_pdf_font(item.bold),
                        fontsize=item.size * pt, color=_hex(item.color), ha="left", va="baseline",
                        parse_math=False, zorder=z, clip_on=False)
            elif isinstance(item, Raster):
                if item.w <= 0 or item.h <= 0 or not item.data.size:
                    continue
                rgb = np.asarray(item.palette, np.uint8)[item.data] if item.data.ndim == 2 else \
                    np.asarray(item.data[:, :, :3], np.uint8)
                # matplotlib stores an image bottom row first, drawn through a flipping matrix; handed the
                # rows reversed, in a box given upside down, it stores them top row first (as a PDF image
                # reads, and as pdfimages extracts it) and draws them the right way up, unflipped
                ax.imshow(rgb[::-1], interpolation="none", aspect="auto", origin="upper", resample=False,
                          extent=(item.x, item.x + item.w, item.y, item.y + item.h), zorder=z)
            elif isinstance(item, Rect):
                w, h = item.x1 - item.x0, item.y1 - item.y0
                if w <= 0 or h <= 0:
                    continue
                if item.fill is not None:
                    ax.add_patch(Rectangle((item.x0, item.y0), w, h, facecolor=_hex(item.fill), edgecolor="none",
                                           linewidth=0, zorder=z))
                if item.outline is not None and item.width > 0:
                    t = item.width
                    if 2 * t >= w or 2 * t >= h:
                        ax.add_patch(Rectangle((item.x0, item.y0), w, h, facecolor=_hex(item.outline),
                                               edgecolor="none", linewidth=0, zorder=z))
                    else:
                        ax.add_patch(Rectangle((item.x0 + t / 2, item.y0 + t / 2), w - t, h - t, fill=False,
                                               edgecolor=_hex(item.outline), linewidth=t * pt, joinstyle="miter",
                                               zorder=z))
            elif isinstance(item, Line):
                x0, y0, x1, y1, kind = _line_box(item)
                c = _hex(item.color)
                if kind == "v":
                    ax.add_line(Line2D([(x0 + x1) / 2] * 2, [y0, y1], linewidth=(x1 - x0) * pt, color=c,
                                       solid_capstyle="butt", zorder=z))
                elif kind == "h":
                    ax.add_line(Line2D([x0, x1], [(y0 + y1) / 2] * 2, linewidth=(y1 - y0) * pt, color=c,
                                       solid_capstyle="butt", zorder=z))
                else:
                    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor=c, edgecolor="none", linewidth=0,
                                           zorder=z))
        target = out if out is not None else io.BytesIO()
        with warnings.catch_warnings():
            # the cnnviz.* keys are custom entries of the info dictionary, which matplotlib warns about
            warnings.filterwarnings("ignore", message="Unknown infodict keyword")
            fig.savefig(target, format="pdf", dpi=dpi, metadata=_pdf_info(metadata))
    return target.getvalue() if out is None else b""


# ---------------------------------------------------------------------------


def write_vector(path: str | os.PathLike[str], drawing: Drawing, fmt: str,
                 metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``drawing`` to ``path`` as ``fmt`` (``svg`` or ``pdf``), atomically, with ``metadata``."""
    if fmt == "svg":
        data = to_svg(drawing, metadata).encode("utf-8")
        with atomic_write(path, "wb") as f:
            f.write(data)
    elif fmt == "pdf":
        with atomic_write(path, "wb") as f:
            to_pdf(drawing, metadata, out=f)
    else:
        raise ValueError(f"not a vector format: {fmt!r} (svg or pdf)")
    return Path(path)
