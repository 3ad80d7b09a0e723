"""Tagging documents and raw text with a model (the keyword model of conftest: no training)."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest

from conftest import KeywordModel
from threatevents.events import RECORD_SCHEMA_PATH, Argument, Event, Span
from threatevents.ingest import ingest_text
from threatevents.labels import ALL_LABELS, EVENT_LABELS, O
from threatevents.tagging import TaggedSentence, document_events, tag_documents, tag_text, tag_texts

REPORT = "Ransomware encrypted the city's servers. The mayor spoke on Tuesday.\n\nA patch fixed the flaw."

#: The JSONL record of `threatevents tag` (docs/exports.md), in order; the API and every export give the same.
RECORD_FIELDS = [
    "document",
    "index",
    "start",
    "end",
    "paragraph",
    "text",
    "labels",
    "scores",
    "indicators",
    "review",
    "events",
]


def test_tag_documents_scores_every_sentence_in_one_call() -> None:
    model = KeywordModel()
    docs = [ingest_text(REPORT, name="a.txt"), ingest_text("Nothing happened.", name="b.txt")]
    tagged = tag_documents(model, docs)
    assert model.calls == 1
    assert [[s.text for s in doc] for doc in tagged] == [
        ["Ransomware encrypted the city's servers.", "The mayor spoke on Tuesday.", "A patch fixed the flaw."],
        ["Nothing happened."],
    ]
    first, second, third = tagged[0]
    assert (first.document, first.index, first.labels) == ("a.txt", 0, ("AttackRansom",))
    assert second.labels == (O,) and second.event_labels == ()
    assert third.labels == ("DiscoverVulnerability", "PatchVulnerability")
    assert REPORT[third.start : third.end] == third.text  # offsets into the document text
    assert tagged[1][0].document == "b.txt" and tagged[1][0].index == 0


def test_scores_cover_every_label_with_o_as_one_minus_the_highest_event() -> None:
    (tagged,) = tag_documents(KeywordModel(), [ingest_text(REPORT)])
    for sentence in tagged:
        assert list(sentence.scores) == list(ALL_LABELS)
        events = [sentence.scores[name] for name in EVENT_LABELS]
        assert sentence.scores[O] == pytest.approx(1 - max(events))
    assert tagged[0].scores["AttackRansom"] == 0.9 and tagged[0].scores[O] == pytest.approx(0.1)


def test_labels_follow_the_model_thresholds() -> None:
    model = KeywordModel()
    model.thresholds = np.full(len(EVENT_LABELS), 0.95)  # nothing passes
    (tagged,) = tag_documents(model, [ingest_text(REPORT)])
    assert {s.labels for s in tagged} == {(O,)}


def test_no_documents_means_no_model_call() -> None:
    model = KeywordModel()
    assert tag_documents(model, []) == []
    assert model.calls == 0


def test_tag_text_records_match_the_cli_jsonl_shape() -> None:
    records = tag_text(KeywordModel(), REPORT, document="r")
    assert [r["index"] for r in records] == [0, 1, 2]
    assert list(records[0]) == RECORD_FIELDS
    assert records[0]["document"] == "r" and records[0]["labels"] == ["AttackRansom"]
    assert all(r["events"] == [] for r in records)  # this model extracts no events
    assert [r["paragraph"] for r in records] == [0, 0, 1] and records[0]["review"] is None


def test_indicators_are_found_with_document_offsets() -> None:
    text = "Ransomware hit.\n\nThe C2 at 10.20.30[.]40 and CVE-2024-1234 were named."
    (tagged,) = tag_documents(KeywordModel(), [ingest_text(text)])
    (second,) = [s for s in tagged if s.indicators]
    assert [(i.type, i.sentence, text[i.start : i.end]) for i in second.indicators] == [
        ("ipv4", second.index, "10.20.30[.]40"),
        ("cve", second.index, "CVE-2024-1234"),
    ]
    (plain,) = tag_documents(KeywordModel(), [ingest_text(text)], indicators=False)
    assert all(s.indicators == () for s in plain)


def test_tag_texts_names_documents_and_puts_titles_first() -> None:
    model = KeywordModel()
    batches = tag_texts(model, ["A phishing wave hit banks.", "Shares rose."], titles=["Bank breach", None])
    assert model.calls == 1
    assert [r["document"] for r in batches[0]] == ["text-0", "text-0"]
    assert [r["text"] for r in batches[0]] == ["Bank breach", "A phishing wave hit banks."]
    assert batches[0][0]["labels"] == ["AttackDatabreach"]
    assert [r["text"] for r in batches[1]] == ["Shares rose."] and batches[1][0]["document"] == "text-1"
    named = tag_texts(model, ["Shares rose."], names=["market.txt"])
    assert named[0][0]["document"] == "market.txt"


def test_model_tag_and_tag_many_delegate_to_tagging() -> None:
    model = KeywordModel()
    assert model.tag(REPORT, title="City hit", document="d") == tag_text(model, REPORT, title="City hit", document="d")
    assert model.tag_many([REPORT, "Shares rose."]) == tag_texts(model, [REPORT, "Shares rose."])


def test_document_events_counts_sentences_per_event() -> None:
    def sentence(labels: tuple[str, ...]) -> TaggedSentence:
        return TaggedSentence("d", 0, 0, 1, "x", labels, {})

    tagged = [sentence(("AttackRansom",)), sentence((O,)), sentence(("AttackRansom", "AttackDatabreach"))]
    assert document_events(tagged) == {"AttackDatabreach": 1, "AttackRansom": 2}
    assert document_events([]) == {}


def test_sentence_records_carry_events_in_document_offsets_valid_under_the_schema() -> None:
    """Issue 12 item 6: a tagged sentence's record lists its events as ``Event.to_record()`` dicts, offsets in the
    document text (an argument in the previous sentence keeps its document offsets), valid under the shipped schema."""
    text = "Acme Corp said on Monday. Hackers stole the records of 4,000 customers."
    second = text.index("Hackers")
    event = Event(
        "AttackDatabreach",
        "Actual",
        Span(text.index("stole"), text.index("stole") + 5, "stole"),
        [
            Argument("Attacker", second, second + 7, "Hackers", score=0.8),
            Argument("Victim", 0, 9, "Acme Corp", score=0.6),  # in the sentence before the trigger's
            Argument("Time", text.index("Monday"), text.index("Monday") + 6, "Monday", score=0.4),
        ],
        score=0.9,
    )
    sentence = TaggedSentence("d", 1, second, len(text), text[second:], ("AttackDatabreach",), {}, events=(event,))
    record = json.loads(json.dumps(sentence.to_record()))
    schema = json.loads(RECORD_SCHEMA_PATH.read_text(encoding="utf-8"))
    (item,) = record["events"]
    jsonschema.validate(item, schema)
    assert item["trigger"] == {"start": 34, "end": 39, "text": "stole"} and item["score"] == 0.9
    assert [(a["role"], text[a["start"] : a["end"]]) for a in item["arguments"]] == [
        ("Attacker", "Hackers"),
        ("Victim", "Acme Corp"),
        ("Time", "Monday"),
    ]
    back = Event.from_record(item, text)  # every span checked against the document text
    assert back.to_record() == event.to_record()
    assert TaggedSentence("d", 0, 0, 1, "x", ("O",), {}).to_record()["events"] == []


class ExtractingModel(KeywordModel):
    """The keyword model with an event extractor: "ransom" in a sentence is an AttackRansom trigger, the first
    word of the sentence its Victim (offsets in the frame of the given sentence starts)."""

    has_event_extractor = True

    def predict_proba_and_events(
        self, docs: list[list[str]], starts: list[list[int]]
    ) -> tuple[np.ndarray, list[list[list[Event]]]]:
        out = []
        for texts, offsets in zip(docs, starts, strict=True):
            per_sentence = []
            for text, at in zip(texts, offsets, strict=True):
                lower = text.lower()
                if "ransom" not in lower:
                    per_sentence.append([])
                    continue
                t = lower.index("ransom")
                word = text.split()[0]
                victim = Argument("Victim", at, at + len(word), word)
                per_sentence.append(
                    [Event("AttackRansom", "Actual", Span(at + t, at + t + 6, text[t : t + 6]), [victim])]
                )
            out.append(per_sentence)
        return self.predict_proba(docs), out


def test_a_model_with_an_event_extractor_gives_each_sentence_its_events_in_document_offsets() -> None:
    doc = ingest_text("Acme was hit.\n\nCityhall paid the ransom on Monday. Nothing else.", name="d")
    tagged = tag_documents(ExtractingModel(), [doc], indicators=False)[0]
    assert [len(s.events) for s in tagged] == [0, 1, 0]
    (event,) = tagged[1].events
    assert doc.text[event.trigger.start : event.trigger.end] == "ransom" == event.trigger.text
    assert [(a.role, doc.text[a.start : a.end]) for a in event.arguments] == [("Victim", "Cityhall")]
    assert tag_documents(KeywordModel(), [doc], indicators=False)[0][1].events == ()  # no extractor, no events
