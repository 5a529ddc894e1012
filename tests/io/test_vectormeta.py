"""Reading the metadata of SVG and PDF pictures back (``cnnviz inspect``): the exact text, and one clear line otherwise."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cnnviz.errors import CnnvizError
from cnnviz.io.pngio import read_png_metadata, write_png
from cnnviz.io.vectormeta import read_pdf_metadata, read_svg_metadata, sniff_format
from cnnviz.rendering.canvas import Drawing, Raster, Text
from cnnviz.rendering.palette import grid_palette
from cnnviz.rendering.vector import to_pdf, to_svg, write_vector
from tests.helpers import cli, error_of

TRICKY = {
    "Software": "cnnviz 1.2.3",
    "cnnviz.version": "1.2.3",
    # CR LF, a lone CR, tabs, XML and PDF specials, non-Latin text, trailing blank lines: all kept exactly
    "cnnviz.config": ("name: 'a <b> & \"c\" ]]>'\r\nseed: 0\rstages:\n\t- {type: conv, name: θ·λ (x) \\ y}\n"
                      "render: {cmap: RdBu_r}   \n\n\n"),
    "cnnviz.image": "ünïcode ✓ (1).png",
    "cnnviz.stage": "01_edges",
    "Title": "01 edges (conv) · 12×12×2 … −1",
}
WANT = {"version": "1.2.3", "config": TRICKY["cnnviz.config"], "image": TRICKY["cnnviz.image"],
        "stage": "01_edges", "title": TRICKY["Title"], "software": "cnnviz 1.2.3"}


def drawing() -> Drawing:
    d = Drawing(120, 60, 100, title=TRICKY["Title"])
    d.add(Text(4, 4, TRICKY["Title"], 11, bold=True))
    d.add(Raster(4, 24, 32, 32, np.arange(16, dtype=np.uint8).reshape(4, 4), grid_palette("gray"), "map 0"))
    return d


def test_svg_metadata_round_trips_exactly(tmp_path):
    write_vector(tmp_path / "a.svg", drawing(), "svg", TRICKY)
    got = read_svg_metadata(tmp_path / "a.svg")
    assert got == WANT and list(got) == list(WANT)


def test_pdf_metadata_round_trips_exactly(tmp_path):
    write_vector(tmp_path / "a.pdf", drawing(), "pdf", TRICKY)
    got = read_pdf_metadata(tmp_path / "a.pdf")
    assert got == WANT and list(got) == list(WANT)


def test_the_same_shape_as_a_png(tmp_path):
    write_png(tmp_path / "a.png", np.zeros((4, 4), np.uint8), text=TRICKY)
    write_vector(tmp_path / "a.svg", drawing(), "svg", TRICKY)
    write_vector(tmp_path / "a.pdf", drawing(), "pdf", TRICKY)
    png = read_png_metadata(tmp_path / "a.png")
    assert read_svg_metadata(tmp_path / "a.svg") == png == read_pdf_metadata(tmp_path / "a.pdf")


def test_a_control_character_survives_the_svg(tmp_path):
    meta = dict(TRICKY, **{"cnnviz.image": "bell\x07\x00.png"})
    (tmp_path / "a.svg").write_text(to_svg(drawing(), meta), encoding="utf-8")
    assert read_svg_metadata(tmp_path / "a.svg")["image"] == "bell\x07\x00.png"


# ---------------------------------------------------------------------------
# one clear line for everything else


def test_svg_errors(tmp_path):
    p = tmp_path / "x.svg"
    assert str(error_of(read_svg_metadata, p)) == f"file not found: {p}"
    assert str(error_of(read_svg_metadata, tmp_path)) == f"{tmp_path}: is a directory, not an SVG file"
    p.write_text("hello")
    assert str(error_of(read_svg_metadata, p)) == f"{p}: not an SVG file"
    buf = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buf, format="PNG")
    p.write_bytes(buf.getvalue())
    assert str(error_of(read_svg_metadata, p)) == f"{p}: not an SVG file (it is a PNG)"
    p.write_text("<html><body>not svg</body></html>")
    assert str(error_of(read_svg_metadata, p)) == f"{p}: not an SVG file"
    p.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>')
    assert str(error_of(read_svg_metadata, p)) == f"{p}: carries no cnnviz metadata (was it written by cnnviz?)"
    p.write_text('<svg xmlns="http://www.w3.org/2000/svg"><metadata><x:y xmlns:x="urn:other">1</x:y></metadata></svg>')
    assert str(error_of(read_svg_metadata, p)) == f"{p}: carries no cnnviz metadata (was it written by cnnviz?)"
    # an entity bomb is refused before it is expanded
    lol = '<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {c} "{("&" + p_ + ";") * 10}">' for p_, c in zip("abcdefgh", "bcdefghi")) + "]>"
    p.write_text(lol + '<svg xmlns="http://www.w3.org/2000/svg"><metadata>&i;</metadata></svg>')
    assert str(error_of(read_svg_metadata, p)) == f"{p}: declares XML entities; cnnviz never writes them, so it is not read"
    good = to_svg(drawing(), TRICKY)
    p.write_text(good[: good.index("<cnnviz:config>") + 40])  # cut off inside the metadata
    assert str(error_of(read_svg_metadata, p)).startswith(f"{p}: cannot read the SVG: ")


def test_a_cut_off_svg_after_its_metadata_is_still_read(tmp_path):
    p = tmp_path / "a.svg"
    good = to_svg(drawing(), TRICKY)
    p.write_text(good[: good.index("<image") + 30], encoding="utf-8")
    assert read_svg_metadata(p) == WANT


def test_pdf_errors(tmp_path):
    p = tmp_path / "x.pdf"
    assert str(error_of(read_pdf_metadata, p)) == f"file not found: {p}"
    assert str(error_of(read_pdf_metadata, tmp_path)) == f"{tmp_path}: is a directory, not a PDF file"
    p.write_text("hello")
    assert str(error_of(read_pdf_metadata, p)) == f"{p}: not a PDF file"
    p.write_text(to_svg(drawing(), TRICKY), encoding="utf-8")
    assert str(error_of(read_pdf_metadata, p)) == f"{p}: not a PDF file (it is an SVG)"
    p.write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
    assert str(error_of(read_pdf_metadata, p)) == f"{p}: cannot read the PDF: it has no trailer (is it cut short?)"
    from matplotlib.figure import Figure

    Figure(figsize=(1, 1)).savefig(p, format="pdf")  # a PDF, but not cnnviz's
    assert str(error_of(read_pdf_metadata, p)) == f"{p}: carries no cnnviz metadata (was it written by cnnviz?)"


def build_pdf(info: bytes, *, update: bytes | None = None) -> bytes:
    """A small hand-written PDF with a cross-reference table; ``update`` adds an incremental update's Info."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>", info]
    out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 3 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    if update is not None:
        off = len(out)
        out += b"4 0 obj\n" + update + b"\nendobj\n"
        x2 = len(out)
        out += b"xref\n0 1\n0000000000 65535 f \n4 1\n%010d 00000 n \n" % off
        out += b"trailer\n<< /Size 5 /Root 1 0 R /Info 4 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (xref, x2)
    return out


