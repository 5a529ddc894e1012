"""Bad inputs get one clear line: a corpus of broken files, and no code execution."""

from __future__ import annotations

import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cnnviz.cli import main
from cnnviz.config import load_config
from cnnviz.errors import CnnvizError
from cnnviz.io.images import read_image
from tests.helpers import NUMPYCNN


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Broken and unusual image files, made here."""
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    huge = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + _png_chunk(b"IEND", b""))
    (tmp_path / "huge.png").write_bytes(huge)
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).convert("CMYK").save(tmp_path / "cmyk.jpg")
    frames = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (10, 200)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[0].save(tmp_path / "pages.tif", save_all=True, append_images=frames[1:])
    (tmp_path / "garbage.png").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (tmp_path / "folder.png").mkdir()
    return tmp_path


@pytest.mark.parametrize("name, message", [
    ("truncated.png", "{p}: cannot read the image: image file is truncated"),
    ("empty.png", "{p}: the file is empty (0 bytes)"),
    ("huge.png", "{p}: more pixels than the limit of 100,000,000"),
    ("garbage.png", "{p}: not an image file cnnviz can read"),
    ("folder.png", "{p}: is a directory, not an image"),
])
def test_bad_images_are_one_line(corpus, name, message):
    p = corpus / name
    with pytest.raises(CnnvizError) as info:
        read_image(p)
    assert str(info.value) == message.format(p=p)


def test_truncated_jpeg(corpus):
    with pytest.raises(CnnvizError) as info:
        read_image(corpus / "truncated.jpg")
    assert str(info.value).startswith(f"{corpus / 'truncated.jpg'}: cannot read the image: image file is truncated")


def test_huge_header_is_refused_before_decoding(corpus, monkeypatch):
    from PIL import ImageFile

    def no_decode(self, *a, **k):  # pragma: no cover - would mean we decoded
        raise AssertionError("decoded a refused image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    with pytest.raises(CnnvizError):
        read_image(corpus / "huge.png")
    # and under a lower limit, a normal image is refused from its header too
    with pytest.raises(CnnvizError) as info:
        read_image(corpus / "ok.png", max_pixels=100)
    assert "64×64 = 4,096 pixels is more than the limit of 100" in str(info.value)


def test_unusual_but_valid_images(corpus):
    cmyk = read_image(corpus / "cmyk.jpg")
    assert cmyk.shape == (16, 16, 3) and cmyk.min() >= 0 and cmyk.max() <= 1
    np.testing.assert_allclose(read_image(corpus / "anim.gif"), 10 / 255)  # first frame
    np.testing.assert_allclose(read_image(corpus / "pages.tif"), 10 / 255)  # first page


def test_cli_bad_image_writes_nothing(corpus):
    out = corpus / "out"
    r = CliRunner().invoke(main, ["run", NUMPYCNN, str(corpus / "truncated.png"), "-o", str(out)])
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and "Traceback" not in r.output
    assert not out.exists()


# --- configs ----------------------------------------------------------------


def test_binary_garbage_yaml(tmp_path):
    p = tmp_path / "g.yaml"
    p.write_bytes(np.random.default_rng(1).integers(0, 256, 2048, dtype=np.uint8).tobytes())
    with pytest.raises(CnnvizError) as info:
        load_config(p)
    assert str(info.value).startswith(f"{p}: the config is not UTF-8 text")


def test_text_garbage_yaml(tmp_path):
    p = tmp_path / "g.yaml"
    p.write_text("stages:\n  - relu\n  - {{{{ ]]] :::: \x07")
    with pytest.raises(CnnvizError) as info:
        load_config(p)
    assert str(info.value) == f"{p}:3:19: invalid YAML: the character #x0007 is not allowed"
    p.write_text("stages: [relu]\nfoo: {{{{ ]]]\n")
    with pytest.raises(CnnvizError) as info:
        load_config(p)
    assert str(info.value).startswith(f"{p}:2:") and ": invalid YAML: " in str(info.value)


def test_ten_megabyte_yaml_is_refused_quickly(tmp_path):
    p = tmp_path / "big.yaml"
    row = "[" + ", ".join(["0.5"] * 50) + "]"
    lines = ["stages:", "  - type: conv", "    filters:", "      - ["]
    lines += [f"          {row}," for _ in range(40000)]
    lines += ["        ]"]
    p.write_text("\n".join(lines) + "\n")
    assert p.stat().st_size > 10_000_000
    with pytest.raises(CnnvizError) as info:
        load_config(p)
    assert str(info.value) == (f"{p}: the config is {p.stat().st_size:,} characters, more than the limit "
                               "of 4,000,000 (keep large kernels in .npy files)")


def test_many_values_are_refused(tmp_path):
    p = tmp_path / "many.yaml"
    p.write_text("stages: [relu]\nx: [" + ",".join(["1"] * 200_001) + "]\n")
    with pytest.raises(CnnvizError) as info:
        load_config(p)
    assert "the document has more than 200,000 values (with aliases expanded)" in str(info.value)


def test_python_tags_never_run(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.yaml"
    p.write_text(f"stages:\n  - !!python/object/apply:os.system ['touch {marker}']\n"
                 f"name: !!python/name:os.system\n")
    with pytest.raises(CnnvizError) as info:
        load_config(p)
    assert "is not allowed" in str(info.value)
    assert not marker.exists()


def test_pickled_filter_file_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    arr = np.empty(1, dtype=object)
    arr[0] = Evil()
    with open(tmp_path / "evil.npy", "wb") as f:
        np.lib.format.write_array(f, arr, allow_pickle=True)
    (tmp_path / "pickle.npz").write_bytes(pickle.dumps([1, 2]))
    p = tmp_path / "c.yaml"
    p.write_text("stages:\n  - type: conv\n    filters: [{file: evil.npy}]\n")
    with pytest.raises(CnnvizError) as info:
        load_config(p)
    assert str(info.value) == f"{p}:3:22: stages[0].filters[0].file: kernel must hold real numbers, not dtype object"
    assert not marker.exists()


def test_filter_file_path_is_reported_in_full(tmp_path):
    sub = tmp_path / "cfg"
    sub.mkdir()
    p = sub / "c.yaml"
    p.write_text("stages:\n  - type: conv\n    filters: [{file: ../kernels/k.npy}]\n")
    with pytest.raises(CnnvizError) as info:
        load_config(p)
    assert str(info.value) == (f"{p}:3:22: stages[0].filters[0].file: filter file not found: "
                               f"{(tmp_path / 'kernels' / 'k.npy').resolve()}")


def test_huge_kernel_requests_are_refused_without_allocating():
    with pytest.raises(CnnvizError) as info:
        load_config({"stages": [{"type": "conv", "filters": [{"random": {"count": 4096, "size": 1025}}]}]})
    assert str(info.value) == ("stages[0].filters[0].random: 4096 kernels of 1025×1025×1 is 4,303,360,000 "
                               "values, more than the limit of 16,777,216")
    with pytest.raises(CnnvizError) as info:
        load_config({"stages": [{"type": "conv", "filters": [
            {"preset": "gabor_bank", "orientations": 360, "size": 1025}]}]})
    assert "360 kernels of 1025×1025×1 is 378,225,000 values" in str(info.value)


def test_unsafe_names_cannot_escape(tmp_path):
    for bad in ["../x", "a/b", "a\\b", "..", ".hidden", "x\x00y", "tab\tname", "nul"]:
        with pytest.raises(CnnvizError):
            load_config({"name": bad, "stages": ["relu"]})
        with pytest.raises(CnnvizError):
            load_config({"stages": [{"type": "relu", "name": bad}]})


def test_unwritable_output_location(tmp_path):
    f = tmp_path / "a-file"
    f.write_text("not a folder")
    r = CliRunner().invoke(main, ["run", NUMPYCNN, "camera", "-o", str(f / "sub")])
    assert r.exit_code == 1
    assert r.stderr == f"Error: {f / 'sub'}: cannot write the output: Not a directory\n"
    assert f.read_text() == "not a folder"


def test_control_characters_in_keys_stay_on_one_line():
    with pytest.raises(CnnvizError) as info:
        load_config({"stages": ["tanh"], "input": {"\n": None, "a\x07": 1}})
    assert [str(e) for e in info.value.errors] == [
        "input.\\n: unknown key '\\n'",
        "input.a\\x07: unknown key 'a\\x07'",
    ]
