"""Thumbnails and the ``index.html`` contact sheet of a ``cnnviz batch`` folder.

Layout of a batch folder ``OUT``::

    OUT/index.html                      the contact sheet (this module)
    OUT/<config>/<image>/               what ``cnnviz run`` writes (SPEC §3)
    OUT/<config>/<image>/thumbs/*.png   small copies of the input and stage pictures
    OUT/<config>/<image>/.cnnviz-batch.json
                                        the batch stamp: written last, after a
                                        render and its thumbnails succeeded
    OUT/.cnnviz-batch-failures.json     the items whose last attempt failed,
                                        with their error lines

:func:`write_index` covers every output folder of ``OUT`` that has a stamp
(so every output a batch ever produced there), and every item whose last
attempt failed (shown with its error, in place of an older output).  The page is plain HTML and CSS with relative links: no
JavaScript, no network fetches; it works when opened from ``file://``.

With few images (at most :data:`GRID_MAX_IMAGES`) the page is one table, a
row per config and a column per image, each cell showing a thumbnail of the
input and of every stage.  With more images, each config gets its own table,
a row per image and a column per stage, so that the same stage lines up
down a column.
"""

from __future__ import annotations

import html
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ...io.pngio import atomic_write
from ...version import __version__

__all__ = [
    "STAMP",
    "FAILURES",
    "THUMBS",
    "THUMB_SIZE",
    "GRID_MAX_IMAGES",
    "LAZY_OVER",
    "make_thumbnails",
    "read_stamp",
    "write_stamp",
    "Cell",
    "collect_cells",
    "index_html",
    "write_index",
]

#: The batch stamp in each output folder.
STAMP = ".cnnviz-batch.json"
#: The failed items of a batch folder: {"<config>/<image>": {"config", "image", "error"}}.
FAILURES = ".cnnviz-batch-failures.json"
#: Thumbnail folder inside each output folder.
THUMBS = "thumbs"
#: A thumbnail's longer side, in pixels.
THUMB_SIZE = 160
#: Up to this many images the page is one configs × images table.
GRID_MAX_IMAGES = 6
#: With more thumbnails than this the page asks the browser to load them lazily.
LAZY_OVER = 400


# ---------------------------------------------------------------------------
# Thumbnails and stamps (written by the workers).


def _pictures(manifest: Mapping[str, Any]) -> list[str]:
    """The input and stage grid pictures of a manifest, in order (the ones that get thumbnails)."""
    names: list[str] = []
    names += [f for f in (manifest.get("input") or {}).get("files") or [] if f.endswith(".png")]
    for st in manifest.get("stages") or []:
        files = [f for f in st.get("files") or [] if f.endswith(".png") and not f.startswith("filters_")]
        names += files[:1]
    return [n for n in names if "/" not in n and "\\" not in n]


def make_thumbnails(outdir: str | os.PathLike[str], size: int = THUMB_SIZE) -> dict[str, list[int]]:
    """Write ``thumbs/<name>`` for the input and every stage picture listed in ``outdir/manifest.json``.

    Each thumbnail fits in ``size`` × ``size`` pixels (never enlarged) and is
    written atomically; thumbnails of pictures no longer listed are removed.

    Returns
    -------
    dict
        Picture name -> ``[width, height]`` of its thumbnail.
    """
    from PIL import Image

    out = Path(outdir)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    folder = out / THUMBS
    folder.mkdir(exist_ok=True)
    sizes: dict[str, list[int]] = {}
    for name in _pictures(manifest):
        with Image.open(out / name) as src:
            im = src.convert("RGB")  # palette grids: resample colours, not indices
        im.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
        with atomic_write(folder / name, "wb") as f:
            im.save(f, format="PNG", compress_level=1)
        sizes[name] = [im.width, im.height]
    for old in folder.glob("*.png"):
        if old.name not in sizes:
            old.unlink(missing_ok=True)
    return sizes