def test_the_pdf_string_syntax(tmp_path):
    p = tmp_path / "a.pdf"
    info = (b"<< /cnnviz.version (1.0) /cnnviz#2Econfig (a\\nb\\r\\tc \\(x\\) (balanced (nested)) \\\\ \\101\\0502"
            b"\\\ncontinued\\q)\n"
            b"/cnnviz.image <FEFF 03B8 00B7 03BB> /cnnviz.stage <3031 5F65 6467 6573>\n"
            b"/Title (\\200 bullet \\204 dash) /Creator (cnnviz 1.0) /Producer (hand) >>")
    p.write_bytes(build_pdf(info))
    assert read_pdf_metadata(p) == {
        "version": "1.0",
        "config": "a\nb\r\tc (x) (balanced (nested)) \\ A(2continued" + "q",
        "image": "θ·λ",
        "stage": "01_edges",
        "title": "• bullet — dash",  # PDFDocEncoding, not Latin-1
        "software": "cnnviz 1.0",
    }


def test_the_last_incremental_update_wins(tmp_path):
    p = tmp_path / "a.pdf"
    p.write_bytes(build_pdf(b"<< /cnnviz.version (old) >>", update=b"<< /cnnviz.version (new) /cnnviz.image (x) >>"))
    assert read_pdf_metadata(p) == {"version": "new", "image": "x"}


