"""Reading reviewed sentences from a workbench database, and ``train --feedback`` with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from threatevents.corpus import Document, Sentence
from threatevents.service.core import Workbench
from threatevents.service.feedback_source import load_feedback_documents
from threatevents.service.settings import Settings

from .conftest import ARTICLE


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
