"""The metadata of cnnviz's SVG and PDF pictures, read back (``cnnviz inspect``).

``render.format: svg | pdf`` writes the same metadata every PNG carries in
its text chunks (:mod:`~cnnviz.io.pngio`): ``Software``, ``Title``,
``cnnviz.version``, ``cnnviz.config`` (the resolved config, YAML),
``cnnviz.image`` and ``cnnviz.stage``.

SVG
    One element per key in the :data:`SVG_NAMESPACE` namespace inside the
    SVG's ``<metadata>``: ``cnnviz.config`` is ``<cnnviz:config>``, the PNG
    keywords ``Software`` and ``Title`` are ``<cnnviz:software>`` and
    ``<cnnviz:title>`` (the title is also the SVG's own ``<title>``).  The
    text is XML-escaped exactly (a carriage return as ``&#13;``, so the
    parser does not turn it into a line feed); a value with a character XML
    cannot hold at all (a control character) is stored as UTF-8 base64 with
    ``encoding="base64"``.
PDF
    The document information dictionary: ``/cnnviz.version``,
    ``/cnnviz.config``, ``/cnnviz.image``, ``/cnnviz.stage`` as custom keys,
    ``Title`` as ``/Title`` and ``Software`` as ``/Creator`` (the PDF name
    of the program that made the document).  They are read here by a small
    parser of PDF objects (literal and hex strings with every escape,
    UTF-16BE with a byte-order mark, PDFDocEncoding otherwise), found through
    the last trailer's ``/Info`` and the cross-reference table.

Both readers return what :func:`~cnnviz.io.pngio.read_png_metadata`
returns for a PNG: the ``cnnviz.`` keys without their prefix, then ``title``
and ``software``.  Neither imports matplotlib, click or an XML library that
would expand entities: an SVG that declares entities is refused.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from pathlib import Path
from typing import Any

from ..errors import CnnvizError
from .pngio import TEXT_PREFIX

__all__ = ["SVG_NAMESPACE", "PDF_KEYS", "read_svg_metadata", "read_pdf_metadata", "sniff_format"]

#: The XML namespace of cnnviz's elements in an SVG's ``<metadata>``.
SVG_NAMESPACE = "urn:cnnviz:metadata"
_SVG = "http://www.w3.org/2000/svg"

#: PNG keywords -> the PDF information dictionary's standard keys.
PDF_KEYS = {"Title": "Title", "Software": "Creator"}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sniff_format(head: bytes) -> str | None:
    """``png``, ``pdf`` or ``svg`` from a file's first bytes (``None`` for anything else)."""
    if head.startswith(_PNG_SIGNATURE):
        return "png"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"%PDF-") or b"%PDF-" in head[:1024]:
        return "pdf"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<") and b"<svg" in head:
        return "svg"
    return None


def _open(path: str | os.PathLike[str], kind: str) -> tuple[Path, Any]:
    p = Path(path)
    try:
        return p, open(p, "rb")
    except FileNotFoundError:
        raise CnnvizError(f"file not found: {p}") from None
    except IsADirectoryError:
        raise CnnvizError(f"{p}: is a directory, not {kind} file") from None
    except OSError as exc:
        raise CnnvizError(f"{p}: cannot read the file: {exc.strerror}") from None


def _not_a(p: Path, kind: str, head: bytes) -> CnnvizError:
    other = sniff_format(head)
    article = "an" if other == "svg" else "a"
    return CnnvizError(f"{p}: not {kind} file" + (f" (it is {article} {other.upper()})" if other else ""))


def _shape(p: Path, found: dict[str, str], standard: dict[str, str]) -> dict[str, str]:
    """``read_png_metadata``'s shape: the cnnviz keys (prefix dropped), then ``title`` and ``software``."""
    if not found:
        raise CnnvizError(f"{p}: carries no cnnviz metadata (was it written by cnnviz?)")
    out = dict(found)
    for key in ("title", "software"):
        if key in standard:
            out.setdefault(key, standard[key])
    return out


# ---------------------------------------------------------------------------
# SVG


class _Stop(Exception):
    """The metadata has been read: stop parsing (the maps after it are not needed)."""


