"""Fixtures for the service tests: a workbench on SQLite over the keyword model of ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the service needs the 'serve' extra: pip install 'threatevents[serve]'")

from conftest import KeywordModel
from threatevents.events import Argument, Event, Span
from threatevents.service.core import Workbench
from threatevents.service.db import open_database
from threatevents.service.settings import Settings
from threatevents.tagging import TaggedSentence

ARTICLE = (
    "Hackers stole the records of 5,000 customers from Acme. "
    "The attackers used phishing emails to get in. "
    "Acme released a patch on Tuesday. "
    "Shares closed flat."
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db_url=f"sqlite:///{tmp_path / 'store' / 'te.sqlite3'}", max_upload_bytes=200_000, page=False)


@pytest.fixture
def workbench(settings: Settings) -> Iterator[Workbench]:
    engine, sessions = open_database(settings.db_url)
    yield Workbench(KeywordModel(), sessions, settings)
    engine.dispose()


def _span(sentence: TaggedSentence, word: str) -> tuple[int, int, str]:
    at = sentence.text.index(word)
    return sentence.start + at, sentence.start + at + len(word), word


def with_test_events(tagged: Sequence[TaggedSentence]) -> list[TaggedSentence]:
    """``tagged`` with the events an extractor would find in :data:`ARTICLE` (document offsets): a data breach
    triggered by "stole" (Attacker "Hackers", Victim "Acme") and a patch triggered by "released" (Releaser "Acme")."""
    out = []
    for s in tagged:
        events: list[Event] = []
        if "stole" in s.text and "Acme" in s.text and "Hackers" in s.text:
            arguments = [Argument("Attacker", *_span(s, "Hackers"), score=0.8), Argument("Victim", *_span(s, "Acme"))]
            events.append(Event("AttackDatabreach", "Actual", Span(*_span(s, "stole")), arguments, score=0.9))
        if "released a patch" in s.text:
            arguments = [Argument("Releaser", *_span(s, "Acme"), score=0.7)]
            events.append(Event("PatchVulnerability", "Actual", Span(*_span(s, "released")), arguments, score=0.6))
        out.append(replace(s, events=tuple(events)))
    return out


def extract_test_events(workbench: Workbench) -> None:
    """Make ``workbench`` store the events of :func:`with_test_events` with every document it tags (the keyword
    model extracts none)."""
    tag: Callable[..., list[list[TaggedSentence]]] = workbench._tag
    workbench._tag = lambda docs: [with_test_events(t) for t in tag(docs)]  # type: ignore[method-assign]


@pytest.fixture
def event_workbench(workbench: Workbench) -> Workbench:
    extract_test_events(workbench)
    return workbench
