import csv
import io
import json

import pytest

from threatevents.corpus import parse_document
from threatevents.export import export_string, render_html
from threatevents.labels import ALL_LABELS
from threatevents.tagging import TaggedSentence

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


def test_jsonl_records_have_the_documented_fields():
    lines = export_string([_tagged()], "jsonl").splitlines()
    rec = json.loads(lines[0])
    assert list(rec) == ["document", "index", "start", "end", "text", "labels", "scores"]
    assert rec["labels"] == ["AttackRansom"] and set(rec["scores"]) == set(ALL_LABELS)


def test_csv_has_header_and_one_row_per_sentence():
    rows = list(csv.DictReader(io.StringIO(export_string([_tagged(), _tagged("r2")], "csv"))))
    assert len(rows) == 4 and rows[0]["labels"] == "AttackRansom" and rows[0]["score_AttackRansom"] == "0.9300"


def test_corpus_format_reads_back_as_training_data():
    text = export_string([_tagged()], "corpus")
    doc = parse_document(text, "r1", strict=True)
    assert doc.labels == [("AttackRansom",), ("O",)]


def test_html_escapes_report_text_and_shows_summary():
    page = export_string([_tagged()], "html")
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "AttackRansom × 1" in page and "AttackRansom 0.93" in page
    assert "Content-Security-Policy" in page


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown format"):
        export_string([_tagged()], "xml")


def test_empty_document_page_renders():
    assert "(empty)" in render_html([[]])
