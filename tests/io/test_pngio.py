"""PNG I/O: reading cnnviz metadata, atomic writes."""

from __future__ import annotations

import pytest
from PIL import Image

from cnnviz.errors import CnnvizError
from cnnviz.io.pngio import atomic_write, read_png_metadata
from tests.helpers import NUMPYCNN, cli


def test_read_png_metadata_refuses_foreign_files(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "plain.png")
    with pytest.raises(CnnvizError, match="no cnnviz metadata"):
        read_png_metadata(tmp_path / "plain.png")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(CnnvizError):
        read_png_metadata(tmp_path / "x.txt")
    with pytest.raises(CnnvizError, match="not found"):
        read_png_metadata(tmp_path / "missing.png")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.png"
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write(b"half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write(b"new")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_write_error_names_the_file_not_the_temporary(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "02_relu1.png").mkdir()  # something in the way that cannot be replaced by a file
    (out / "02_relu1.png" / "keep").write_text("x")
    r = cli("run", NUMPYCNN, "chelsea", "-o", str(out))
    assert r.exit_code == 1
    assert r.stderr.startswith(f"Error: {out / '02_relu1.png'}: cannot write the output: ")
    assert ".tmp" not in r.stderr and len(r.stderr.splitlines()) == 1
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
