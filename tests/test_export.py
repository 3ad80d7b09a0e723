"""threatevents.export: the format registry and the JSONL, CSV, corpus and HTML writers."""

import csv
import io
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from test_tagging import RECORD_FIELDS
from threatevents.corpus import parse_document
from threatevents.export import FORMATS, export_string, get_format
from threatevents.export.page import render_html
from threatevents.export.tabular import safe_cell
from threatevents.indicators import Indicator
from threatevents.ingest import ingest_text
from threatevents.labels import ALL_LABELS
from threatevents.tagging import Review, TaggedSentence, tag_documents

SCORES = dict.fromkeys(ALL_LABELS, 0.0)


def _tagged(doc="r1"):
    return [
        TaggedSentence(
            doc,
            0,
            0,
            30,
            "Ransomware hit <script>x</script>",
            ("AttackRansom",),
            {**SCORES, "AttackRansom": 0.93, "O": 0.07},
        ),
        TaggedSentence(doc, 1, 31, 45, "Shares fell.", ("O",), {**SCORES, "O": 0.9}),
    ]


class KeywordScorer:
    """Ransom/phish keywords -> event probabilities (what tagging needs of a model)."""

    def predict_proba(self, docs):
        import numpy as np

        rows = [
            [0.0, 0.9 if "phish" in s.lower() else 0.0, 0.9 if "ransom" in s.lower() else 0.0, 0, 0]
            for d in docs
            for s in d
        ]
        return np.array(rows, dtype=float).reshape(-1, 5)

    def decide(self, probs):
        names = ("AttackDatabreach", "AttackPhishing", "AttackRansom", "DiscoverVulnerability", "PatchVulnerability")
        return [tuple(n for n, p in zip(names, row, strict=True) if p >= 0.5) or ("O",) for row in probs]


def test_registry_names_every_format_with_media_type_extension_and_writer():
    assert list(FORMATS) == ["jsonl", "csv", "corpus", "html", "stix", "events-csv", "casie"]
    assert {f.name: f.streamable for f in FORMATS.values()} == {
        "jsonl": True,
        "csv": True,
        "corpus": True,
        "html": False,
        "stix": False,
        "events-csv": True,
        "casie": False,
    }
    assert get_format("stix").media_type == "application/json" and get_format("html").extension == "html"
    for fmt in FORMATS:  # every writer takes TaggedSentence documents, empty ones included
        assert isinstance(export_string([_tagged(), []], fmt, created=datetime(2026, 1, 2, tzinfo=UTC)), str)


def test_jsonl_records_have_the_documented_fields():
    lines = export_string([_tagged()], "jsonl").splitlines()
    rec = json.loads(lines[0])
    assert list(rec) == RECORD_FIELDS
    assert rec["labels"] == ["AttackRansom"] and set(rec["scores"]) == set(ALL_LABELS) and rec["review"] is None


def test_review_is_exported_with_the_model_labels():
    reviewed = TaggedSentence(
        "r", 0, 0, 5, "Text.", ("O",), SCORES, review=Review(False, "ann", ("AttackRansom",), datetime(2026, 1, 1))
    )
    (rec,) = [json.loads(line) for line in export_string([[reviewed]], "jsonl").splitlines()]
    assert (
        rec["labels"] == ["O"] and rec["review"]["predicted"] == ["AttackRansom"] and rec["review"]["reviewer"] == "ann"
    )
    (row,) = csv.DictReader(io.StringIO(export_string([[reviewed]], "csv")))
    assert (row["labels"], row["predicted"], row["reviewer"]) == ("O", "AttackRansom", "ann")


def test_csv_has_header_and_one_row_per_sentence():
    rows = list(csv.DictReader(io.StringIO(export_string([_tagged(), _tagged("r2")], "csv"))))
    assert len(rows) == 4 and rows[0]["labels"] == "AttackRansom" and rows[0]["score_AttackRansom"] == "0.9300"