def write_stamp(outdir: str | os.PathLike[str], stamp: Mapping[str, Any]) -> Path:
    """Write the batch stamp of an output folder, atomically."""
    path = Path(outdir) / STAMP
    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(stamp, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return path


def read_stamp(outdir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The batch stamp of an output folder, or None when it has none (or an unreadable one)."""
    try:
        data = json.loads((Path(outdir) / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------------------
# What the page shows.


@dataclass
class Picture:
    """One thumbnail: the full picture, its thumbnail and caption (paths relative to OUT)."""

    href: str
    thumb: str | None
    size: tuple[int, int] | None
    heading: str
    detail: str
    extra: list[tuple[str, str]] = field(default_factory=list)  # (label, href)
    tooltip: str = ""


@dataclass
class Cell:
    """One config × image: its pictures, or the error that stopped it."""

    config: str
    image: str
    pictures: list[Picture] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    config_source: str = ""
    image_source: str = ""


def _rel(*parts: str) -> str:
    return "/".join(parts)


def _shape(shape: Any) -> str:
    try:
        return "×".join(str(int(x)) for x in shape)
    except (TypeError, ValueError):
        return ""


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, (int, float)) else "?"


def _cell_from_folder(out: Path, config: str, image: str, stamp: Mapping[str, Any]) -> Cell:
    folder = out / config / image
    cell = Cell(config, image, config_source=str((stamp.get("config") or {}).get("display") or ""),
                image_source=str((stamp.get("image") or {}).get("display") or ""))
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        cell.error = f"cannot read {config}/{image}/manifest.json: {exc}"
        return cell
    thumbs: Mapping[str, Any] = stamp.get("thumbs") or {}

    def picture(name: str, heading: str, detail: str, tooltip: str = "") -> Picture:
        size = thumbs.get(name)
        has = size is not None and (folder / THUMBS / name).is_file()
        return Picture(
            href=_rel(config, image, name),
            thumb=_rel(config, image, THUMBS, name) if has else None,
            size=(int(size[0]), int(size[1])) if has and isinstance(size, list) and len(size) == 2 else None,
            heading=heading, detail=detail, tooltip=tooltip,
        )

    shape = (manifest.get("image") or {}).get("shape")
    for name in (manifest.get("input") or {}).get("files") or []:
        if name.endswith(".png"):
            cell.pictures.append(picture(name, "input", _shape(shape)))
    for st in manifest.get("stages") or []:
        files = [f for f in st.get("files") or [] if isinstance(f, str)]
        grids = [f for f in files if f.endswith(".png") and not f.startswith("filters_")]
        if not grids:
            continue
        idx = st.get("index")
        heading = f"{idx:02d} {st.get('name')}" if isinstance(idx, int) else str(st.get("name"))
        tip = f"{st.get('type')} · {_shape(st.get('output_shape'))} · min {_fmt(st.get('min'))} · " \
              f"max {_fmt(st.get('max'))}"
        if "color_range" in st:
            tip += f" · colour scale {_fmt(st['color_range'][0])} … {_fmt(st['color_range'][1])}"
        pic = picture(grids[0], heading, f"{st.get('type')} · {_shape(st.get('output_shape'))}", tip)
        pic.extra = [("filters", _rel(config, image, f)) for f in files if f.startswith("filters_")]
        cell.pictures.append(pic)
    for name, label in (("overview.png", "overview"), ("activations.npz", "arrays")):
        if name in (manifest.get("files") or []):
            cell.links.append((label, _rel(config, image, name)))
    cell.links.append(("manifest", _rel(config, image, "manifest.json")))
    return cell


def collect_cells(outdir: str | os.PathLike[str]) -> dict[tuple[str, str], Cell]:
    """Every output folder ``OUT/<config>/<image>/`` with a batch stamp, as cells."""
    out = Path(outdir)
    cells: dict[tuple[str, str], Cell] = {}
    if not out.is_dir():
        return cells
    for stamp_path in sorted(out.glob(f"*/*/{STAMP}")):
        folder = stamp_path.parent
        stamp = read_stamp(folder)
        if stamp is None:
            continue
        config, image = folder.parent.name, folder.name
        cells[(config, image)] = _cell_from_folder(out, config, image, stamp)
    return cells


# ---------------------------------------------------------------------------
# The page.

_CSS = """
:root { --ink: #1f1f1f; --soft: #5f5f5f; --line: #d8d8d8; --bad: #b3261e; --bg: #fafafa; }
* { box-sizing: border-box; }
body { margin: 1.5rem; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); background: #fff; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; }
p.meta { color: var(--soft); margin: 0 0 1rem; }
nav { margin: 0 0 1rem; color: var(--soft); }
nav a { margin-right: .75rem; }
a { color: #1a5fb4; }
ul.errors { color: var(--bad); padding-left: 1.2rem; }
table.sheet { border-collapse: collapse; }
table.sheet th, table.sheet td { border: 1px solid var(--line); padding: .5rem; vertical-align: top; text-align: left; }
table.sheet thead th { background: var(--bg); position: sticky; top: 0; z-index: 1; }
table.sheet tbody th { background: var(--bg); min-width: 8rem; }
th .source, td .source { display: block; font-weight: normal; color: var(--soft); font-size: .8rem;
                         word-break: break-all; }
.stages { display: flex; flex-wrap: wrap; gap: .5rem; max-width: 44rem; }
.stages { align-items: flex-start; }
figure { margin: 0; width: 164px; }
figure img { display: block; max-width: 160px; max-height: 160px; width: auto; height: auto;
             border: 1px solid var(--line); background: #fff; image-rendering: auto; }
figure .missing { display: flex; align-items: center; justify-content: center; width: 96px; height: 64px;
                  border: 1px dashed var(--line); color: var(--soft); font-size: .75rem; }
figcaption { font-size: .75rem; color: var(--soft); white-space: nowrap; margin-top: .15rem; }
figcaption b { color: var(--ink); font-weight: 600; }
.links { font-size: .8rem; margin-bottom: .4rem; }
.links a { margin-right: .5rem; }
td.failed { background: #fdf1f0; }
td.failed .error { color: var(--bad); font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .8rem;
                   white-space: pre-wrap; word-break: break-word; max-width: 36rem; margin: 0; }
td.empty { color: var(--soft); text-align: center; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _u(path: str) -> str:
    return quote(path, safe="/")


def _figure(p: Picture, lazy: bool) -> str:
    if p.thumb is not None:
        dims = f' width="{p.size[0]}" height="{p.size[1]}"' if p.size else ""
        load = ' loading="lazy"' if lazy else ""
        img = f'<img src="{_u(p.thumb)}" alt="{_e(p.heading)}"{dims}{load}>'
    else:
        img = '<span class="missing">no thumbnail</span>'
    title = f' title="{_e(p.tooltip)}"' if p.tooltip else ""
    extra = "".join(f' · <a href="{_u(h)}">{_e(lbl)}</a>' for lbl, h in p.extra)
    return (f'<figure><a href="{_u(p.href)}"{title}>{img}</a>'
            f"<figcaption><b>{_e(p.heading)}</b><br>{_e(p.detail)}{extra}</figcaption></figure>")


def _cell_html(cell: Cell | None, lazy: bool, *, with_links: bool = True) -> str:
    if cell is None:
        return '<td class="empty">—</td>'
    if cell.error is not None:
        return f'<td class="failed"><p class="error">{_e(cell.error)}</p></td>'
    links = ""
    if with_links and cell.links:
        links = '<div class="links">' + "".join(f'<a href="{_u(h)}">{_e(lbl)}</a>' for lbl, h in cell.links) \
            + "</div>"
    figs = "".join(_figure(p, lazy) for p in cell.pictures)
    return f'<td class="ok">{links}<div class="stages">{figs}</div></td>'


def _anchor(prefix: str, name: str) -> str:
    return prefix + quote(name, safe="")


def index_html(
    cells: Mapping[tuple[str, str], Cell],
    configs: Sequence[str],
    images: Sequence[str],
    *,
    errors: Iterable[str] = (),
    sources: Mapping[str, Mapping[str, str]] | None = None,
    title: str = "cnnviz batch",
    generated: str | None = None,
) -> str:
    """The contact sheet page for ``cells``, configs and images in the given order.

    ``sources`` maps ``"config"`` and ``"image"`` to {name: path as given},
    shown under the row and column names (default: from the stamps).
    """
    n_pics = sum(len(c.pictures) for c in cells.values())
    lazy = n_pics > LAZY_OVER
    ok = sum(1 for c in cells.values() if c.error is None)
    bad = sum(1 for c in cells.values() if c.error is not None)
    generated = generated or time.strftime("%Y-%m-%d %H:%M:%S")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{len(configs)} config{"s" if len(configs) != 1 else ""} × {len(images)} '
        f'image{"s" if len(images) != 1 else ""} · {ok} rendered · {bad} failed · '
        f"cnnviz {_e(__version__)} · {_e(generated)}. Click a thumbnail for the full picture.</p>",
    ]
    errs = list(errors)
    if errs:
        parts.append('<ul class="errors">' + "".join(f"<li>{_e(x)}</li>" for x in errs) + "</ul>")

    known: dict[str, dict[str, str]] = {"config": {}, "image": {}}
    for (c, i), cell in cells.items():
        if cell.config_source:
            known["config"].setdefault(c, cell.config_source)
        if cell.image_source:
            known["image"].setdefault(i, cell.image_source)
    for which, names in (sources or {}).items():
        known.setdefault(which, {}).update(names)

    def source(key: str, which: str) -> str:
        s = known[which].get(key, "")
        return "" if s == key else s

    def src_span(text: str) -> str:
        return f'<span class="source">{_e(text)}</span>' if text else ""

    if len(images) <= GRID_MAX_IMAGES:
        parts.append('<table class="sheet grid">')
        parts.append("<thead><tr><th>config \\ image</th>" + "".join(
            f'<th scope="col">{_e(i)}{src_span(source(i, "image"))}</th>'
            for i in images) + "</tr></thead>")
        parts.append("<tbody>")
        for c in configs:
            row = [f'<tr id="{_e(_anchor("config-", c))}"><th scope="row">{_e(c)}'
                   f'{src_span(source(c, "config"))}</th>']
            row += [_cell_html(cells.get((c, i)), lazy) for i in images]
            row.append("</tr>")
            parts.append("".join(row))
        parts.append("</tbody></table>")
    else:
        parts.append("<nav>configs: " + "".join(
            f'<a href="#{_e(_anchor("config-", c))}">{_e(c)}</a>' for c in configs) + "</nav>")
        for c in configs:
            parts.append(f'<h2 id="{_e(_anchor("config-", c))}">{_e(c)}</h2>')
            parts.append(f'<p class="meta">{_e(source(c, "config"))}</p>' if source(c, "config") else "")
            rows = [(i, cells[(c, i)]) for i in images if (c, i) in cells]
            columns = list(dict.fromkeys(p.heading for _, cell in rows if cell.error is None for p in cell.pictures))
            parts.append('<table class="sheet rows"><thead><tr><th scope="col">image</th>' + "".join(
                f'<th scope="col">{_e(h)}</th>' for h in columns) + "</tr></thead><tbody>")
            for i, cell in rows:
                head = f'<th scope="row">{_e(i)}{src_span(source(i, "image"))}'
                if cell.error is None and cell.links:
                    head += '<div class="links">' + "".join(
                        f'<a href="{_u(h)}">{_e(lbl)}</a>' for lbl, h in cell.links) + "</div>"
                head += "</th>"
                if cell.error is not None:
                    body = f'<td class="failed" colspan="{max(1, len(columns))}"><p class="error">{_e(cell.error)}</p></td>'
                else:
                    by_heading = {p.heading: p for p in cell.pictures}
                    body = "".join(f'<td class="ok">{_figure(by_heading[h], lazy)}</td>' if h in by_heading
                                   else '<td class="empty">—</td>' for h in columns)
                parts.append(f"<tr>{head}{body}</tr>")
            parts.append("</tbody></table>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _order(first: Sequence[str], found: Iterable[str]) -> list[str]:
    seen = dict.fromkeys(first)
    for x in sorted(set(found)):
        seen.setdefault(x)
    return list(seen)


def _update_failures(out: Path, failures: Mapping[tuple[str, str], str],
                     succeeded: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Merge this run into ``OUT/.cnnviz-batch-failures.json``; return every failed item."""
    path = out / FAILURES
    known: dict[tuple[str, str], str] = {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        for entry in data.values() if isinstance(data, dict) else []:
            if isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in ("config", "image", "error")):
                known[(entry["config"], entry["image"])] = entry["error"]
    except (OSError, ValueError, UnicodeDecodeError):
        pass
    for key in succeeded:
        known.pop(key, None)
    known.update(failures)
    if known or path.exists():
        with atomic_write(path, "w", encoding="utf-8") as f:
            json.dump({f"{c}/{i}": {"config": c, "image": i, "error": e} for (c, i), e in sorted(known.items())},
                      f, indent=1, ensure_ascii=False)
            f.write("\n")
    return known


def write_index(
    outdir: str | os.PathLike[str],
    *,
    failures: Mapping[tuple[str, str], str] | None = None,
    succeeded: Iterable[tuple[str, str]] = (),
    configs: Sequence[str] = (),
    images: Sequence[str] = (),
    errors: Iterable[str] = (),
    sources: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write ``OUT/index.html`` (atomically) and return its path.

    Parameters
    ----------
    outdir : path
        The batch folder; every ``OUT/<config>/<image>/`` with a stamp is shown.
    failures : mapping (config, image) -> error line, optional
        The current run's failed items.  They are remembered (in
        :data:`FAILURES`) until the item is rendered or found up to date
        (``succeeded``), and shown as error cells in place of an older
        output of the same config and image.
    succeeded : iterable of (config, image)
        The current run's items that were rendered or are up to date.
    configs, images : sequences of str
        The current run's order; folders found only on disk follow, sorted.
    errors : iterable of str
        Lines shown at the top (patterns that matched nothing, ...).
    sources : mapping, optional
        ``{"config": {name: path}, "image": {label: path}}`` of the current run.
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    cells = collect_cells(out)
    for (c, i), message in _update_failures(out, failures or {}, succeeded).items():
        cells[(c, i)] = Cell(c, i, error=message)
    config_order = _order(configs, (c for c, _ in cells))
    image_order = _order(images, (i for _, i in cells))
    page = index_html(cells, config_order, image_order, errors=errors, sources=sources)
    path = out / "index.html"
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path
