"""Fixtures for the service tests: a workbench on SQLite over the keyword model of ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the service needs the 'serve' extra: pip install 'threatevents[serve]'")

from conftest import KeywordModel
from threatevents.service.core import Workbench
from threatevents.service.db import open_database
from threatevents.service.settings import Settings

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
