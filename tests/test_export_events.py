"""The structured-event exports (issue 13 item 3): events-csv, casie, and the HTML page's trigger/argument marks."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

from threatevents.events import Argument, Event, Span, parse_event_document
from threatevents.export import FORMATS, export, export_string
from threatevents.export.eventfmt import EVENT_CSV_COLUMNS
from threatevents.tagging import TaggedSentence

TEXT = "Hackers stole records from =Acme Corp.\nThe firm patched it on Friday."
FIRST_END = TEXT.index("\n")
SECOND = FIRST_END + 1


def span(text: str, after: int = 0) -> tuple[int, int, str]:
    start = TEXT.index(text, after)
    return start, start + len(text), text


def argument(role: str, text: str, score: float | None = None) -> Argument:
    return Argument(role, *span(text), score=score)


BREACH = Event(
    "AttackDatabreach",
    "Actual",
    Span(*span("stole")),
    [
        argument("Attacker", "Hackers", 0.8),
        argument("Victim", "=Acme Corp", 0.7),
        argument("Compromised-Data", "records"),
    ],
    score=0.9,
)
PATCH = Event("PatchVulnerability", "Other", Span(*span("patched")), [], score=0.6)


def tagged(events: tuple[Event, ...] = (BREACH, PATCH), document: str = "acme.txt") -> list[TaggedSentence]:
    first = tuple(e for e in events if e.trigger.start < FIRST_END)
    second = tuple(e for e in events if e.trigger.start >= SECOND)
    return [
        TaggedSentence(document, 0, 0, FIRST_END, TEXT[:FIRST_END], ("AttackDatabreach",), {}, 0, events=first),
        TaggedSentence(document, 1, SECOND, len(TEXT), TEXT[SECOND:], ("PatchVulnerability",), {}, 1, events=second),
    ]


def rows(content: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content, newline="")))


def test_registry_has_the_event_formats() -> None:
    assert (FORMATS["events-csv"].media_type, FORMATS["events-csv"].extension) == ("text/csv", "events.csv")
    assert FORMATS["events-csv"].streamable and not FORMATS["casie"].streamable
    assert (FORMATS["casie"].media_type, FORMATS["casie"].extension) == ("application/json", "casie.json")


def test_events_csv_has_a_row_per_argument_and_per_event_without() -> None:
    content = export_string([tagged()], "events-csv")
    assert content.splitlines()[0].split(",") == EVENT_CSV_COLUMNS and content.endswith("\r\n")
    found = rows(content)
    assert [(r["event_id"], r["type"], r["role"], r["argument_text"]) for r in found] == [
        ("E1", "AttackDatabreach", "Attacker", "Hackers"),
        ("E1", "AttackDatabreach", "Victim", "'=Acme Corp"),  # CSV injection made inert
        ("E1", "AttackDatabreach", "Compromised-Data", "records"),
        ("E2", "PatchVulnerability", "", ""),
    ]
    for r in found:
        assert TEXT[int(r["trigger_start"]) : int(r["trigger_end"])] == r["trigger_text"]  # document offsets
        if r["role"]:
            assert TEXT[int(r["argument_start"]) : int(r["argument_end"])] == r["argument_text"].lstrip("'")
    assert [(r["sentence"], r["realis"], r["event_score"]) for r in found][2:] == [
        ("0", "Actual", "0.9000"),
        ("1", "Other", "0.6000"),
    ]
    assert [r["argument_score"] for r in found] == ["0.8000", "0.7000", "", ""]


def test_events_csv_streams_without_a_second_header() -> None:
    out = io.StringIO()
    export([tagged()], "events-csv", out)
    export([tagged(document="b.txt")], "events-csv", out, continued=True)
    found = rows(out.getvalue())
    assert [r["document"] for r in found] == ["acme.txt"] * 4 + ["b.txt"] * 4


def test_casie_json_reads_back_as_the_same_events_with_the_csv_ids() -> None:
    data = json.loads(export_string([tagged()], "casie"))
    assert data["content"] == TEXT and data["sourcefile"] == "acme.txt"
    document = parse_event_document(data, "acme", strict=True)  # every span checked against the text
    assert [e.to_record() for e in document.events] == [BREACH.to_record(), PATCH.to_record()]
    assert [e.id for e in document.events] == ["E1", "E2"]  # the event_id column of events-csv
    assert [a.role for a in document.events[0].arguments] == ["Attacker", "Victim", "Compromised-Data"]


def test_casie_several_documents_make_an_array_and_bad_spans_are_counted() -> None:
    stray = Event("AttackRansom", "Actual", Span(200, 205, "money"), [])  # offsets outside this document
    data = json.loads(export_string([tagged(), tagged((PATCH, stray), document="b.txt"), []], "casie"))
    assert [d["sourcefile"] for d in data] == ["acme.txt", "b.txt", "document"]
    assert data[1]["threatevents"] == {"dropped_events": 1}
    assert [e["subtype"] for h in data[1]["cyberevent"]["hopper"] for e in h["events"]] == ["PatchVulnerability"]
    assert data[2]["content"] == "" and data[2]["cyberevent"] == {"hopper": []}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.data.append(data)


def test_html_marks_triggers_and_arguments_with_roles() -> None:
    parser = _Tags()
    parser.feed(export_string([tagged()], "html"))
    marks = [attrs for tag, attrs in parser.tags if tag == "mark"]
    assert [m.get("data-role") for m in marks if m["class"] == "arg"] == ["Attacker", "Compromised-Data", "Victim"]
    assert [m["title"] for m in marks if m["class"] == "trg"] == [
        "AttackDatabreach trigger, realis Actual",
        "PatchVulnerability trigger, realis Other",
    ]
    text = "".join(parser.data)
    assert "Events in this report (2)" in text and "Victim: =Acme Corp" in text


def test_html_span_text_with_markup_stays_inert() -> None:
    hostile = "<script>alert(1)</script> stole <img src=x onerror=alert(2)> data."
    tail = hostile.index("<img")
    event = Event(
        "AttackDatabreach",
        "Actual",
        Span(0, 25, hostile[:25]),
        [Argument("Victim' onmouseover='x", tail, tail + 29, hostile[tail : tail + 29])],
    )
    sentence = TaggedSentence("x.html", 0, 0, len(hostile), hostile, ("AttackDatabreach",), {}, events=(event,))
    page = export_string([[sentence]], "html")
    parser = _Tags()
    parser.feed(page)
    tags = {tag for tag, _ in parser.tags}
    assert "mark" in tags and "script" not in tags and "img" not in tags
    assert not any(key.startswith("on") for _, attrs in parser.tags for key in attrs)
    assert "<script>alert(1)</script>" in "".join(parser.data)  # shown as text
    assert "default-src 'none'" in page