def read_svg_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read back the metadata cnnviz writes into every SVG.

    Parameters
    ----------
    path : path
        An SVG that cnnviz wrote.

    Returns
    -------
    dict
        ``version``, ``config`` (YAML text of the resolved config), ``image``,
        and, where present, ``stage``, ``title`` and ``software`` — as
        :func:`~cnnviz.io.pngio.read_png_metadata`.

    Raises
    ------
    CnnvizError
        The file is missing, not an SVG, or carries no cnnviz metadata.
    """
    from xml.parsers import expat

    p, f = _open(path, "an SVG")
    found: dict[str, str] = {}
    state: dict[str, Any] = {"depth": 0, "root": None, "key": None, "b64": False, "buf": [], "meta": 0}

    def start(name: str, attrs: dict[str, str]) -> None:
        state["depth"] += 1
        if state["depth"] == 1:
            state["root"] = name
            if name != f"{_SVG} svg":
                raise _Stop
        if name == f"{_SVG} metadata":
            state["meta"] += 1
        ns, _, local = name.rpartition(" ")
        if ns == SVG_NAMESPACE and state["meta"] and state["key"] is None and local != "metadata":
            state["key"], state["b64"], state["buf"] = local, attrs.get("encoding") == "base64", []

    def end(name: str) -> None:
        state["depth"] -= 1
        ns, _, local = name.rpartition(" ")
        if ns == SVG_NAMESPACE and local == state["key"]:
            text = "".join(state["buf"])
            if state["b64"]:
                try:
                    text = base64.b64decode(text, validate=True).decode("utf-8", "surrogatepass")
                except (binascii.Error, UnicodeDecodeError):
                    text = ""
            found.setdefault(local, text)
            state["key"] = None
        elif name == f"{_SVG} metadata":
            state["meta"] -= 1
            if found and not state["meta"]:
                raise _Stop

    def chars(data: str) -> None:
        if state["key"] is not None:
            state["buf"].append(data)

    def no_entities(*_args: Any) -> None:
        raise CnnvizError(f"{p}: declares XML entities; cnnviz never writes them, so it is not read")

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.EntityDeclHandler = no_entities
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    head = b""
    with f:
        try:
            while True:
                block = f.read(1 << 16)
                if not head:
                    head = block[:1024]
                parser.Parse(block, not block)
                if not block:
                    break
        except _Stop:
            pass
        except expat.ExpatError:
            if state["root"] is None or state["root"] != f"{_SVG} svg":
                raise _not_a(p, "an SVG", head) from None
            raise CnnvizError(f"{p}: cannot read the SVG: {_expat_message(parser)}") from None
        except OSError as exc:
            raise CnnvizError(f"{p}: cannot read the file: {exc.strerror}") from None
    if state["root"] != f"{_SVG} svg":
        raise _not_a(p, "an SVG", head)
    # ``title`` and ``software`` are the PNG keywords Title and Software (written after the cnnviz keys)
    standard: dict[str, str] = {k: found.pop(k) for k in ("title", "software") if k in found}
    return _shape(p, found, standard)


def _expat_message(parser: Any) -> str:
    from xml.parsers import expat

    return f"{expat.ErrorString(parser.ErrorCode)} at line {parser.ErrorLineNumber}"


# ---------------------------------------------------------------------------
# PDF: just enough of the object syntax to read the information dictionary.


class _Ref(tuple):  # type: ignore[type-arg]
    """An indirect reference ``N G R``."""


class _Name(str):
    """A PDF name (``/Title``), as opposed to a string (bytes)."""


_WS = b"\x00\t\n\x0c\r "
_DELIM = b"()<>[]{}/%"
_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("f"): b"\x0c",
            ord("("): b"(", ord(")"): b")", ord("\\"): b"\\"}


class _PdfError(ValueError):
    pass


class _Parser:
    """PDF objects from ``data`` at ``pos``: dicts, arrays, strings (bytes), names, numbers, refs."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def skip(self) -> None:
        d, n = self.data, len(self.data)
        while self.pos < n:
            c = d[self.pos]
            if c in _WS:
                self.pos += 1
            elif c == 0x25:  # % comment to the end of the line
                while self.pos < n and d[self.pos] not in b"\r\n":
                    self.pos += 1
            else:
                break

    def token(self) -> bytes:
        self.skip()
        d, start = self.data, self.pos
        while self.pos < len(d) and d[self.pos] not in _WS and d[self.pos] not in _DELIM:
            self.pos += 1
        return d[start:self.pos]

    def value(self) -> Any:
        self.skip()
        d = self.data
        if self.pos >= len(d):
            raise _PdfError("unexpected end of the file")
        c = d[self.pos:self.pos + 2]
        if c == b"<<":
            self.pos += 2
            out: dict[str, Any] = {}
            while True:
                self.skip()
                if d[self.pos:self.pos + 2] == b">>":
                    self.pos += 2
                    return out
                key = self.value()
                if not isinstance(key, _Name):
                    raise _PdfError("a dictionary key that is not a name")
                out[str(key)] = self.value()
        if c[:1] == b"[":
            self.pos += 1
            items: list[Any] = []
            while True:
                self.skip()
                if d[self.pos:self.pos + 1] == b"]":
                    self.pos += 1
                    return items
                items.append(self.value())
        if c[:1] == b"(":
            return self.literal()
        if c[:1] == b"<":
            return self.hex()
        if c[:1] == b"/":
            self.pos += 1
            return _Name(_name(self.token()))
        tok = self.token()
        if not tok:
            raise _PdfError(f"unexpected {d[self.pos:self.pos + 1]!r}")
        if tok in (b"true", b"false"):
            return tok == b"true"
        if tok == b"null":
            return None
        if re.fullmatch(rb"\d+", tok):  # N G R?
            save = self.pos
            gen = self.token()
            if re.fullmatch(rb"\d+", gen) and self.token() == b"R":
                return _Ref((int(tok), int(gen)))
            self.pos = save
            return int(tok)
        try:
            return float(tok) if b"." in tok else int(tok)
        except ValueError:
            raise _PdfError(f"unexpected {tok[:20]!r}") from None

    def literal(self) -> bytes:
        d, n = self.data, len(self.data)
        self.pos += 1
        out = bytearray()
        depth = 1
        while True:
            if self.pos >= n:
                raise _PdfError("a string that never ends")
            c = d[self.pos]
            self.pos += 1
            if c == 0x5C:  # backslash
                if self.pos >= n:
                    raise _PdfError("a string that never ends")
                e = d[self.pos]
                self.pos += 1
                if e in _ESCAPES:
                    out += _ESCAPES[e]
                elif 0x30 <= e <= 0x37:  # up to three octal digits
                    digits = bytes([e])
                    while len(digits) < 3 and self.pos < n and 0x30 <= d[self.pos] <= 0x37:
                        digits += d[self.pos:self.pos + 1]
                        self.pos += 1
                    out.append(int(digits, 8) & 0xFF)
                elif e == 0x0D:  # a line continuation: \ CR [LF]
                    if d[self.pos:self.pos + 1] == b"\n":
                        self.pos += 1
                elif e == 0x0A:
                    pass
                else:  # an unknown escape: the backslash is ignored
                    out.append(e)
            elif c == 0x28:
                depth += 1
                out.append(c)
            elif c == 0x29:
                depth -= 1
                if depth == 0:
                    return bytes(out)
                out.append(c)
            elif c == 0x0D:  # an end of line in a string is a line feed, whatever it was written as
                if d[self.pos:self.pos + 1] == b"\n":
                    self.pos += 1
                out.append(0x0A)
            else:
                out.append(c)

    def hex(self) -> bytes:
        end = self.data.find(b">", self.pos)
        if end < 0:
            raise _PdfError("a hex string that never ends")
        digits = re.sub(rb"[\x00\t\n\x0c\r ]", b"", self.data[self.pos + 1:end])
        self.pos = end + 1
        if not re.fullmatch(rb"[0-9A-Fa-f]*", digits):
            raise _PdfError("a hex string with a character that is not a hex digit")
        if len(digits) % 2:
            digits += b"0"
        return bytes.fromhex(digits.decode("ascii"))


