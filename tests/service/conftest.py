"""Fixtures for the service tests: a deterministic keyword model (no training) and a workbench on SQLite."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Self

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs the 'serve' extra: pip install 'threatevents[serve]'")

from threatevents.corpus import Document
from threatevents.labels import EVENT_LABELS
from threatevents.models.base import DocLike, EventModel, ModelConfig, flatten_texts
from threatevents.service.core import Workbench
from threatevents.service.db import open_database
from threatevents.service.settings import Settings

KEYWORDS = {
    "AttackDatabreach": ("stole", "breach", "leaked"),
    "AttackPhishing": ("phishing",),
    "AttackRansom": ("ransom",),
    "DiscoverVulnerability": ("vulnerability", "flaw"),
    "PatchVulnerability": ("patch", "update"),
}


class KeywordModel(EventModel):
    """Scores 0.9 for a label when one of its keywords occurs in the sentence, else 0.1."""

    kind = "keyword-test"
    config_class = ModelConfig

    def fit(self, train: Sequence[Document], dev: Sequence[Document] | None = None) -> Self:
        return self

    def predict_proba(self, docs: Sequence[DocLike]) -> np.ndarray:
        texts = [t.lower() for t in flatten_texts(docs)]
        rows = [[0.9 if any(k in t for k in KEYWORDS[name]) else 0.1 for name in EVENT_LABELS] for t in texts]
        return np.array(rows, dtype=float).reshape(len(texts), len(EVENT_LABELS))

    def _save_weights(self, path: Path) -> None:
        raise NotImplementedError

    def _load_weights(self, path: Path) -> None:
        raise NotImplementedError


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