def test_csv_continued_stream_has_no_second_header():
    first, rest = io.StringIO(), io.StringIO()
    get_format("csv").write([_tagged()], first)
    get_format("csv").write([_tagged("r2")], rest, continued=True)
    rows = list(csv.DictReader(io.StringIO(first.getvalue() + rest.getvalue())))
    assert [r["document"] for r in rows] == ["r1", "r1", "r2", "r2"]


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_cannot_start_a_formula(trigger):
    """Issue 11 item 10 (OWASP CSV injection): text cells starting with a formula trigger get a leading quote."""
    evil = f'{trigger}HYPERLINK("http://x.example","y")'
    indicator = Indicator("domain", "x.example", "x.example", 0, 9, 0)
    sentence = TaggedSentence(f"{trigger}cmd.txt", 0, 0, len(evil), evil, ("O",), SCORES, 0, (indicator,))
    (row,) = csv.DictReader(io.StringIO(export_string([[sentence]], "csv")))
    assert row["text"] == "'" + evil and row["document"] == f"'{trigger}cmd.txt"
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values())


def test_safe_cell_leaves_numbers_and_plain_text():
    assert safe_cell(-1) == -1 and safe_cell("plain") == "plain" and safe_cell("a=b") == "a=b"


def test_corpus_format_reads_back_as_training_data():
    text = export_string([_tagged()], "corpus")
    doc = parse_document(text, "r1", strict=True)
    assert doc.labels == [("AttackRansom",), ("O",)]


def test_html_escapes_report_text_and_shows_summary():
    page = export_string([_tagged()], "html")
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "AttackRansom × 1" in page and "AttackRansom 0.93" in page
    assert "Content-Security-Policy" in page


class _Paragraphs(HTMLParser):
    """Counts <p> elements inside each <div class="doc"> and the sentences in each."""

    def __init__(self):
        super().__init__()
        self.paragraphs: list[int] = []
        self.in_doc = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and attrs.get("class") == "doc":
            self.in_doc = True
        elif tag == "p" and self.in_doc:
            self.paragraphs.append(0)
        elif tag == "span" and attrs.get("class") == "s" and self.in_doc:
            self.paragraphs[-1] += 1

    def handle_endtag(self, tag):
        if tag == "div":
            self.in_doc = False


def test_html_page_keeps_the_source_paragraphs_left_aligned():
    """Issue 10 defect 7: the page was one justified block; now one <p> per paragraph of the source text."""
    text = "Ransom was demanded. The city paid.\n\nA phishing mail came first.\nIt imitated payroll. Staff clicked."
    (tagged,) = tag_documents(KeywordScorer(), [ingest_text(text, name="r.txt")])
    assert [s.paragraph for s in tagged] == [0, 0, 1, 2, 2]
    page = render_html([tagged])
    parser = _Paragraphs()
    parser.feed(page)
    assert parser.paragraphs == [2, 1, 2]
    assert "justify" not in page and re.search(r"text-align:\s*left", page)


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown format 'xml'; choose from jsonl, csv, corpus, html, stix"):
        export_string([_tagged()], "xml")


def test_empty_document_page_renders():
    assert "(empty)" in render_html([[]])


def test_tagged_indicators_have_document_offsets():
    """Issue 10 defect 2: an indicator's start/end index the document text, and it names its sentence."""
    text = "Nothing here.\n\nThe C2 was 185.220.101[.]45 and hxxp://bad[.]com/x. Patch CVE-2024-1234 now."
    (tagged,) = tag_documents(KeywordScorer(), [ingest_text(text, name="r.txt")])
    found = [i for s in tagged for i in s.indicators]
    assert {i.value for i in found} == {"185.220.101.45", "http://bad.com/x", "CVE-2024-1234"}
    for s in tagged:
        for i in s.indicators:
            assert i.sentence == s.index and text[i.start : i.end] == i.raw
    records = [json.loads(line) for line in export_string([tagged], "jsonl").splitlines()]
    assert [i for r in records for i in r["indicators"]] == [i.to_dict() for i in found]
    rows = list(csv.DictReader(io.StringIO(export_string([tagged], "csv"))))
    assert any(f"ipv4:185.220.101.45@{text.index('185.')}-" in r["indicators"] for r in rows)