def _name(raw: bytes) -> str:
    """A name's characters, ``#xx`` escapes decoded."""
    out = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
    return out.decode("utf-8", "replace")


#: PDFDocEncoding where it differs from Latin-1 (PDF 32000-1, Annex D.2); 0x7F, 0x9F, 0xAD are undefined.
_PDFDOC = dict(zip(range(0x18, 0x20), "˘ˇˆ˙˝˛˚˜")) | dict(zip(
    range(0x80, 0x9F), "•†‡…—–ƒ⁄‹›−‰„“”‘’‚™ﬁﬂŁŒŠŸŽıłœšž")) | {0xA0: "€"}


def _text(raw: Any) -> str:
    """A PDF text string: UTF-16BE (or, PDF 2.0, UTF-8) after a byte-order mark, else PDFDocEncoding."""
    if not isinstance(raw, bytes):
        return str(raw)
    if raw.startswith(b"\xfe\xff"):
        return raw[2:].decode("utf-16-be", "surrogatepass")
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", "surrogatepass")
    return "".join(_PDFDOC.get(b, chr(b)) for b in raw)


def _trailer_info(data: bytes) -> Any:
    """The last trailer's (or cross-reference stream's) ``/Info``: a reference or a dictionary."""
    for m in reversed(list(re.finditer(rb"trailer[\x00\t\n\x0c\r ]*<<", data))):
        try:
            trailer = _Parser(data, m.end() - 2).value()
        except (_PdfError, IndexError):
            continue
        if isinstance(trailer, dict) and "Info" in trailer:
            return trailer["Info"]
    hits = list(re.finditer(rb"/Info[\x00\t\n\x0c\r ]+(\d+)[\x00\t\n\x0c\r ]+(\d+)[\x00\t\n\x0c\r ]+R", data))
    return _Ref((int(hits[-1].group(1)), int(hits[-1].group(2)))) if hits else None