def test_inline_info_and_a_missing_xref(tmp_path):
    p = tmp_path / "a.pdf"
    data = build_pdf(b"<< /cnnviz.version (1) >>")
    p.write_bytes(data.replace(b"startxref\n", b"startxref\n9"))  # a wrong offset: found by its "3 0 obj"
    assert read_pdf_metadata(p) == {"version": "1"}


def test_sniff_format():
    assert sniff_format(b"\x89PNG\r\n\x1a\n....") == "png"
    assert sniff_format(b"%PDF-1.4\n") == "pdf"
    assert sniff_format(b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">') == "svg"
    assert sniff_format(b"hello") is None


# ---------------------------------------------------------------------------
# cnnviz inspect on the command line


@pytest.mark.parametrize("fmt", ["svg", "pdf"])
def test_inspect_prints_the_config(tmp_path, fmt):
    write_vector(tmp_path / f"a.{fmt}", drawing(), fmt, TRICKY)
    r = cli("inspect", str(tmp_path / f"a.{fmt}"))
    assert r.exit_code == 0 and r.stderr == ""
    printed = r.stdout_bytes.decode("utf-8")
    assert printed == ("version: 1.2.3\nimage: ünïcode ✓ (1).png\nstage: 01_edges\n"
                       f"title: {TRICKY['Title']}\nsoftware: cnnviz 1.2.3\nconfig:\n"
                       + TRICKY["cnnviz.config"].rstrip() + "\n")


def test_inspect_picks_the_reader_by_suffix_or_content(tmp_path):
    write_vector(tmp_path / "a.PDF", drawing(), "pdf", TRICKY)  # any case
    assert cli("inspect", str(tmp_path / "a.PDF")).exit_code == 0
    (tmp_path / "picture").write_text(to_svg(drawing(), TRICKY), encoding="utf-8")  # no suffix: by its first bytes
    assert "stage: 01_edges" in cli("inspect", str(tmp_path / "picture")).output


@pytest.mark.parametrize("name, content, message", [
    ("x.svg", None, "file not found: {p}"),
    ("x.svg", b"hello", "{p}: not an SVG file"),
    ("x.pdf", b"hello", "{p}: not a PDF file"),
    ("x.png", b"hello", "{p}: not a PNG file"),
    ("x.txt", b"hello", "{p}: not a PNG, SVG or PDF file"),
    ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "{p}: carries no cnnviz metadata (was it written by cnnviz?)"),
    ("x.pdf", b"%PDF-1.4\n", "{p}: cannot read the PDF: it has no trailer (is it cut short?)"),
])
def test_inspect_errors_are_one_line(tmp_path, name, content, message):
    p = tmp_path / name
    if content is not None:
        p.write_bytes(content)
    r = cli("inspect", str(p))
    assert r.exit_code == 1
    assert r.stdout == ""
    assert r.stderr == f"Error: {message.format(p=p)}\n"


def test_inspect_says_png_svg_or_pdf_in_its_help():
    r = cli("inspect", "--help")
    assert "inspect [OPTIONS] FILE" in r.output
    assert "PNG, SVG or PDF" in r.output


def test_a_wrong_suffix_is_caught(tmp_path):
    write_vector(tmp_path / "a.svg", drawing(), "svg", TRICKY)
    (tmp_path / "a.svg").rename(tmp_path / "a.pdf")
    r = cli("inspect", str(tmp_path / "a.pdf"))
    assert r.exit_code == 1 and r.stderr == f"Error: {tmp_path / 'a.pdf'}: not a PDF file (it is an SVG)\n"
    with pytest.raises(CnnvizError):
        read_svg_metadata(tmp_path / "nothing.svg")
    assert to_pdf(drawing(), TRICKY).startswith(b"%PDF-")
