"""The service layer: tagging, storage, reviews, exports, limits (keyword model, SQLite in a temp folder)."""

from __future__ import annotations

import csv
import io
import json
import sys
import threading

import pytest

from threatevents.corpus import parse_document
from threatevents.service.core import (
    Busy,
    ModelNotReady,
    NotFound,
    TooLarge,
    UnsupportedMedia,
    ValidationError,
    Workbench,
)
from threatevents.service.limits import Gate
from threatevents.service.settings import Settings

from .conftest import ARTICLE


def test_tag_text_returns_tagged_sentences_with_indicators_and_stores_nothing(workbench: Workbench) -> None:
    tagged = workbench.tag_text(ARTICLE + " The flaw is CVE-2024-12345.")
    assert [s.index for s in tagged] == list(range(len(tagged)))
    assert tagged[0].labels == ("AttackDatabreach",)
    assert tagged[3].labels == ("O",)
    assert {"document", "start", "end", "text", "scores", "indicators"} <= set(tagged[0].to_record())
    (cve,) = [i for i in tagged[-1].indicators if i.value == "CVE-2024-12345"]
    assert cve.sentence == len(tagged) - 1 and cve.start is not None and cve.start >= tagged[-1].start
    assert workbench.list_documents().total == 0


def test_missing_indicator_extractor_is_an_error_not_empty_indicators(
    workbench: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ioc-finder and stix2 are core dependencies: a broken install fails loudly, never tags without indicators."""
    monkeypatch.setitem(sys.modules, "threatevents.indicators", None)
    with pytest.raises(ImportError):
        workbench.tag_text("The flaw is CVE-2024-12345.")


def test_tag_batch_keeps_order(workbench: Workbench) -> None:
    from threatevents.service.views import TagRequest

    out = workbench.tag_batch([TagRequest(text="Ransom was demanded."), TagRequest(text="A phishing wave.")])
    assert [o[0].labels for o in out] == [("AttackRansom",), ("AttackPhishing",)]


def test_add_get_list_delete_document(workbench: Workbench) -> None:
    view = workbench.add_document(text=ARTICLE, title="Acme breach")
    assert view.title == "Acme breach" and view.sentences[0].text == "Acme breach"
    assert view.event_counts == {"AttackDatabreach": 2, "AttackPhishing": 1, "PatchVulnerability": 1}
    for s in view.sentences:
        assert view.text[s.start : s.end] == s.text
        assert s.labels == s.predicted and s.review is None and s.history == []
    assert workbench.get_document(view.id) == view
    page = workbench.list_documents()
    assert page.total == 1 and page.items[0].n_sentences == len(view.sentences) and page.items[0].n_reviewed == 0
    workbench.delete_document(view.id)
    with pytest.raises(NotFound):
        workbench.get_document(view.id)
    with pytest.raises(NotFound):
        workbench.delete_document(view.id)


def test_upload_bytes_format_is_read_from_content(workbench: Workbench) -> None:
    html = b"<html><head><title>Leak</title></head><body><p>Hackers stole the files. Nothing else.</p></body></html>"
    view = workbench.add_document(data=html, filename="report.txt")
    assert view.format == "html" and view.name == "report.txt"
    with pytest.raises(UnsupportedMedia):
        workbench.add_document(data=b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, filename="report.txt")
    with pytest.raises(TooLarge):
        workbench.add_document(data=b"a" * (workbench.settings.max_upload_bytes + 1), filename="big.txt")
    with pytest.raises(ValidationError):
        workbench.add_document(text="   \n ")
    with pytest.raises(ValidationError):
        workbench.add_document()
    assert workbench.list_documents().total == 1


def test_failed_tagging_stores_nothing(workbench: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("model crashed")

    monkeypatch.setattr(workbench.model, "predict_proba", broken)
    with pytest.raises(RuntimeError):
        workbench.add_document(text=ARTICLE)
    assert workbench.list_documents().total == 0


def test_paging_newest_first(workbench: Workbench) -> None:
    ids = [workbench.add_document(text=f"Report {i}. Ransom paid.", name=f"r{i}").id for i in range(5)]
    first, second = workbench.list_documents(0, 2), workbench.list_documents(2, 2)
    assert [d.id for d in first.items + second.items] == ids[::-1][:4]
    assert first.total == 5 and second.offset == 2
    assert first.items[0].event_counts == {"AttackRansom": 1}
    for offset, limit in [(-1, 10), (0, 0), (0, 201)]:
        with pytest.raises(ValidationError):
            workbench.list_documents(offset, limit)


def test_reviews_latest_wins_history_kept(workbench: Workbench) -> None:
    view = workbench.add_document(text=ARTICLE)
    first = workbench.review_sentence(view.id, 1, accept=True, reviewer="ann")
    assert first.labels == ["AttackPhishing"] and first.accepted
    second = workbench.review_sentence(
        view.id, 1, accept=False, labels=["AttackDatabreach", "AttackPhishing"], reviewer=" bob "
    )
    sentence = workbench.get_document(view.id).sentences[1]
    assert sentence.review == second and second.reviewer == "bob"
    assert sentence.labels == ["AttackDatabreach", "AttackPhishing"] and sentence.predicted == ["AttackPhishing"]
    assert sentence.history == [first, second]
    workbench.review_sentence(view.id, 2, accept=False, labels=[], reviewer="ann")
    doc = workbench.get_document(view.id)
    assert doc.sentences[2].labels == ["O"]
    assert doc.event_counts == {"AttackDatabreach": 2, "AttackPhishing": 1}
    assert workbench.list_documents().items[0].n_reviewed == 2


def test_document_counts_cover_every_label_and_follow_reviews(workbench: Workbench) -> None:
    """The counts the page shows (``O`` too) are the stored effective labels, before and after a review."""
    from threatevents.labels import ALL_LABELS

    view = workbench.add_document(text=ARTICLE)
    expected = {name: sum(name in s.labels for s in view.sentences) for name in ALL_LABELS}
    assert expected["O"] > 0 and view.label_counts == expected
    counts = workbench.document_counts(view.id)
    assert counts.label_counts == expected and counts.n_reviewed == 0 and counts.n_sentences == len(view.sentences)
    no_event = next(s.index for s in view.sentences if s.labels == ["O"])
    workbench.review_sentence(view.id, no_event, accept=False, labels=["AttackRansom"], reviewer="ann")
    after = workbench.document_counts(view.id)
    assert after.n_reviewed == 1
    assert after.label_counts == {**expected, "O": expected["O"] - 1, "AttackRansom": expected["AttackRansom"] + 1}
    assert after.label_counts == workbench.get_document(view.id).label_counts
    with pytest.raises(NotFound):
        workbench.document_counts(view.id + 1000)


@pytest.mark.parametrize(
    ("accept", "labels"),
    [(False, None), (False, ["Nope"]), (False, ["O", "AttackRansom"]), (True, ["AttackRansom"])],
)
def test_review_rejects_bad_labels(workbench: Workbench, accept: bool, labels: list[str] | None) -> None:
    view = workbench.add_document(text=ARTICLE)
    with pytest.raises(ValidationError):
        workbench.review_sentence(view.id, 1, accept=accept, labels=labels, reviewer="ann")
    assert workbench.get_document(view.id).sentences[1].review is None


def test_review_unknown_targets(workbench: Workbench) -> None:
    view = workbench.add_document(text=ARTICLE)
    with pytest.raises(NotFound, match="no document"):
        workbench.review_sentence(view.id + 1, 0, accept=True, reviewer="ann")
    with pytest.raises(NotFound, match="no sentence"):
        workbench.review_sentence(view.id, 99, accept=True, reviewer="ann")
    with pytest.raises(ValidationError):
        workbench.review_sentence(view.id, 0, accept=True, reviewer="  ")


def test_exports_apply_reviews(workbench: Workbench) -> None:
    view = workbench.add_document(text=ARTICLE, name="acme report.txt")
    workbench.review_sentence(view.id, 3, accept=False, labels=["O"], reviewer="ann")
    jsonl = workbench.export_document(view.id, "jsonl")
    records = [json.loads(line) for line in jsonl.content.splitlines()]
    assert [r["labels"] for r in records][3] == ["O"] and len(records) == len(view.sentences)
    assert jsonl.filename == f"acme_report-{view.id}.jsonl" and jsonl.media_type == "application/x-ndjson"
    rows = list(csv.DictReader(io.StringIO(workbench.export_document(view.id, "csv").content)))
    assert rows[0]["labels"] == "AttackDatabreach" and rows[3]["labels"] == "O"
    corpus = parse_document(workbench.export_document(view.id, "corpus").content, "x", strict=True)
    assert corpus.labels[3] == ("O",) and corpus.texts == [s.text for s in view.sentences]
    with pytest.raises(ValidationError):
        workbench.export_document(view.id, "xml")
    with pytest.raises(NotFound):
        workbench.export_document(view.id + 1, "csv")


def test_export_reviewed_corpus_only_reviewed_sentences(workbench: Workbench) -> None:
    assert workbench.export_reviewed_corpus() == ""
    a = workbench.add_document(text=ARTICLE)
    b = workbench.add_document(text="Ransom was demanded. The flaw was found.")
    workbench.review_sentence(a.id, 2, accept=True, reviewer="ann")
    workbench.review_sentence(b.id, 1, accept=False, labels=["DiscoverVulnerability", "AttackRansom"], reviewer="x")
    blocks = workbench.export_reviewed_corpus().split("\n\n")
    docs = [parse_document(block, str(i), strict=True) for i, block in enumerate(blocks)]
    assert [d.texts for d in docs] == [["Acme released a patch on Tuesday."], ["The flaw was found."]]
    assert docs[1].labels == [("AttackRansom", "DiscoverVulnerability")]


def test_readiness_and_missing_model(settings: Settings, workbench: Workbench) -> None:
    assert workbench.is_ready()
    workbench.model = None
    assert not workbench.is_ready()
    with pytest.raises(ModelNotReady):
        workbench.tag_text("Ransom paid.")


def _hold_slot(gate: Gate, entered: threading.Event, release: threading.Event) -> threading.Thread:
    def hold() -> None:
        with gate.slot():
            entered.set()
            release.wait(5)

    worker = threading.Thread(target=hold)
    worker.start()
    return worker


def test_gate_refuses_at_once_beyond_capacity_and_recovers() -> None:
    gate = Gate(slots=1, queue=1, timeout=5)
    entered, release, queued_done = threading.Event(), threading.Event(), threading.Event()
    holder = _hold_slot(gate, entered, release)
    assert entered.wait(5)
    queued = _hold_slot(gate, queued_done, release)  # waits in the queue for the slot
    while gate.inside < 2:
        threading.Event().wait(0.01)
    with pytest.raises(Busy, match="busy"), gate.admit():
        pass
    release.set()
    holder.join()
    assert queued_done.wait(5)  # the queued call got the slot once it was free
    queued.join()
    assert gate.inside == 0
    with gate.slot():
        assert gate.inside == 1


def test_gate_queue_wait_is_bounded() -> None:
    gate = Gate(slots=1, queue=4, timeout=0.05)
    entered, release = threading.Event(), threading.Event()
    holder = _hold_slot(gate, entered, release)
    assert entered.wait(5)
    with pytest.raises(Busy, match="no model slot"), gate.slot():
        pass
    release.set()
    holder.join()
    assert gate.inside == 0


def test_stix_export_carries_reviews_and_indicators(workbench: Workbench) -> None:
    view = workbench.add_document(text=ARTICLE + " Researchers found a flaw, CVE-2024-4321.")
    workbench.review_sentence(view.id, 1, accept=False, labels=["AttackRansom"], reviewer="ann")
    export = workbench.export_document(view.id, "stix")
    bundle = json.loads(export.content)
    assert bundle["type"] == "bundle" and export.media_type == "application/json"
    by_type: dict[str, list[dict[str, object]]] = {}
    for obj in bundle["objects"]:
        by_type.setdefault(str(obj["type"]), []).append(obj)
    assert [v["name"] for v in by_type["vulnerability"]] == ["CVE-2024-4321"]
    assert len(by_type["report"]) == 1
    assert "AttackRansom" in json.dumps(by_type["x-threatevents-event"]) and "ann" in export.content


def test_document_is_stored_all_or_nothing(workbench: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import event

    def fail_after_flush(*args: object) -> None:
        raise RuntimeError("connection lost mid-transaction")

    sessions = workbench._sessions
    event.listen(sessions, "after_flush", fail_after_flush)
    try:
        with pytest.raises(RuntimeError, match="mid-transaction"):
            workbench.add_document(text=ARTICLE)
    finally:
        event.remove(sessions, "after_flush", fail_after_flush)
    with sessions() as session:
        from sqlalchemy import text

        counts = [session.scalar(text(f"SELECT count(*) FROM {t}")) for t in ("documents", "sentences")]
    assert counts == [0, 0]
    assert workbench.add_document(text=ARTICLE).id >= 1