def _object_at(data: bytes, ref: _Ref) -> Any:
    """Object ``ref``: at its offset in the last cross-reference table, else wherever ``N G obj`` is last written."""
    num, gen = ref
    starts = []
    m = re.search(rb"startxref[\x00\t\n\x0c\r ]+(\d+)", data[-2048:])
    if m:
        pos = int(m.group(1))
        t = re.compile(rb"xref[\x00\t\n\x0c\r ]+").match(data, pos)
        if t:
            p = _Parser(data, t.end())
            try:
                while True:
                    first, count = p.token(), p.token()
                    if not (first.isdigit() and count.isdigit()):
                        break
                    first_i, count_i = int(first), int(count)
                    p.skip()
                    if first_i <= num < first_i + count_i:
                        entry = data[p.pos + 20 * (num - first_i):p.pos + 20 * (num - first_i) + 18].split()
                        if len(entry) == 3 and entry[2] == b"n":
                            starts.append(int(entry[0]))
                        break
                    p.pos += 20 * count_i
            except (ValueError, IndexError):
                pass
    starts += [m.start() for m in reversed(list(re.finditer(rb"(?<![0-9])%d[\x00\t\n\x0c\r ]+%d[\x00\t\n\x0c\r ]+obj"
                                                             % (num, gen), data)))]
    for start in starts:
        head = re.compile(rb"%d[\x00\t\n\x0c\r ]+%d[\x00\t\n\x0c\r ]+obj" % (num, gen)).match(data, start)
        if head:
            try:
                return _Parser(data, head.end()).value()
            except (_PdfError, IndexError):
                continue
    return None


def read_pdf_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read back the metadata cnnviz writes into every PDF (its document information dictionary).

    Parameters
    ----------
    path : path
        A PDF that cnnviz wrote.

    Returns
    -------
    dict
        As :func:`~cnnviz.io.pngio.read_png_metadata`: ``version``,
        ``config``, ``image``, ``stage`` (the ``/cnnviz.*`` keys), then
        ``title`` (``/Title``) and ``software`` (``/Creator``).

    Raises
    ------
    CnnvizError
        The file is missing, not a PDF, or carries no cnnviz metadata.
    """
    p, f = _open(path, "a PDF")
    with f:
        try:
            data = f.read()
        except OSError as exc:
            raise CnnvizError(f"{p}: cannot read the file: {exc.strerror}") from None
    if b"%PDF-" not in data[:1024]:
        raise _not_a(p, "a PDF", data[:1024])
    ref = _trailer_info(data)
    if ref is None:
        if b"startxref" not in data[-2048:]:
            raise CnnvizError(f"{p}: cannot read the PDF: it has no trailer (is it cut short?)")
        raise CnnvizError(f"{p}: carries no cnnviz metadata (was it written by cnnviz?)")
    info = _object_at(data, ref) if isinstance(ref, _Ref) else ref
    if not isinstance(info, dict):
        raise CnnvizError(f"{p}: carries no cnnviz metadata (was it written by cnnviz?)")
    found = {k[len(TEXT_PREFIX):]: _text(v) for k, v in info.items() if k.startswith(TEXT_PREFIX)}
    standard = {png.lower(): _text(info[pdf]) for png, pdf in PDF_KEYS.items() if pdf in info}
    return _shape(p, found, standard)
