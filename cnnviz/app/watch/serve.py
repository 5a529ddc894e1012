"""``cnnviz watch --serve``: a page on 127.0.0.1 that shows the figures as they change.

A :class:`PageServer` (standard library :mod:`http.server`, one thread per
request, in a daemon thread) serves:

* ``/`` — one self-contained page (inline HTML, CSS and JavaScript, no
  network fetches) that polls ``/state`` and, when a new render is there,
  loads its images with a cache-busting query and swaps them in once they
  have loaded; the current error, if the config is invalid, is shown in a
  banner at the top until a fix renders;
* ``/state`` — JSON: ``version`` (bumped on every change), ``generation``
  (bumped on every render), ``error`` (a list of ``Error: ...`` lines, empty
  when the last attempt rendered), ``message`` (the last render's line) and
  ``sections`` (the figures, from the output folder's ``manifest.json``: the input, every stage's grid and
  filters, the overview); each title shows once — in the picture, which
  draws its own, or (``labels: false``) as the section's heading;
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
from urllib.parse import unquote, urlsplit

from ...errors import CnnvizError

__all__ = ["PageState", "PageServer", "sections_from_manifest", "PAGE_HTML"]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_TYPES = {".png": "image/png", ".json": "application/json; charset=utf-8", ".npz": "application/octet-stream"}


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
        images = [{"file": f, "caption": "filters" if f.startswith("filters_") else "feature maps"}
                  for f in st.get("files") or [] if isinstance(f, str)]
        out.append({"id": f"stage-{index}", "title": title, "images": images})
    if "overview.png" in files:
        out.append({"id": "overview", "title": "overview",
                    "images": [{"file": "overview.png", "caption": "overview"}]})
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
        self.updated = time.time()

    def set_rendered(self, message: str) -> None:
        """A render finished: read its manifest, clear the error, bump the generation."""
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
        raw = urlsplit(self.path).path
        if raw in ("/", "/index.html"):
            return self._send(HTTPStatus.OK, PAGE_HTML.encode("utf-8"), "text/html; charset=utf-8")
        if raw == "/state":
            body = json.dumps(self.server.state.snapshot(), ensure_ascii=False).encode("utf-8")
            return self._send(HTTPStatus.OK, body, "application/json; charset=utf-8")
        if raw == "/favicon.ico":
            return self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        if raw.startswith("/files/"):
            return self._file(unquote(raw[len("/files/"):]))
        return self._fail(HTTPStatus.NOT_FOUND)

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


PAGE_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cnnviz watch</title>
<style>
  :root { --ink: #1f1f1f; --soft: #666; --line: #ddd; --bg: #f6f6f4; --err: #b00020; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
         background: var(--bg); }
  header { position: sticky; top: 0; z-index: 2; background: #fff; border-bottom: 1px solid var(--line);
           padding: 8px 16px; display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: baseline; }
  header h1 { font-size: 16px; margin: 0; }
  #source { color: var(--soft); }
  #status { color: var(--soft); margin-left: auto; font-variant-numeric: tabular-nums; }
  #status.offline { color: var(--err); }
  #error { margin: 0; padding: 12px 16px; background: var(--err); color: #fff; font: 600 15px/1.45 ui-monospace,
           SFMono-Regular, Menlo, Consolas, monospace; white-space: pre-wrap; word-break: break-word;
           position: sticky; top: 41px; z-index: 1; box-shadow: 0 2px 6px rgba(0,0,0,.25); }
  #error[hidden] { display: none; }
  main { padding: 12px 16px 40px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 0 0 14px;
            padding: 8px 12px 12px; }
  section h2 { font-size: 14px; margin: 0 0 8px; font-weight: 600; }
  .imgs { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
  figure { margin: 0; }
  figure img { display: block; max-width: 100%; height: auto; image-rendering: auto; }
  figcaption { color: var(--soft); font-size: 12px; margin-top: 2px; }
  #empty { color: var(--soft); }
</style>
</head>
<body data-generation="0" data-version="-1">
<header>
  <h1>cnnviz watch</h1>
  <span id="source"></span>
  <span id="status">connecting…</span>
</header>
<pre id="error" role="alert" hidden></pre>
<main id="figures"><p id="empty">Waiting for the first render…</p></main>
<script>
"use strict";
let version = -1, generation = 0, busy = false;
const $ = (id) => document.getElementById(id);

function figureFor(sec, img, gen) {
  const fig = document.createElement("figure");
  const el = document.createElement("img");
  el.alt = sec.title + " (" + img.caption + ")";
  el.dataset.file = img.file;
  el.src = "files/" + encodeURIComponent(img.file) + "?g=" + gen;
  fig.append(el);
  if (sec.show_title && sec.images.length > 1) {  // pictures without labels: say which is which
    const cap = document.createElement("figcaption");
    cap.textContent = img.caption;
    fig.append(cap);
  }
  return [fig, el];
}

function loaded(el) {
  return new Promise((resolve) => {
    if (el.complete) return resolve();
    el.addEventListener("load", resolve, {once: true});
    el.addEventListener("error", resolve, {once: true});
    setTimeout(resolve, 1500);
  });
}

async function showFigures(state) {
  // build the new figures off-screen and swap them in once their images loaded: no flicker
  const main = document.createElement("main");
  main.id = "figures";
  const imgs = [];
  for (const sec of state.sections) {
    const s = document.createElement("section");
    s.id = sec.id;
    s.dataset.title = sec.title;
    s.setAttribute("aria-label", sec.title);
    if (sec.show_title) {  // the pictures do not carry it (labels: false): the page says it, once
      const h = document.createElement("h2");
      h.textContent = sec.title;
      s.append(h);
    }
    const box = document.createElement("div");
    box.className = "imgs";
    for (const img of sec.images) {
      const [fig, el] = figureFor(sec, img, state.generation);
      box.append(fig);
      imgs.push(el);
    }
    s.append(box);
    main.append(s);
  }
  if (!state.sections.length) {
    const p = document.createElement("p");
    p.id = "empty";
    p.textContent = "Nothing rendered yet.";
    main.append(p);
  }
  await Promise.all(imgs.map(loaded));
  $("figures").replaceWith(main);
}

function showError(lines) {
  const box = $("error");
  if (lines.length) {
    box.textContent = lines.join("\\n");
    box.hidden = false;
  } else {
    box.textContent = "";
    box.hidden = true;
  }
}

async function tick() {
  if (busy) return;
  busy = true;
  try {
    const r = await fetch("state", {cache: "no-store"});
    const state = await r.json();
    $("status").classList.remove("offline");
    if (state.version !== version) {
      $("source").textContent = state.config + " on " + state.image + " → " + state.outdir;
      if (state.generation !== generation) {
        await showFigures(state);
        generation = state.generation;
        document.body.dataset.generation = String(generation);
      }
      showError(state.error);
      version = state.version;
      document.body.dataset.version = String(version);
      document.title = (state.error.length ? "✗ " : "") + "cnnviz watch";
    }
    $("status").textContent = state.message + " · " + state.updated;
  } catch (e) {
    $("status").textContent = "not connected (is cnnviz watch still running?)";
    $("status").classList.add("offline");
  } finally {
    busy = false;
  }
}

tick();
setInterval(tick, 300);
</script>
</body>
</html>
"""
