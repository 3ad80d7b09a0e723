"""PDF and DOCX ingestion: happy paths (titles, reflowed paragraphs, offsets) and hostile files.

The files are generated here: PDFs with reportlab (skipped when it is absent) and pypdf, DOCX with
python-docx and zipfile. Bombs are small on disk and must be refused quickly.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable

import pytest

from pdf_samples import flate_bomb, with_flate_content
from test_ingest import BODY, _zip, assert_offsets
from threatevents.ingest import (
    DecodeError,
    EmptyDocumentError,
    IngestError,
    TooLargeError,
    UnsupportedFormatError,
    detect_format,
    ingest_bytes,
)
from threatevents.ingest.docx import extract_docx
from threatevents.ingest.pdf import extract_pdf, meaningful_title, reflow

TITLE = "Phishing wave hits regional banks"


def make_pdf(paragraphs: list[str], *, title: str | None = TITLE, heading: str | None = TITLE, pages: int = 1) -> bytes:
    """A PDF with a heading and wrapped paragraphs on each page, and ``title`` in its metadata."""
    reportlab = pytest.importorskip("reportlab")
    del reportlab
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    buf = io.BytesIO()
    story: list[object] = []
    for number in range(pages):
        if number:
            story.append(PageBreak())
        if heading:
            story.append(Paragraph(heading, styles["Title"]))
        story.extend(Paragraph(p, styles["BodyText"]) for p in paragraphs)
    SimpleDocTemplate(buf, title=title or "", author="tests").build(story)
    return buf.getvalue()


def make_docx(paragraphs: list[str], *, title: str = TITLE, table: list[list[str]] | None = None) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.add_heading(title, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def lying_docx(real_bytes: int, declared: int = 4_000) -> bytes:
    """A DOCX whose ``word/document.xml`` declares ``declared`` bytes in both of its ZIP headers but
    inflates to ``real_bytes`` (the member is written streaming, then its size fields are patched)."""
    base = zipfile.ZipFile(io.BytesIO(make_docx([BODY[0]])))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for info in base.infolist():
            if info.filename != "word/document.xml":
                out.writestr(info, base.read(info))
                continue
            with out.open("word/document.xml", "w") as member:
                member.write(base.read(info))
                block = b" " * (1 << 20)
                for _ in range(real_bytes >> 20):
                    member.write(block)
    data = bytearray(buf.getvalue())
    target = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("word/document.xml")
    struct.pack_into("<I", data, target.header_offset + 22, declared)  # local header: uncompressed size
    name = b"word/document.xml"
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        if data[central + 46 : central + 46 + len(name)] == name:
            struct.pack_into("<I", data, central + 24, declared)  # central directory: uncompressed size
            break
        central = data.find(b"PK\x01\x02", central + 4)
    patched = bytes(data)
    assert zipfile.ZipFile(io.BytesIO(patched)).getinfo("word/document.xml").file_size == declared
    return patched


def peak_memory(call: Callable[[], object]) -> tuple[BaseException | None, int]:
    """(the exception ``call`` raised or None, the peak bytes Python allocated meanwhile)."""
    tracemalloc.start()
    try:
        call()
        error = None
    except Exception as exc:
        error = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return error, peak


# --- PDF ------------------------------------------------------------------------------------------------------------


def test_pdf_title_first_and_wrapped_lines_joined() -> None:
    long_paragraphs = [" ".join(BODY[:2]), " ".join(BODY[2:])]
    doc = ingest_bytes(make_pdf(long_paragraphs), name="report.pdf")
    assert doc.format == "pdf" and doc.title == TITLE and doc.meta["pages"] == "1"
    assert doc.texts == [TITLE, *BODY]
    assert doc.text.count(TITLE) == 1
    assert_offsets(doc)


def test_pdf_metadata_title_is_the_title_not_a_sentence_of_the_body() -> None:
    doc = ingest_bytes(make_pdf([BODY[0]], heading=None), name="report.pdf")
    assert doc.title == TITLE
    assert doc.texts == [BODY[0]] and TITLE not in doc.text


def test_docx_metadata_title_is_the_title_not_a_sentence_of_the_body() -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = TITLE
    document.add_paragraph(BODY[0])
    buf = io.BytesIO()
    document.save(buf)
    doc = ingest_bytes(buf.getvalue(), name="report.docx")
    assert doc.title == TITLE and doc.texts == [BODY[0]]


SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
LONG_URL = "hxxps://cdn-updates[.]example-malicious-domain[.]com/static/downloads/2024/loader/stage2/payload.bin"


def test_pdf_hash_pushed_to_a_line_of_its_own_stays_in_its_sentence() -> None:
    sentence = f"The loader drops a second stage whose SHA-256 is {SHA256} and which then contacts the operators daily."
    doc = ingest_bytes(make_pdf([sentence, BODY[1]]), name="report.pdf")
    assert doc.texts == [TITLE, sentence, BODY[1]]
    assert_offsets(doc)


def test_pdf_hash_and_url_cut_by_the_line_end_are_rejoined() -> None:
    paragraphs = [
        f"SHA-512 of the dropper: {SHA256}{SHA256[::-1]}. It was signed with a stolen certificate.",
        f"The payload was hosted at {LONG_URL} and fetched on boot by the scheduled task.",
        "Visit https://example.com/ for more details on how these were acquired by the affected company last week.",
    ]
    doc = ingest_bytes(make_pdf(paragraphs), name="report.pdf")
    assert doc.texts == [
        TITLE,
        f"SHA-512 of the dropper: {SHA256}{SHA256[::-1]}.",
        "It was signed with a stolen certificate.",
        paragraphs[1],
        paragraphs[2],
    ]


def ioc_paragraph(i: int) -> tuple[str, list[str]]:
    """A paragraph whose four indicators a PDF layout pushes or cuts (a SHA-512 often over three lines),
    and their refanged values."""
    ip = f"10.20.{i % 250}[.]{(7 * i) % 250}"
    sha256 = f"{i:04x}{SHA256[4:]}"
    sha512 = f"{i:04x}{SHA256[4:]}{SHA256[::-1]}"
    url = f"hxxps://cdn-updates[.]example-malicious-domain{i}[.]com/static/downloads/2024/loader/stage2/payload.bin"
    text = (
        f"The implant contacted the C2 server at {ip} every morning. "
        f"The loader drops a second stage whose SHA-256 is {sha256} and which then contacts the operators. "
        f"SHA-512 of the dropper: {sha512}. "
        f"The payload was hosted at {url} and fetched on boot by the scheduled task."
    )
    return text, [ip.replace("[.]", "."), sha256, sha512, url.replace("hxxps", "https").replace("[.]", ".")]


def test_every_indicator_of_a_multi_page_pdf_report_is_found_whole() -> None:
    from threatevents.indicators import extract_indicators

    paragraphs = [ioc_paragraph(i) for i in range(24)]
    doc = ingest_bytes(make_pdf([text for text, _ in paragraphs]), name="iocs.pdf")
    assert int(doc.meta["pages"]) > 1
    found = {indicator.value for sentence in doc.texts for indicator in extract_indicators(sentence)}
    assert [value for _, values in paragraphs for value in values if value not in found] == []
    assert_offsets(doc)


def test_pdf_list_of_hashes_keeps_one_hash_a_line() -> None:
    hashes = [SHA256, SHA256.upper(), SHA256[::-1]]
    doc = ingest_bytes(make_pdf(["Indicators of compromise:", *hashes]), name="iocs.pdf")
    assert doc.texts == [TITLE, "Indicators of compromise:", *hashes]


def test_pdf_without_text_layer_asks_for_ocr() -> None:
    pytest.importorskip("reportlab")
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    page = canvas.Canvas(buf)
    page.rect(100, 100, 200, 200, fill=1)
    page.save()
    with pytest.raises(EmptyDocumentError, match=r"^scan\.pdf: no text found .*OCR"):
        ingest_bytes(buf.getvalue(), name="scan.pdf")


@pytest.mark.parametrize("title", ["", "Microsoft Word - draft3.docx", "report_final.pdf", "Untitled", "123"])
def test_meaningless_pdf_titles_are_ignored(title: str) -> None:
    assert meaningful_title(title) is None
    assert meaningful_title(f"  {TITLE} ") == TITLE


def test_reflow_joins_wrapped_lines_and_hyphenation_but_keeps_short_lines() -> None:
    lines = ["Short heading", "A line long enough to have been wrapped by the", "layout engine, and after that it con-"]
    page = "\n".join([*lines, "tinues here.", "End."])
    joined = "A line long enough to have been wrapped by the layout engine, and after that it continues here."
    assert reflow(page) == f"Short heading\n{joined}\nEnd."


def test_reflow_keeps_paragraph_breaks_and_joins_a_lower_case_continuation() -> None:
    page = "First paragraph ends here.\n\nThe second one is cut after\nthe word after.\nA new one."
    assert reflow(page) == "First paragraph ends here.\nThe second one is cut after the word after.\nA new one."


@pytest.mark.parametrize(
    ("lines", "joined"),
    [
        ([f"x {SHA256[:50]}", f"{SHA256[50:]} y"], f"x {SHA256} y"),  # a hash cut in two
        ([f"x {SHA256[:32]}", f"{SHA256[32:]} y"], f"x {SHA256[:32]} {SHA256[32:]} y"),  # two MD5s stay two
        (  # a SHA-512 over three lines
            [f"the dropper is {SHA256[:45]}", SHA256[45:] + SHA256[:50], f"{SHA256[50:]}. Y"],
            f"the dropper is {SHA256}{SHA256}. Y",
        ),
        (["at https://evil.example/a/b/c/d/e/f/g/h/i/j/k/", "payload.bin today"], None),
        (["read https://example.com/ and then much more of this long", "report today"], None),
    ],
)
def test_reflow_glues_a_cut_hash_or_url_without_a_space(lines: list[str], joined: str | None) -> None:
    long_line = "a" * 40 + " " + "b" * 20  # the page's width
    result = reflow("\n\n".join([long_line, "\n".join(lines)])).split("\n")
    if joined is None:
        joined = lines[0] + ("" if lines[1].startswith("payload") else " ") + lines[1]
    assert result[-1] == joined


def test_pdf_character_budget_stops_early() -> None:
    data = make_pdf([" ".join(BODY)], pages=5)
    result = extract_pdf(data, max_chars=200)
    assert "truncated" in result.meta and result.meta["pages"] == "5"
    assert len(result.text) <= 200


def test_pdf_flate_bomb_is_refused() -> None:
    data = flate_bomb(make_pdf([BODY[0]]), 100)
    assert len(data) < 200_000
    with pytest.raises(TooLargeError, match=r"^bomb\.pdf: the PDF expands past the safety limits"):
        ingest_bytes(data, name="bomb.pdf")


def test_pdf_content_stream_with_millions_of_operators_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from threatevents.ingest import pdf as pdf_module

    monkeypatch.setattr(pdf_module, "MAX_STREAM_TOKENS", 10_000)
    content = zlib.compress(b"BT /F1 12 Tf 72 700 Td " + b"(word) Tj " * 20_000 + b"ET")
    with pytest.raises(TooLargeError, match="safety limits"):
        ingest_bytes(with_flate_content(make_pdf([BODY[0]]), content), name="operators.pdf")


@pytest.mark.parametrize("data", [b"%PDF-1.7\n1 0 obj garbage\n%%EOF", b"%PDF-1.4\n" + bytes(range(256)) * 4])
def test_damaged_pdf_is_a_clear_error(data: bytes) -> None:
    assert detect_format(data) == "pdf"
    with pytest.raises(IngestError, match=r"^broken\.pdf: "):
        ingest_bytes(data, name="broken.pdf")


def _encrypted_pdf(user_password: str, algorithm: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([BODY[0]]))))
    writer.encrypt(user_password, owner_password="owner-secret", algorithm=algorithm)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


@pytest.mark.parametrize("algorithm", ["AES-128", "AES-256", "RC4-128"])
def test_encrypted_pdf_without_a_user_password_is_read(algorithm: str) -> None:
    doc = ingest_bytes(_encrypted_pdf("", algorithm), name="locked-for-editing.pdf")
    assert doc.texts == [TITLE, BODY[0]] and doc.title == TITLE


@pytest.mark.parametrize("algorithm", ["AES-128", "AES-256"])
def test_aes_pdf_that_needs_a_password_is_refused_clearly(algorithm: str) -> None:
    with pytest.raises(IngestError, match=r"^locked\.pdf: the PDF is password-protected"):
        ingest_bytes(_encrypted_pdf("secret", algorithm), name="locked.pdf")


def test_encrypted_pdf_is_refused() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([BODY[0]]))))
    writer.encrypt("secret", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(IngestError, match="password-protected"):
        ingest_bytes(buf.getvalue(), name="locked.pdf")


# --- DOCX -----------------------------------------------------------------------------------------------------------


def test_docx_title_paragraphs_and_tables() -> None:
    data = make_docx(BODY[:2], table=[["Vendor", "Patched"], ["Acme", "Yes"]])
    assert detect_format(data) == "docx"
    doc = ingest_bytes(data, name="report.docx")
    assert doc.format == "docx" and doc.title == TITLE
    assert doc.texts == [TITLE, BODY[0], BODY[1], "Vendor", "Patched", "Acme", "Yes"]
    assert_offsets(doc)


def test_docx_character_budget_stops_early() -> None:
    result = extract_docx(make_docx(BODY * 10), max_chars=300)
    assert "truncated" in result.meta and len(result.text) < 600


def test_docx_zip_bomb_is_refused() -> None:
    data = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b" " * (50 << 20)})
    assert len(data) < 200_000
    with pytest.raises(TooLargeError, match=r"^bomb\.docx: DOCX part 'word/document.xml' is compressed"):
        ingest_bytes(data, name="bomb.docx")


def test_docx_member_whose_header_lies_about_its_size_is_refused_within_a_chunk() -> None:
    data = lying_docx(64 << 20)
    assert len(data) < 500_000
    error, peak = peak_memory(lambda: ingest_bytes(data, name="liar.docx"))
    assert isinstance(error, TooLargeError), error
    assert str(error).startswith("liar.docx: DOCX part 'word/document.xml' inflates past the 4,000 bytes")
    assert peak < 16 << 20, f"peak {peak:,} bytes"


def test_docx_member_with_a_damaged_stream_is_a_clear_error() -> None:
    data = bytearray(make_docx(BODY))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("word/document.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 10 : start + 40] = bytes(30)
    with pytest.raises(DecodeError, match=r"^broken\.docx: cannot read this DOCX"):
        ingest_bytes(bytes(data), name="broken.docx")


def test_docx_total_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from threatevents.ingest import docx as docx_module

    monkeypatch.setattr(docx_module, "MAX_TOTAL_BYTES", 1000)
    with pytest.raises(TooLargeError, match="expands to"):
        ingest_bytes(make_docx(BODY), name="big.docx")


def test_damaged_docx_is_a_clear_error() -> None:
    data = _zip({"[Content_Types].xml": b"not xml", "word/document.xml": b"<w:document"})
    with pytest.raises(DecodeError, match=r"^broken\.docx: cannot read this DOCX"):
        ingest_bytes(data, name="broken.docx")


def test_spreadsheet_is_not_a_docx() -> None:
    data = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
    with pytest.raises(UnsupportedFormatError, match="Excel or PowerPoint"):
        ingest_bytes(data, name="sheet.xlsx")


def test_docx_budget_cuts_a_single_huge_paragraph() -> None:
    result = extract_docx(make_docx(["word " * 2000]), max_chars=300)
    assert len(result.text) <= 300 and "truncated" in result.meta
