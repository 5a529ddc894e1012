"""Execute docs/tour.ipynb and screenshot it (as JupyterLab would lay it out) into docs/notebook.png.

python scripts/make_notebook_png.py [ROOT]   (needs nbclient, ipykernel, playwright and /usr/bin/chromium)
"""
from __future__ import annotations

import html
import json
import sys
import tempfile
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
DOCS = ROOT / "docs"
CUT = 0  # set in page(): the first cell after the projection's geometry
CSS = """
body { margin: 0; background: #fff; font-family: 'DejaVu Sans', sans-serif; font-size: 13px; color: #212121; }
.bar { background: #f3f3f3; border-bottom: 1px solid #ddd; padding: 7px 16px; font-size: 13px; color: #444; }
.bar b { color: #111; } .nb { padding: 10px 18px 18px 8px; width: 940px; }
.cell { display: flex; margin: 6px 0; } .prompt { width: 64px; flex: none; text-align: right; padding: 6px 8px 0 0;
  font-family: 'DejaVu Sans Mono', monospace; font-size: 12px; color: #303f9f; }
.out .prompt { color: #d84315; } .body { flex: 1; min-width: 0; }
pre.code { background: #f7f7f7; border: 1px solid #e0e0e0; border-radius: 2px; margin: 0; padding: 6px 8px;
  font-family: 'DejaVu Sans Mono', monospace; font-size: 12.5px; line-height: 1.35; white-space: pre-wrap; }
pre.text { margin: 0; padding: 4px 0; font-family: 'DejaVu Sans Mono', monospace; font-size: 12px; line-height: 1.3; }
.md { padding: 2px 8px 2px 0; line-height: 1.45; } .md h1 { font-size: 22px; margin: 6px 0 4px; }
.md h2 { font-size: 17px; margin: 8px 0 2px; } .md p { margin: 4px 0; }
.md code { background: #f0f0f0; padding: 0 3px; font-size: 12px; }
.scroll { max-height: 440px; overflow: hidden; border-bottom: 1px dashed #bbb; }
.html img { display: block; }
"""


def md(text: str) -> str:
    out = []
    for block in text.split("\n\n"):
        b = html.escape(block)
        parts = b.split("`")
        b = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
        if b.startswith("# "):
            out.append(f"<h1>{b[2:]}</h1>")
        elif b.startswith("## "):
            out.append(f"<h2>{b[3:]}</h2>")
        else:
            out.append(f"<p>{b}</p>")
    return "".join(out)


def page(nb) -> str:
    global CUT
    rows = []
    for c in nb.cells:
        if c.get("id") == "numbers-md":
            CUT = len(rows)
        if c.cell_type == "markdown":
            rows.append(f'<div class="cell"><div class="prompt"></div><div class="body md">{md(c.source)}</div></div>')
            continue
        n = c.get("execution_count") or " "
        rows.append(f'<div class="cell"><div class="prompt">[{n}]:</div><div class="body">'
                    f'<pre class="code">{html.escape(c.source)}</pre></div></div>')
        for o in c.outputs:
            label = f"[{n}]:" if o.output_type == "execute_result" else ""
            if o.output_type == "stream":
                body = f'<pre class="text">{html.escape(o.text)}</pre>'
            elif "text/html" in o.data:
                body = f'<div class="html scroll">{o.data["text/html"]}</div>'
            elif "image/png" in o.data:
                body = f'<img src="data:image/png;base64,{o.data["image/png"]}">'
            else:
                body = f'<pre class="text">{html.escape(o.data["text/plain"])}</pre>'
            rows.append(f'<div class="cell out"><div class="prompt">{label}</div><div class="body">{body}</div></div>')
    return (f"<!doctype html><meta charset=utf-8><style>{CSS}</style>"
            f'<div class="bar"><b>tour.ipynb</b> &nbsp;·&nbsp; Python 3 (ipykernel)</div>'
            f'<div class="nb">{"".join(rows)}</div>')


def main() -> None:
    nb = nbformat.read(DOCS / "tour.ipynb", as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "kernels" / "py"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "py", "language": "python"}))
        km = AsyncKernelManager(kernel_name="py", kernel_spec_manager=KernelSpecManager(
            kernel_dirs=[str(Path(tmp) / "kernels")], ensure_native_kernel=False))
        NotebookClient(nb, km=km, timeout=120, resources={"metadata": {"path": str(DOCS)}}).execute()
        (Path(tmp) / "page.html").write_text(page(nb), encoding="utf-8")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            pg = b.new_page(viewport={"width": 960, "height": 800}, device_scale_factor=1)
            pg.goto((Path(tmp) / "page.html").as_uri())
            # the notebook down to the projection's geometry (the summary table below is text)
            cut = pg.evaluate(f"document.querySelectorAll('.cell')[Number({CUT})].getBoundingClientRect().top")
            pg.set_viewport_size({"width": 960, "height": int(cut)})
            pg.screenshot(path=str(Path(tmp) / "shot.png"), full_page=False)
            b.close()
        from PIL import Image

        im = Image.open(Path(tmp) / "shot.png").convert("RGB")
        im.save(DOCS / "notebook.png", optimize=True)
        print(im.size, (DOCS / "notebook.png").stat().st_size)


if __name__ == "__main__":
    main()
