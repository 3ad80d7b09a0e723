"""Decide a file's format from its bytes (never its name) and decode text without guessing.

:func:`detect_format` answers ``pdf``, ``docx``, ``html`` or ``text`` and raises
:class:`UnsupportedFormatError` for anything else (images, archives, executables, old binary Office
files, ZIPs that are not DOCX, binary data). :func:`decode_text` accepts UTF-8 (with or without BOM)
and UTF-16/UTF-32 with a BOM; HTML may also declare its charset in a ``<meta>`` tag. Anything else is a
:class:`DecodeError` rather than mojibake.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile

from .document import DecodeError, UnsupportedFormatError

INPUT_FORMATS = ("text", "html", "pdf", "docx")

# Magic numbers of common formats we refuse, to name them in the error message.
_REFUSED = [
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"RIFF", "a RIFF (WebP/WAV/AVI) file"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O or Java class file"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old binary Office file (.doc/.xls); save it as DOCX or PDF"),
    (b"{\\rtf", "an RTF document; save it as DOCX or PDF"),
    (b"%!PS", "a PostScript file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"OggS", "an Ogg media file"),
    (b"ID3", "an MP3 audio file"),
]
_TEXT_FORMATS = {b"{\\rtf", b"%!PS"}  # text-based formats we refuse; other magics must look binary too
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
_HTML_START = re.compile(rb"^(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)
_HTML_TAG = re.compile(rb"<(?:html|head|body|title|meta|div|p|article|section|h1|br|span|table)\b[^>]*>", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
_SNIFF_BYTES = 4096


def _bom_encoding(data: bytes) -> str | None:
    return next((enc for bom, enc in _BOMS if data.startswith(bom)), None)


def _is_plain_text(head: bytes) -> bool:
    """Do these bytes read as UTF-8 text without control characters (so "MZ Corp was hacked" is text)?"""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the sample
            return False
        text = head[: exc.start].decode("utf-8")
    return not _CONTROL.search(text)


def _zip_kind(data: bytes) -> str:
    """``docx`` for a Word document; :class:`UnsupportedFormatError` for any other or a broken ZIP."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UnsupportedFormatError(f"a damaged ZIP archive ({exc})") from None
    if "word/document.xml" in names and "[Content_Types].xml" in names:
        return "docx"
    if "xl/workbook.xml" in names or "ppt/presentation.xml" in names:
        raise UnsupportedFormatError("an Excel or PowerPoint file; only DOCX Office documents are supported")
    raise UnsupportedFormatError("a ZIP archive that is not a DOCX document")


def _looks_html(head: bytes) -> bool:
    stripped = head.lstrip()
    return bool(_HTML_START.match(stripped)) or (stripped[:1] == b"<" and len(_HTML_TAG.findall(stripped)) >= 2)


def _ascii_head(data: bytes) -> bytes:
    """The first bytes as ASCII-compatible bytes (UTF-16/32 with BOM re-encoded) for tag sniffing."""
    encoding = _bom_encoding(data)
    if encoding in (None, "utf-8-sig"):
        return data[3:_SNIFF_BYTES] if encoding else data[:_SNIFF_BYTES]
    head = data[: _SNIFF_BYTES * 4]
    return head.decode(encoding, errors="ignore").encode("utf-8", errors="ignore")[:_SNIFF_BYTES]


def detect_format(data: bytes) -> str:
    """The format of a file from its bytes: ``pdf``, ``docx``, ``html`` or ``text``.

    Raises :class:`UnsupportedFormatError` (with what the file seems to be) for anything else.
    """
    marker = data[:1024].find(b"%PDF-")  # readers accept junk before the header, but prose may quote it too
    if marker >= 0 and (not data[:marker].strip() or not _is_plain_text(data[:marker])):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    for magic, what in _REFUSED:
        if data.startswith(magic) and (magic in _TEXT_FORMATS or not _is_plain_text(data[:512])):
            raise UnsupportedFormatError(f"{what}, not a text, HTML, PDF or DOCX report")
    if data.startswith(b"PK"):
        raise UnsupportedFormatError("a ZIP archive that is not a DOCX document")
    head = _ascii_head(data)
    if _bom_encoding(data) is None and b"\x00" in data[:_SNIFF_BYTES]:
        raise UnsupportedFormatError("binary data, not a text, HTML, PDF or DOCX report")
    return "html" if _looks_html(head) else "text"


def decode_text(data: bytes, *, html: bool = False) -> str:
    """Decode UTF-8 / UTF-16 / UTF-32 (BOM required for the last two); HTML may declare its charset.

    Raises :class:`DecodeError` naming the first bad byte when none of these applies.
    """
    encoding = _bom_encoding(data)
    if encoding:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise DecodeError(f"starts with a {encoding} byte order mark but does not decode ({exc.reason})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        first_error = exc
    if html:
        declared = _META_CHARSET.search(data[:_SNIFF_BYTES])
        if declared:
            name = declared.group(1).decode("ascii")
            try:
                return data.decode(codecs.lookup(name).name)
            except (LookupError, UnicodeDecodeError):
                pass
    raise DecodeError(
        f"not UTF-8 text (invalid byte 0x{data[first_error.start]:02x} at offset {first_error.start}); "
        "save it as UTF-8 or UTF-16 with a byte order mark"
    )
