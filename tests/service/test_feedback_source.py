"""Reading reviewed sentences from a workbench database, and ``train --feedback`` with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from threatevents.corpus import Document, Sentence
from threatevents.service.core import Workbench
from threatevents.service.feedback_source import load_event_feedback, load_feedback_documents
from threatevents.service.settings import Settings

from .conftest import ARTICLE, extract_test_events


def test_load_feedback_reads_latest_reviews(workbench: Workbench, settings: Settings) -> None:
    assert load_feedback_documents(settings.db_url) == []
    doc = workbench.add_document(text=ARTICLE)
    workbench.add_document(text="Nothing reviewed here. Ransom paid.")
    workbench.review_sentence(doc.id, 0, accept=True, reviewer="ann")
    workbench.review_sentence(doc.id, 3, accept=True, reviewer="ann")
    workbench.review_sentence(doc.id, 3, accept=False, labels=["AttackRansom"], reviewer="bob")
    feedback = load_feedback_documents(settings.db_url)
    assert feedback == [
        Document(
            f"review-{doc.id}",
            [
                Sentence("Hackers stole the records of 5,000 customers from Acme.", ("AttackDatabreach",)),
                Sentence("Shares closed flat.", ("AttackRansom",)),
            ],
        )
    ]


def test_missing_sqlite_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_feedback_documents(f"sqlite:///{tmp_path / 'typo.db'}")
    assert not (tmp_path / "typo.db").exists()


def test_cli_train_with_feedback_adds_reviews_and_keeps_test_untouched(
    workbench: Workbench, settings: Settings, tiny_corpus_dir: Path, tmp_path: Path
) -> None:
    import json

    from typer.testing import CliRunner

    from threatevents.cli import app

    doc = workbench.add_document(text="Criminals emptied the payroll account.\n\nThe police were called.", title=None)
    workbench.review_sentence(doc.id, 0, accept=False, labels=["AttackDatabreach"], reviewer="ann")
    out = tmp_path / "m"
    result = CliRunner().invoke(
        app, ["train", str(tiny_corpus_dir), "--out", str(out), "--set", "min_df=1", "--feedback", settings.db_url]
    )
    assert result.exit_code == 0, result.output
    assert "adding 1 reviewed sentences to train" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_feedback_documents"] == 1
    corpus_train = sum(len(p.read_text().splitlines()) for p in (tiny_corpus_dir / "docs").glob("tr*.txt"))
    assert metrics["n_train_sentences"] == corpus_train + 1  # the one reviewed sentence joins train
    assert metrics["test"]["n_documents"] == 12  # the test split is evaluated as it is, feedback never reaches it


def test_load_event_feedback_reads_accepted_corrected_added_and_deleted_events(
    workbench: Workbench, settings: Settings
) -> None:
    extract_test_events(workbench)
    untouched = workbench.add_document(text=ARTICLE)
    doc = workbench.add_document(text=ARTICLE)
    assert load_event_feedback(settings.db_url) == []  # proposed events are not supervision
    breach, patch = doc.events
    workbench.update_event(doc.id, breach.id, type="AttackRansom", reviewer="ann")  # corrected
    workbench.delete_argument(doc.id, breach.id, breach.arguments[0].id, reviewer="ann")
    workbench.delete_event(doc.id, patch.id, reviewer="ann")  # deleted: sentence 2 has no event now
    start = doc.text.index("phishing")
    workbench.add_event(doc.id, type="AttackPhishing", realis="Actual", trigger=(start, start + 8), reviewer="bob")
    workbench.review_sentence(doc.id, 1, accept=False, labels=["AttackPhishing", "AttackDatabreach"], reviewer="bob")

    (feedback,) = load_event_feedback(settings.db_url)
    assert feedback.id == f"review-{doc.id}" != f"review-{untouched.id}"
    assert feedback.reviewed == {0, 1, 2}
    assert feedback.texts[2] == "Acme released a patch on Tuesday."
    joined = "\n".join(feedback.texts)
    found = [
        (e.type, e.trigger.text, [(a.role, joined[a.start : a.end]) for a in e.arguments]) for e in feedback.events
    ]
    assert found == [("AttackRansom", "stole", [("Victim", "Acme")]), ("AttackPhishing", "phishing", [])]
    assert feedback.sentence_events(2) == []  # the deleted event teaches "no event here"
    # labels: a reviewed sentence keeps the analyst's, others take their reviewed events' types
    assert feedback.labels[:3] == (("AttackRansom",), ("AttackDatabreach", "AttackPhishing"), ("O",))


def test_cli_train_with_feedback_reads_reviewed_events(
    workbench: Workbench, settings: Settings, tiny_corpus_dir: Path, tmp_path: Path
) -> None:
    import json

    from typer.testing import CliRunner

    from threatevents.cli import app

    extract_test_events(workbench)
    doc = workbench.add_document(text=ARTICLE)
    workbench.delete_event(doc.id, doc.events[1].id, reviewer="ann")
    out = tmp_path / "m"
    args = ["train", str(tiny_corpus_dir), "--out", str(out), "--set", "min_df=1", "--feedback", settings.db_url]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "adding 0 reviewed sentences to train and 1 sentences of reviewed events" in result.output
    assert "--event-heads" in result.output  # a linear model learns only the sentence's labels from them
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_event_feedback_documents"] == 1
    corpus_train = sum(len(p.read_text().splitlines()) for p in (tiny_corpus_dir / "docs").glob("tr*.txt"))
    assert metrics["n_train_sentences"] == corpus_train + 1  # the event-reviewed sentence joins train
