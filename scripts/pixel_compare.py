#!/usr/bin/env python3
"""Render every config in ``configs/`` with two versions of cnnviz and compare the pictures' pixels.

    python scripts/pixel_compare.py                  # this tree against HEAD
    python scripts/pixel_compare.py --base 9558f51   # ... against an older commit
    python scripts/pixel_compare.py --allow 'edges/*' --keep /tmp/px

Both versions run the configs of *this* tree, each on its sample image (the
table below; chelsea for a config it does not name), through
``python -c 'from cnnviz.cli import main; main()' run CONFIG SAMPLE -o DIR``
with the version's source tree first on ``sys.path``; the base version is
``git archive``d into a temporary folder, so nothing is installed or checked
out.  Every PNG either version wrote is decoded (Pillow, RGBA) and compared
pixel for pixel; the metadata and the PNG encoding may differ.  Exit status
0 when every picture is the same, or differs only where ``--allow`` (a glob
on ``<config>/<file>``, repeatable) says a change is expected; 1 otherwise.
"""

from __future__ import annotations

import argparse
import fnmatch
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent

#: The sample each example config is meant for (the README's tour uses these).
SAMPLES = {
    "numpycnn": "chelsea",
    "edges": "camera",
    "gabor": "astronaut",
    "padding": "camera",
    "rgb": "coffee",
    "tiny-cnn": "chelsea",
}


def export(rev: str, dest: Path) -> Path:
    """The source tree of ``rev`` unpacked into ``dest`` (``git archive``)."""
    archive = dest / "src.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive), rev], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest / "tree", filter="data")
    return dest / "tree"


def render_all(tree: Path, out: Path, configs: list[Path]) -> dict[str, str]:
    """Render each config with the cnnviz in ``tree``; return config -> error text for the ones that failed."""
    failed = {}
    code = f"import sys; sys.path.insert(0, {str(tree)!r}); from cnnviz.cli import main; main()"
    for cfg in configs:
        sample = SAMPLES.get(cfg.stem, "chelsea")
        dest = out / cfg.stem
        proc = subprocess.run([sys.executable, "-c", code, "run", str(cfg), sample, "-o", str(dest)],
                              capture_output=True, text=True, cwd=out, env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"})
        if proc.returncode != 0:
            failed[cfg.stem] = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
    return failed


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA"))


def compare(a: Path, b: Path) -> list[tuple[str, str]]:
    """(relative name, verdict) for every PNG under either folder."""
    names = sorted({str(p.relative_to(a)) for p in a.rglob("*.png")} | {str(p.relative_to(b)) for p in b.rglob("*.png")})
    rows = []
    for name in names:
        pa, pb = a / name, b / name
        if not pa.exists():
            rows.append((name, "only in the new version"))
        elif not pb.exists():
            rows.append((name, "only in the base version"))
        else:
            x, y = pixels(pa), pixels(pb)
            if x.shape != y.shape:
                rows.append((name, f"size {x.shape[1]}×{x.shape[0]} -> {y.shape[1]}×{y.shape[0]}"))
            elif not np.array_equal(x, y):
                n = int(np.any(x != y, axis=2).sum())
                rows.append((name, f"{n} of {x.shape[0] * x.shape[1]} pixels differ"))
            else:
                rows.append((name, "same"))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="HEAD", help="the git revision to compare against [HEAD]")
    ap.add_argument("--allow", action="append", default=[], metavar="GLOB",
                    help="<config>/<file> pictures that may differ (repeatable)")
    ap.add_argument("--keep", metavar="DIR", help="render into DIR/base and DIR/new and keep them")
    args = ap.parse_args()
    configs = sorted((ROOT / "configs").glob("*.yaml"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        base_out, new_out = work / "base", work / "new"
        base_out.mkdir(parents=True, exist_ok=True)
        new_out.mkdir(parents=True, exist_ok=True)
        base_tree = export(args.base, Path(tmp))
        failed_base = render_all(base_tree, base_out, configs)
        failed_new = render_all(ROOT, new_out, configs)
        rows = compare(base_out, new_out)
    bad = 0
    for name, verdict in rows:
        allowed = any(fnmatch.fnmatch(name, g) for g in args.allow)
        mark = "ok" if verdict == "same" else ("allowed" if allowed else "DIFFERS")
        bad += mark == "DIFFERS"
        print(f"{mark:8} {name}: {verdict}")
    for which, failed in (("base", failed_base), ("new", failed_new)):
        for cfg, err in failed.items():
            print(f"FAILED   {cfg} ({which} version): {err}")
            bad += which == "new"
    same = sum(1 for _, v in rows if v == "same")
    print(f"{same} of {len(rows)} pictures have the same pixels; {bad} unexpected difference(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
