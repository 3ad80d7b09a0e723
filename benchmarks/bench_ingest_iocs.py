"""Indicators that survive ingestion, and a DOCX whose ZIP header lies about a member's size.

1. Indicators: a generated PDF report (reportlab; the tests' builders) whose paragraphs each carry
   a defanged IP, a SHA-256 pushed to a line of its own, a SHA-512 and a long defanged URL that the
   layout cuts, is ingested; each expected indicator is looked for, refanged, among the indicators of the
   sentence that should hold it (``threatevents.indicators``). A plain-text report with the same
   sentences is scored the same way (the splitter alone).
2. Lying DOCX: ``word/document.xml`` declares 4,000 bytes in both ZIP headers and inflates to
   ``--bomb-mib`` MiB. Peak RSS of the process (``ru_maxrss``) before and after ingesting it.

Run: ``python benchmarks/bench_ingest_iocs.py [--paragraphs 40] [--bomb-mib 1024]`` (needs the dev extra).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from test_ingest_pdf_docx import ioc_paragraph, lying_docx, make_pdf  # noqa: E402
from threatevents.indicators import extract_indicators  # noqa: E402
from threatevents.ingest import IngestError, ingest_bytes  # noqa: E402


def indicators_intact(sentences: list[str], expected: list[str]) -> int:
    found = {indicator.value for sentence in sentences for indicator in extract_indicators(sentence)}
    return sum(value in found for value in expected)


def bench_indicators(n: int) -> None:
    paragraphs = [ioc_paragraph(i) for i in range(n)]
    expected = [value for _, values in paragraphs for value in values]
    pdf = ingest_bytes(make_pdf([text for text, _ in paragraphs]), name="iocs.pdf")
    text = ingest_bytes("\n\n".join(text for text, _ in paragraphs).encode(), name="iocs.txt")
    for doc in (text, pdf):
        intact = indicators_intact(doc.texts, expected)
        print(f"{doc.name}: {intact} of {len(expected)} indicators found whole in their sentences")


def bench_lying_docx(mib: int) -> None:
    data = lying_docx(mib << 20)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        ingest_bytes(data, name="liar.docx")
        outcome = "read"
    except IngestError as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"lying DOCX ({mib} MiB inflated, {len(data):,} bytes on disk): {outcome}")
    print(f"  {seconds:.2f} s, peak RSS {before / 1024:.0f} MB before, {after / 1024:.0f} MB after")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paragraphs", type=int, default=40)
    parser.add_argument("--bomb-mib", type=int, default=1024)
    args = parser.parse_args(argv)
    bench_indicators(args.paragraphs)
    bench_lying_docx(args.bomb_mib)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
