"""``cnnviz watch --serve``: a page on 127.0.0.1 that shows the figures as they change.

A :class:`PageServer` (standard library :mod:`http.server`, one thread per
request, in a daemon thread) serves:

* ``/`` — one self-contained page (:data:`~cnnviz.app.watch.page.PAGE_HTML`:
  inline HTML, CSS and JavaScript, no network fetches) that polls ``/state``
  and, when a new render is there, loads its images with a cache-busting
  query and swaps them in once they have loaded; the current error, if the
  config is invalid, is shown in a banner at the top until a fix renders;
  hovering a map cell draws its receptive field on the input and shows its
  value, and a click opens a tile large;
* ``/state`` — JSON: ``version`` (bumped on every change), ``generation``
  (bumped on every render), ``error`` (a list of ``Error: ...`` lines, empty
  when the last attempt rendered), ``message`` (the last render's line) and
  ``sections`` (the figures, from the output folder's ``manifest.json``: the input, every stage's grid and
  filters, the overview); each title shows once — in the picture, which
  draws its own, or (``labels: false``) as the section's heading;
* ``/cells`` — JSON: where the last render drew every tile of the input and
  of each grid, and each stage's receptive field, jump and start
  (:meth:`~cnnviz.app.watch.cells.PageCells.meta`);
* ``/values/STAGE/CHANNEL`` — one map that a grid shows, 8-bit with its min
  and max (:meth:`~cnnviz.app.watch.cells.PageCells.values`); only maps the
  current render's grids show, and (``?g=``) only of the render the page shows;
* ``/files/NAME`` — a file of the output folder, only when the current
  manifest lists it (or it is ``manifest.json``), only by a plain file name
  (no ``/``, no ``..``), and only when it resolves inside the output folder
  (a symlink out of it is refused).

:class:`PageState` is the model the watcher updates and the page reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ...errors import CnnvizError
from .cells import PageCells
from .page import PAGE_HTML

__all__ = ["PageState", "PageServer", "sections_from_manifest", "PAGE_HTML"]

_VALUES = re.compile(r"^/values/(\d{1,6})/(\d{1,7})$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".json": "application/json; charset=utf-8",
          ".npz": "application/octet-stream"}


def _shape(shape: Any) -> str:
    return "×".join(str(v) for v in shape) if isinstance(shape, list) else ""


def sections_from_manifest(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The page's figures from a ``manifest.json``: the input, each stage, then the overview.

    Each section is ``{"id", "title", "show_title", "images": [{"file", "caption"}]}``.  Each title
    is shown once: a picture drawn with labels (``render.labels``, the default)
    carries its own title, so the page shows the section's ``title`` as text
    only when ``show_title`` says so (pictures without labels, or a section
    with no picture); it is always the section's accessible name.
    """
    files = [f for f in manifest.get("files") or [] if isinstance(f, str)]
    render = manifest.get("render")
    titled = bool(render.get("labels", True)) if isinstance(render, Mapping) else True
    stages = [s for s in manifest.get("stages") or [] if isinstance(s, Mapping)]
    width = max(2, len(str(len(stages))))
    out: list[dict[str, Any]] = []
    inp = manifest.get("input")
    inp = inp if isinstance(inp, Mapping) else {}
    input_files = [f for f in inp.get("files") or [] if isinstance(f, str)]
    if input_files:
        image = manifest.get("image")
        image = image if isinstance(image, Mapping) else {}
        title = f"{0:0{width}d} input"
        shape = _shape(image.get("shape"))
        if image.get("name"):
            title += f" · {image['name']}"
        if shape:
            title += f" · {shape}"
        out.append({"id": "input", "title": title,
                    "images": [{"file": f, "caption": "input"} for f in input_files]})
    for st in stages:
        index = st.get("index", 0)
        title = f"{index:0{width}d} {st.get('name', '')} · {st.get('type', '')}"
        shape = _shape(st.get("output_shape"))
        if shape:
            title += f" · {shape}"
        images = [{"file": f, "caption": "filters" if f.startswith("filters_") else
                   "overlay" if f.startswith("overlay_") else "feature maps"}
                  for f in st.get("files") or [] if isinstance(f, str) and not f.endswith(".pdf")]
        out.append({"id": f"stage-{index}", "title": title, "images": images})
    overview = next((f for f in ("overview.png", "overview.svg") if f in files), None)
    if overview is not None:
        out.append({"id": "overview", "title": "overview",
                    "images": [{"file": overview, "caption": "overview"}]})
    for sec in out:
        sec["show_title"] = not (titled and sec["images"])
    return out


