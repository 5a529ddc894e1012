"""PNG I/O: reading cnnviz metadata, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnviz.errors import CnnvizError
from cnnviz.io.pngio import atomic_write, encode_png, read_png_metadata
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


def _decoded(data: bytes):
    import io

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.mode, np.asarray(im.convert("RGBA")), dict(im.text), im.info.get("dpi")


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (40, 3), (5, 6, 3), (9, 4, 4), (33, 17, 3)])
def test_encode_png_keeps_every_pixel_text_and_dpi(shape):
    rng = np.random.default_rng(sum(shape))
    a = rng.integers(0, 256, shape).astype(np.uint8)
    text = {"cnnviz.config": "stages:\n" + "  - relu  # é\n" * 200, "cnnviz.image": "chelsea · ü", "Title": ""}
    mode, px, chunks, dpi = _decoded(encode_png(a, text=text, dpi=300))
    want = np.asarray(Image.fromarray(a).convert("RGBA"))
    assert np.array_equal(px, want)
    assert mode == {2: "L", 3: "RGB", 4: "RGBA"}[a.ndim if a.ndim == 2 else a.shape[2]]
    assert chunks == text
    assert dpi == pytest.approx((300, 300), abs=0.01)


def test_encode_png_stores_a_grey_rgb_picture_as_grey():
    rng = np.random.default_rng(1)
    g = rng.integers(0, 256, (20, 30)).astype(np.uint8)
    rgb = np.repeat(g[:, :, None], 3, axis=2)
    mode, px, _, _ = _decoded(encode_png(rgb))
    assert mode == "L" and np.array_equal(px[:, :, :3], rgb)
    rgb[3, 4, 1] += 1  # one pixel not grey: RGB
    mode, px, _, _ = _decoded(encode_png(rgb))
    assert mode == "RGB" and np.array_equal(px[:, :, :3], rgb)


@pytest.mark.parametrize("colours", [1, 2, 17, 256])
def test_encode_png_palette_pictures(colours):
    rng = np.random.default_rng(colours)
    pal = rng.integers(0, 256, (colours, 3)).astype(np.uint8)
    idx = rng.integers(0, colours, (21, 30)).astype(np.uint8)
    mode, px, _, _ = _decoded(encode_png(idx, pal))
    assert mode == "P" and np.array_equal(px[:, :, :3], pal[idx])


def test_encode_png_refuses_what_it_cannot_store():
    with pytest.raises(TypeError):
        encode_png(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError):
        encode_png(np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(ValueError):
        encode_png(np.zeros((2, 2), np.uint8), np.zeros((257, 3), np.uint8))
    with pytest.raises(ValueError):
        encode_png(np.zeros((2, 2, 3), np.uint8), np.zeros((4, 3), np.uint8))


def test_background_writes_run_in_order_and_stop_at_the_first_failure():
    import threading
    import time

    from cnnviz.io.pngio import BackgroundWrites

    done, threads = [], set()

    def job(i, fail=False):
        time.sleep(0.002 * (5 - i % 5))  # later jobs would finish first if they ran at once
        threads.add(threading.get_ident())
        if fail:
            raise OSError(f"job {i} failed")
        done.append(i)

    w = BackgroundWrites(depth=3)
    for i in range(6):
        w.submit(job, i)
    w.wait()
    assert done == list(range(6)) and threading.get_ident() not in threads

    done.clear()
    w = BackgroundWrites(depth=8)
    w.submit(job, 0)
    w.submit(job, 1, fail=True)
    w.submit(job, 2)
    with pytest.raises(OSError, match="job 1 failed"):
        w.wait()
    assert done == [0]  # job 2 was skipped
    w.wait()  # raised once
    w.submit(job, 3)  # after a failure nothing more is written
    w.wait()
    assert done == [0]


def test_background_writes_cancel_skips_what_has_not_started():
    import threading

    from cnnviz.io.pngio import BackgroundWrites

    gate, done = threading.Event(), []
    w = BackgroundWrites(depth=8)
    w.submit(lambda: (gate.wait(5), done.append(0)))
    w.submit(done.append, 1)
    threading.Timer(0.05, gate.set).start()
    w.cancel()
    assert done == [0]
