"""Reviewed sentences from a workbench database, as corpus documents for training (``train --feedback``)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from ..corpus import Document
from .db import open_database, reviewed_documents


def load_feedback_documents(db_url: str) -> list[Document]:
    """One document per stored workbench document that has reviewed sentences, holding only those
    sentences with their latest reviewed labels; ids are ``review-<document id>``.

    The database schema is migrated if needed. Raises ``FileNotFoundError`` for a SQLite file that
    does not exist (rather than creating an empty database at a mistyped path).
    """
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).expanduser().is_file():
        raise FileNotFoundError(f"no review database at {url.database}")
    engine, sessions = open_database(db_url)
    try:
        with sessions() as session:
            return reviewed_documents(session)
    finally:
        engine.dispose()
