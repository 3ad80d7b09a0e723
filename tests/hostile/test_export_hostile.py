"""Hostile cases for what the project writes (issue 11 item 10, OWASP "CSV injection"): text that starts like a
spreadsheet formula, in every text cell of every CSV format of the export registry (the ``events-csv`` one
included), through the library, the CLI and the service. No cell of any CSV may start with ``= + - @``, a tab
or a carriage return: a spreadsheet would run it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from threatevents.events import Argument, Event, Span
from threatevents.export import FORMATS, export_string
from threatevents.indicators import Indicator
from threatevents.labels import EVENT_LABELS
from threatevents.tagging import TaggedSentence

pytestmark = pytest.mark.hostile

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CSV_FORMATS = sorted(name for name, f in FORMATS.items() if f.media_type.startswith("text/csv"))
SCORES = {**dict.fromkeys(EVENT_LABELS, 0.1), "O": 0.9}


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def _unsafe(text: str) -> list[str]:
    return [cell for cell in _cells(text) if cell.startswith(TRIGGERS)]


def _hostile_sentence(trigger: str) -> TaggedSentence:
    """A sentence whose document name, text, indicator, event trigger and argument all start with ``trigger``."""
    text = f'{trigger}HYPERLINK("http://x.example","y") {trigger}2+3 stole {trigger}cmd'
    stole = text.index("stole")
    arg = text.rindex(f"{trigger}cmd")
    event = Event(
        "AttackDatabreach",
        "Actual",
        Span(stole - len(trigger) - 4, stole + 5, text[stole - len(trigger) - 4 : stole + 5]),
        [Argument("Attacker", arg, len(text), text[arg:], score=0.9)],
        score=0.8,
    )
    indicator = Indicator("domain", "x.example", text[:9], 0, 9, 0)
    return TaggedSentence(
        f"{trigger}cmd|' /C calc'!A0.txt",
        0,
        0,
        len(text),
        text,
        ("AttackDatabreach",),
        SCORES,
        0,
        (indicator,),
        None,
        (event,),
    )


def test_the_registry_has_the_csv_formats_this_file_checks() -> None:
    assert {"csv", "events-csv"} <= set(CSV_FORMATS)


@pytest.mark.parametrize("fmt", CSV_FORMATS)
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_no_csv_format_writes_a_cell_that_starts_a_formula(fmt: str, trigger: str) -> None:
    written = export_string([[_hostile_sentence(trigger)]], fmt)
    assert len(_cells(written)) > len(_cells(export_string([[]], fmt)))  # rows were written, not only a header
    assert _unsafe(written) == []


def test_cli_csv_of_a_hostile_file_is_inert(tmp_path: Path) -> None:
    from threatevents.cli import app

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "=cmd.txt").write_text("=1+2 ransomware hit.\n\n+SUM(1) phishing.\n\n-2+3 fell.\n\n@A1 patch.\n")
    result = CliRunner().invoke(app, ["tag", str(folder), "--model", "linear", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert len(_cells(result.stdout)) > 20 and _unsafe(result.stdout) == []


def test_service_csv_exports_of_a_hostile_document_are_inert(tmp_path: Path) -> None:
    pytest.importorskip("fastapi", reason="the service needs the 'serve' extra")
    from fastapi.testclient import TestClient

    from conftest import KeywordModel
    from threatevents.service.app import create_app
    from threatevents.service.settings import Settings

    settings = Settings(db_url=f"sqlite:///{tmp_path / 'te.sqlite3'}", page=True)
    text = "=1+2 ransom was paid.\n@SUM(1) phishing mail.\n-2+3 hackers stole data.\n+cmd patch released."
    with TestClient(create_app(settings, model=KeywordModel()), base_url="http://127.0.0.1") as client:
        doc = client.post("/v1/documents", json={"text": text, "name": "=evil.txt", "title": "@title"})
        assert doc.status_code == 201, doc.text
        doc_id = doc.json()["id"]
        for fmt in CSV_FORMATS:
            for url in (f"/v1/documents/{doc_id}/export?format={fmt}", f"/documents/{doc_id}/export/{fmt}"):
                answer = client.get(url)
                assert answer.status_code == 200, (url, answer.text)
                assert _unsafe(answer.text) == [], url
