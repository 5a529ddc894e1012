"""Image loading: formats, bit depths, modes, samples, input settings, errors."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import warnings
import zlib

import numpy as np
import pytest
import skimage.data
from PIL import Image
from skimage.color import rgb2gray
from skimage.transform import resize

import cnnviz
import cnnviz.io.images
from cnnviz.config import load_config
from cnnviz.errors import CnnvizError
from cnnviz.io.images import SAMPLES, read_image
from cnnviz.pipeline.inputs import load_image
from tests.helpers import NUMPYCNN, cli


def cfg(**inp):
    return load_config({"input": inp, "stages": ["relu"]})


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sample_matches_skimage(name):
    loader = "chelsea" if name == "cat" else name
    expected = getattr(skimage.data, loader)()
    got = read_image(name)
    exp = expected.astype(np.float64)
    if exp.ndim == 2:
        exp = exp[:, :, None]
    exp = exp[:, :, :3]
    if expected.dtype == np.uint8:
        exp = exp / 255.0
    assert got.shape == exp.shape
    if expected.dtype == bool:  # skimage thresholds the gray file
        np.testing.assert_array_equal(got > 0.5, exp > 0.5)
    else:
        np.testing.assert_allclose(got, exp, atol=1e-6)


def test_gray_is_skimage_luminance_and_rgb_repeats():
    gray = load_image("chelsea", cfg(color="gray"))
    np.testing.assert_allclose(gray[:, :, 0], rgb2gray(skimage.data.chelsea()), atol=1e-6)
    rgb = load_image("camera", cfg(color="rgb"))
    assert rgb.shape == (512, 512, 3)
    np.testing.assert_array_equal(rgb[:, :, 0], rgb[:, :, 2])
    keep = load_image("coffee", cfg())
    assert keep.shape == (400, 600, 3) and keep.dtype == np.float32
    assert keep.min() >= 0.0 and keep.max() <= 1.0


def test_resize_pair_and_longest_side():
    img = load_image("chelsea", cfg(resize=[150, 200], color="gray"))
    assert img.shape == (150, 200, 1)
    ref = resize(rgb2gray(skimage.data.chelsea()), (150, 200), order=1, anti_aliasing=True, mode="reflect")
    np.testing.assert_allclose(img[:, :, 0], ref, atol=1e-5)
    assert load_image("chelsea", cfg(resize=100)).shape == (67, 100, 3)
    assert load_image("chelsea", cfg(resize=[300, 451])).shape == (300, 451, 3)


@pytest.mark.parametrize("fmt,ext", [("PNG", "png"), ("JPEG", "jpg"), ("TIFF", "tif"), ("BMP", "bmp"), ("GIF", "gif")])
def test_formats_gray_and_rgb(tmp_path, fmt, ext):
    rng = np.random.default_rng(0)
    g = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(g).save(tmp_path / f"g.{ext}", format=fmt)
    out = read_image(tmp_path / f"g.{ext}")
    assert out.shape == (20, 30, 1)
    if fmt != "JPEG":
        np.testing.assert_allclose(out[:, :, 0], g / 255.0)
    if fmt != "GIF":
        Image.fromarray(rgb).save(tmp_path / f"c.{ext}", format=fmt)
        out = read_image(tmp_path / f"c.{ext}")
        assert out.shape == (20, 30, 3)
        if fmt != "JPEG":
            np.testing.assert_allclose(out, rgb / 255.0)


def test_alpha_is_dropped_and_palette_expanded(tmp_path):
    rgba = np.random.default_rng(1).integers(0, 256, (8, 9, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    np.testing.assert_allclose(read_image(tmp_path / "a.png"), rgba[:, :, :3] / 255.0)
    la = np.stack([rgba[:, :, 0], rgba[:, :, 3]], axis=2)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    np.testing.assert_allclose(read_image(tmp_path / "la.png")[:, :, 0], rgba[:, :, 0] / 255.0)
    pal = Image.fromarray(rgba[:, :, :3]).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.save(tmp_path / "p.png")
    np.testing.assert_allclose(read_image(tmp_path / "p.png"), np.asarray(pal.convert("RGB")) / 255.0)


def test_16_bit_gray(tmp_path):
    a = np.array([[0, 1000, 65535], [30000, 2, 40000]], dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / "d.png")
    np.testing.assert_allclose(read_image(tmp_path / "d.png")[:, :, 0], a / 65535.0)
    import tifffile

    tifffile.imwrite(tmp_path / "d.tif", a)
    np.testing.assert_allclose(read_image(tmp_path / "d.tif")[:, :, 0], a / 65535.0)


def test_gif_first_frame(tmp_path):
    frames = [Image.fromarray(np.full((5, 5), v, np.uint8)) for v in (10, 200)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    np.testing.assert_allclose(read_image(tmp_path / "a.gif"), 10 / 255.0)


def test_errors(tmp_path):
    with pytest.raises(CnnvizError) as info:
        read_image("chelsa")
    assert str(info.value) == ("no image file or sample named 'chelsa' (did you mean 'chelsea'?); "
                               "'cnnviz samples' lists the samples")
    with pytest.raises(CnnvizError) as info:
        read_image(tmp_path / "none.png")
    assert str(info.value) == f"image file not found: {tmp_path / 'none.png'}"
    with pytest.raises(CnnvizError) as info:
        read_image(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, not an image"
    (tmp_path / "t.png").write_text("hello")
    with pytest.raises(CnnvizError) as info:
        read_image(tmp_path / "t.png")
    assert str(info.value) == f"{tmp_path / 't.png'}: not an image file cnnviz can read"
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(tmp_path / "big.png")
    with pytest.raises(CnnvizError) as info:
        read_image(tmp_path / "big.png", max_pixels=100)
    assert str(info.value) == (f"{tmp_path / 'big.png'}: 50×50 = 2,500 pixels is more than the "
                               "limit of 100")


def test_float_tiff_with_nan_is_refused_naming_the_file(tmp_path):
    for name, values in (("some.tif", [[0.1, np.nan], [0.5, 0.7]]), ("all.tif", [[np.nan, np.nan]] * 2),
                         ("inf.tif", [[0.1, np.inf], [0.5, 0.7]])):
        Image.fromarray(np.array(values, np.float32), mode="F").save(tmp_path / name)
        out = tmp_path / ("o_" + name)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            r = cli("run", NUMPYCNN, str(tmp_path / name), "-o", str(out))
        assert r.exit_code == 1
        assert r.stderr == f"Error: {tmp_path / name}: the image holds NaN or infinite values\n"
        assert not out.exists()


def test_exif_orientation_is_applied(tmp_path):
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :10] = 255  # a bright band on the left, stored as it came off the sensor
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    Image.fromarray(a).save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    x = cnnviz.load_image(str(tmp_path / "phone.jpg"))
    assert x.shape == (40, 20, 1)  # upright: taller than wide
    assert x[:10].mean() > 0.9 and x[12:].mean() < 0.1  # the band is now at the top


def test_fifo_and_devices_are_not_regular_files(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    for path in (tmp_path / "pipe.png", "/dev/zero"):
        with pytest.raises(cnnviz.CnnvizError) as info:
            cnnviz.load_image(str(path))
        assert str(info.value) == f"{path}: is not a regular file (a pipe or a device?), so it cannot be read as an image"


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width × height (one empty IDAT: decoding would fail, reading the size does not)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_no_decompression_bomb_warning_beside_the_error(tmp_path):
    """120 megapixels: between Pillow's warning (89 M) and its error (179 M); only cnnviz's line shows."""
    (tmp_path / "big.png").write_bytes(png_header(12000, 10000))
    proc = subprocess.run([sys.executable, "-m", "cnnviz.cli", "run", NUMPYCNN, str(tmp_path / "big.png"), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr == (f"Error: {tmp_path / 'big.png'}: 12000×10000 = 120,000,000 pixels is more than the limit "
                           "of 100,000,000\n")


def test_no_decompression_bomb_warning_within_the_limit(tmp_path, monkeypatch):
    """An image Pillow would warn about (its limit lowered here) but within cnnviz's: read, no warning."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "a.png")  # 1,600 pixels: > 1000, < 2000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = cnnviz.load_image(str(tmp_path / "a.png"))
    assert x.shape == (40, 40, 1)