class PageState:
    """What the page shows; updated by the watcher, read by the server (thread-safe).

    Parameters
    ----------
    outdir : path
        The output folder: its ``manifest.json`` lists the figures, and only
        files it lists are served.
    config, image : str
        Shown in the page's header.
    """

    def __init__(self, outdir: str | os.PathLike[str], *, config: str = "", image: str = "") -> None:
        self.outdir = Path(outdir)
        self.config = config
        self.image = image
        self._lock = threading.Lock()
        self.version = 0
        self.generation = 0
        self.error: list[str] = []
        self.message = "starting…"
        self.sections: list[dict[str, Any]] = []
        self._files: set[str] = set()
        self.cells = PageCells()
        self.updated = time.time()

    def set_rendered(self, message: str, cells: PageCells | None = None) -> None:
        """A render finished: read its manifest, clear the error, bump the generation.

        ``cells`` (:func:`~cnnviz.app.watch.cells.page_cells` of that render) are
        what the page points at; without them its pictures are not hoverable.
        """
        try:
            manifest = json.loads((self.outdir / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = {}
        sections = sections_from_manifest(manifest if isinstance(manifest, Mapping) else {})
        files = {img["file"] for s in sections for img in s["images"]}
        with self._lock:
            self.sections = sections
            self._files = files | {"manifest.json"}
            self.message = message
            self.error = []
            self.generation += 1
            self.cells = cells if cells is not None else PageCells()
            self.cells.generation = self.generation
            self.version += 1
            self.updated = time.time()

    def set_error(self, lines: Sequence[str]) -> None:
        """The last edit did not render: show its error lines (the figures stay)."""
        with self._lock:
            self.error = list(lines)
            self.version += 1
            self.updated = time.time()

    def serves(self, name: str) -> bool:
        """Is ``name`` a file the current manifest lists?"""
        with self._lock:
            return name in self._files

    def cells_of(self, generation: int | None = None) -> PageCells | None:
        """The current render's cells (None when ``generation`` is given and is not the current one)."""
        with self._lock:
            if generation is not None and generation != self.generation:
                return None
            return self.cells

    def snapshot(self) -> dict[str, Any]:
        """The ``/state`` JSON."""
        with self._lock:
            return {
                "version": self.version,
                "generation": self.generation,
                "error": list(self.error),
                "message": self.message,
                "config": self.config,
                "image": self.image,
                "outdir": str(self.outdir),
                "updated": time.strftime("%H:%M:%S", time.localtime(self.updated)),
                "sections": self.sections,
            }


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "cnnviz"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str, *, cache: str = "no-store") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy",
                         "default-src 'none'; img-src 'self'; connect-src 'self'; "
                         "script-src 'unsafe-inline'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")
        self.end_headers()
        if self.command != "HEAD":
            with contextlib.suppress(OSError):
                self.wfile.write(body)

    def _fail(self, status: HTTPStatus) -> None:
        self._send(status, f"{status.value} {status.phrase}\n".encode(), "text/plain; charset=utf-8")

    def _host_ok(self) -> bool:
        """Refuse other host names (a DNS-rebinding page cannot read the figures).

        Both the ``Host`` header and, for an absolute-form request target
        (``GET http://evil.example:PORT/files/...``), the host in the target
        must be this machine's loopback names.
        """
        names = []
        host = (self.headers.get("Host") or "").strip().lower()
        if host:
            names.append(host[1:].split("]", 1)[0] if host.startswith("[") else
                         (host.rsplit(":", 1)[0] if ":" in host else host))
        if not self.path.startswith("/"):
            try:
                target = urlsplit(self.path).hostname
            except ValueError:
                return False
            if not target:
                return False
            names.append(target.lower())
        return all(n in ("127.0.0.1", "localhost", "::1") for n in names)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if not self._host_ok():
            return self._fail(HTTPStatus.FORBIDDEN)
        parts = urlsplit(self.path)
        raw = parts.path
        if raw in ("/", "/index.html"):
            return self._send(HTTPStatus.OK, PAGE_HTML.encode("utf-8"), "text/html; charset=utf-8")
        if raw == "/state":
            body = json.dumps(self.server.state.snapshot(), ensure_ascii=False).encode("utf-8")
            return self._send(HTTPStatus.OK, body, "application/json; charset=utf-8")
        if raw == "/cells":
            cells = self.server.state.cells_of()
            meta = cells.meta() if cells is not None else {}
            body = json.dumps(meta, ensure_ascii=False, allow_nan=False).encode("utf-8")
            return self._send(HTTPStatus.OK, body, "application/json; charset=utf-8")
        m = _VALUES.match(raw)
        if m:
            return self._values(int(m.group(1)), int(m.group(2)), parts.query)
        if raw == "/favicon.ico":
            return self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        if raw.startswith("/files/"):
            return self._file(unquote(raw[len("/files/"):]))
        return self._fail(HTTPStatus.NOT_FOUND)

    def _values(self, stage: int, channel: int, query: str) -> None:
        gen = parse_qs(query).get("g", [""])[0]
        if gen and not re.fullmatch(r"[0-9]{1,9}", gen):
            return self._fail(HTTPStatus.BAD_REQUEST)
        cells = self.server.state.cells_of(int(gen) if gen else None)
        body = cells.values(stage, channel) if cells is not None else None
        if body is None:  # a map no grid of the current render shows, or a render the page no longer shows
            return self._fail(HTTPStatus.NOT_FOUND)
        self._send(HTTPStatus.OK, body, "application/octet-stream")

    def _file(self, name: str) -> None:
        state = self.server.state
        if (not _SAFE_NAME.match(name) or ".." in name or "/" in name or "\\" in name
                or "\x00" in name or os.path.isabs(name)):
            return self._fail(HTTPStatus.FORBIDDEN)
        if not state.serves(name):
            return self._fail(HTTPStatus.NOT_FOUND)
        root = os.path.realpath(state.outdir)
        full = os.path.realpath(os.path.join(root, name))
        if os.path.dirname(full) != root:  # a symlink out of the folder
            return self._fail(HTTPStatus.FORBIDDEN)
        try:
            with open(full, "rb") as f:
                body = f.read()
        except (FileNotFoundError, IsADirectoryError):
            return self._fail(HTTPStatus.NOT_FOUND)
        except OSError:
            return self._fail(HTTPStatus.FORBIDDEN)
        ctype = _TYPES.get(os.path.splitext(name)[1].lower(), "application/octet-stream")
        self._send(HTTPStatus.OK, body, ctype, cache="no-cache")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: PageState) -> None:
        self.state = state
        super().__init__(address, _Handler)


class PageServer:
    """Serve :data:`PAGE_HTML` and ``state``'s figures on ``host:port`` (0: a free port)."""

    def __init__(self, state: PageState, *, port: int = 0, host: str = "127.0.0.1") -> None:
        self.state = state
        try:
            self._httpd = _Server((host, port), state)
        except OSError as exc:
            raise CnnvizError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> PageServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="cnnviz-serve", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()
