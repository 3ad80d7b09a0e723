"""Compare text extractors for HTML and PDF: what they keep, what they leak, how fast, how they fail.

HTML: trafilatura, readability-lxml and jusText on the hand-made pages in ``tests/fixtures/ingest``
(``pages.json`` lists each page's article sentences and boilerplate markers), plus a page of 100,000
nested ``<div>``. PDF: pypdf, pdfminer.six and pypdfium2 on a generated report (reportlab), each
followed by the same reflow and splitter, plus a Flate bomb run in a subprocess with a time limit.

Run: ``python benchmarks/bench_extractors.py [--bomb-mb 300]``. Extractors not installed are skipped.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "ingest"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))  # the hostile PDF builders the ingestion tests use

from pdf_samples import flate_bomb  # noqa: E402
from threatevents.ingest import normalize_text, split_sentences  # noqa: E402
from threatevents.ingest.html import extract_html  # noqa: E402
from threatevents.ingest.pdf import reflow  # noqa: E402

HtmlExtractor = Callable[[str], tuple[str | None, str]]
PdfExtractor = Callable[[bytes], list[str]]


def _trafilatura(html: str) -> tuple[str | None, str]:
    import trafilatura

    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False)
    return (doc.title, doc.text or "") if doc else (None, "")


def _readability(html: str) -> tuple[str | None, str]:
    import lxml.html
    from readability import Document

    doc = Document(html)
    return doc.short_title(), lxml.html.fromstring(doc.summary()).text_content()


def _justext(html: str) -> tuple[str | None, str]:
    import justext

    paragraphs = justext.justext(html.encode(), justext.get_stoplist("English"))
    return None, "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


HTML_EXTRACTORS: dict[str, HtmlExtractor] = {
    "trafilatura": _trafilatura,
    "readability-lxml": _readability,
    "justext": _justext,
    "threatevents (trafilatura + fallback)": extract_html,
}


def _pypdf(data: bytes) -> list[str]:
    import pypdf

    return [page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def _pdfminer(data: bytes) -> list[str]:
    from pdfminer.high_level import extract_text

    return extract_text(io.BytesIO(data)).split("\x0c")


def _pypdfium2(data: bytes) -> list[str]:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(data)
    return [pdf[i].get_textpage().get_text_range().replace("\r\n", "\n") for i in range(len(pdf))]


PDF_EXTRACTORS: dict[str, PdfExtractor] = {"pypdf": _pypdf, "pdfminer.six": _pdfminer, "pypdfium2": _pypdfium2}


def flat(text: str) -> str:
    return " ".join(text.split())


def bench_html() -> None:
    pages = json.loads((FIXTURES / "pages.json").read_text(encoding="utf-8"))
    deep = "<html><body>" + "<div>" * 100_000 + "<p>Deep article text survives.</p>" + "</div>" * 100_000
    print(
        "HTML, per page: article sentences in the text / split out exactly (one paragraph per line) / boilerplate"
        " markers leaked / title; then the 100k-nested page, and ms per page after a warm-up"
    )
    for name, extract in HTML_EXTRACTORS.items():
        try:
            extract((FIXTURES / next(iter(pages))).read_text(encoding="utf-8"))
            cells, elapsed = [], 0.0
            for file, gold in pages.items():
                html = (FIXTURES / file).read_text(encoding="utf-8")
                t0 = time.perf_counter()
                title, text = extract(html)
                elapsed += time.perf_counter() - t0
                kept = sum(flat(s) in flat(text) for s in gold["article"])
                split = {span.text for span in split_sentences(normalize_text(text))}
                exact = sum(s in split for s in gold["article"])
                leaked = sum(marker.lower() in text.lower() for marker in gold["boilerplate"])
                n = len(gold["article"])
                cells.append(f"{kept}/{n} in, {exact}/{n} exact, {leaked} leaked, title {title == gold['title']}")
            try:
                deep_ok = "Deep article text" in extract(deep)[1]
            except RecursionError:
                deep_ok = False
        except ImportError as exc:
            print(f"  {name:<38}skipped ({exc.name} not installed)")
            continue
        ms = 1000 * elapsed / len(pages)
        print(f"  {name:<38}{' | '.join(cells)} | deep page text {deep_ok} | {ms:.1f} ms")


def make_report_pdf(pages: int) -> tuple[bytes, list[str]]:
    """A generated report: a heading and three wrapped paragraphs per page; returns its sentences."""
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    sentences = [
        "Attackers sent thousands of phishing emails to customers of three regional banks last week.",
        "The messages imitated security alerts and linked to a fake login page that collected one-time codes.",
        "The banks said that fewer than a hundred customers entered their details.",
        "All affected accounts were frozen within hours, and no money was lost.",
        "Researchers traced the fake pages to a hosting provider in another country.",
        "The same group ran a similar campaign against an insurance company in the spring.",
    ]
    styles = getSampleStyleSheet()
    story: list[object] = []
    for number in range(pages):
        if number:
            story.append(PageBreak())
        story.append(Paragraph("Phishing wave hits regional banks", styles["Title"]))
        story.extend(Paragraph(" ".join(sentences[i : i + 2]), styles["BodyText"]) for i in range(0, 6, 2))
    buf = io.BytesIO()
    SimpleDocTemplate(buf).build(story)
    return buf.getvalue(), ["Phishing wave hits regional banks", *sentences]


def _bomb_child(name: str, path: str) -> None:
    """Run in a subprocess: extract the bomb, print outcome, seconds and peak memory."""
    data = Path(path).read_bytes()
    t0 = time.perf_counter()
    try:
        if name == "threatevents (pypdf, capped)":
            from threatevents.ingest import IngestError, ingest_bytes

            try:
                ingest_bytes(data, name="bomb.pdf")
                outcome = "extracted"
            except IngestError as exc:
                outcome = f"refused: {type(exc).__name__}"
        else:
            PDF_EXTRACTORS[name](data)
            outcome = "extracted"
    except Exception as exc:
        outcome = f"raised {type(exc).__name__}"
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{outcome}; {time.perf_counter() - t0:.1f} s; peak {peak_mb:.0f} MB")


def bench_pdf(bomb_mb: int, timeout: float) -> None:
    try:
        report, expected = make_report_pdf(20)
    except ImportError:
        print("PDF: skipped (reportlab not installed)")
        return
    print("PDF: sentences recovered after reflow + split (20 pages); pages/s; Flate bomb in a subprocess")
    bomb_path = Path("/tmp") / f"threatevents-bomb-{bomb_mb}mb.pdf"
    bomb_path.write_bytes(flate_bomb(make_report_pdf(1)[0], bomb_mb))
    names = [*PDF_EXTRACTORS, "threatevents (pypdf, capped)"]
    for name in names:
        if name in PDF_EXTRACTORS:
            try:
                t0 = time.perf_counter()
                pages = PDF_EXTRACTORS[name](report)
                rate = 20 / (time.perf_counter() - t0)
            except ImportError as exc:
                print(f"  {name:<30}skipped ({exc.name} not installed)")
                continue
            text = normalize_text("\n\n".join(reflow(page) for page in pages))
            got = [span.text for span in split_sentences(text)]
            recovered = sum(min(got.count(s), 20) for s in expected) / (20 * len(expected))
            quality = f"{recovered:6.1%} recovered, {rate:6.1f} pages/s"
        else:
            quality = " " * 34
        cmd = [sys.executable, __file__, "--bomb-child", name, str(bomb_path)]
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
            bomb = run.stdout.strip() or run.stderr.strip().splitlines()[-1]
        except subprocess.TimeoutExpired:
            bomb = f"still running after {timeout:.0f} s (killed)"
        print(f"  {name:<30}{quality} | {bomb_mb} MB bomb ({bomb_path.stat().st_size // 1024} KB): {bomb}")
    bomb_path.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bomb-mb", type=int, default=300, help="inflated size of the Flate bomb")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a bomb run is killed")
    parser.add_argument("--bomb-child", nargs=2, metavar=("EXTRACTOR", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bomb_child:
        _bomb_child(*args.bomb_child)
        return 0
    bench_html()
    print()
    bench_pdf(args.bomb_mb, args.timeout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
