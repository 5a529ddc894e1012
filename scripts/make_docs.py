"""Remake the pictures in docs/ that the README shows, with this tree's cnnviz.

    python scripts/make_docs.py

Each picture is a file of one `cnnviz run`, copied as it was written (the
browser screenshots of the contact sheet, the watch page and the notebook are
made by their tests, see the README).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: docs file -> (cnnviz run arguments, the file of that run)
PICTURES = {
    "overview-numpycnn.png": (["configs/numpycnn.yaml", "chelsea"], "overview.png"),
    "edges-camera.png": (["configs/edges.yaml", "camera"], "01_edges.png"),
    "gabor-astronaut.png": (["configs/gabor.yaml", "astronaut"], "01_gabor.png"),
    "filters-conv2.png": (["configs/numpycnn.yaml", "chelsea"], "filters_04_conv2.png"),
    "softmax-tiny-cnn.png": (["configs/tiny-cnn.yaml", "astronaut"], "09_softmax1.png"),
    "overview-digits.png": (["configs/digits.yaml", "configs/digits/3.png"], "overview.png"),
    "filters-edges.png": (["configs/edges.yaml", "camera"], "filters_01_edges.png"),
    "overlay-numpycnn.png": (["configs/numpycnn.yaml", "chelsea", "--overlay"], "overlay_07_conv3.png"),
    "overlay-digits.png": (["configs/digits.yaml", "configs/digits/3.png", "--overlay"], "overlay_04_conv2.png"),
    "reduce-digits.png": (["configs/digits.yaml", "configs/digits/3.png", "--set", "render.reduce=pca"],
                          "05_relu2.png"),
}


def main() -> int:
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, (args, produced) in PICTURES.items():
            out = Path(tmp) / name
            cmd = [sys.executable, "-m", "cnnviz.cli", "run", *args, "-o", str(out)]
            subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
            shutil.copyfile(out / produced, DOCS / name)
            print(f"docs/{name}  <-  cnnviz run {' '.join(args)}  ({produced})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
