"""Storage: SQLAlchemy 2 ORM tables, the engine (SQLite or PostgreSQL) and schema migration at startup.

Tables: ``documents`` (one uploaded report), ``sentences`` (its sentences with the model's prediction
and the *effective* labels: the latest review's, else the prediction), ``reviews`` (every review
ever made; the newest per sentence wins), ``events`` (the structured events of a document: trigger span
in document offsets, type, realis, review state) and ``event_arguments`` (their arguments). Events and
arguments are never removed by a review: deleting one sets its ``state`` to ``deleted``, so that training
can learn what the analyst rejected. Deleting a document deletes everything of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from ..corpus import Document, Sentence
from ..labels import check_labels

#: Review states of an event or argument: proposed by the model, accepted (or corrected, or added) by an analyst,
#: deleted by an analyst (kept, so that feedback knows what was rejected).
EVENT_STATES: tuple[str, ...] = ("proposed", "accepted", "deleted")
#: Who made an event or argument: the model or an analyst.
EVENT_ORIGINS: tuple[str, ...] = ("model", "analyst")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None and value.tzinfo else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: str) -> str:
    """``value`` without what a database refuses: NUL (PostgreSQL text cannot hold it) is dropped and a lone
    UTF-16 surrogate (unencodable) becomes U+FFFD. Request validation refuses or cleans these first; this is
    the last guard, applied to every string column."""
    if not _UNSTORABLE.search(value):
        return value
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", value)


class SafeString(TypeDecorator[str]):
    """``String`` whose values are made :func:`storable` on the way in."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return storable(value) if isinstance(value, str) else value


class SafeText(SafeString):
    """``Text`` whose values are made :func:`storable` on the way in."""

    impl = Text
    cache_ok = True


class Base(DeclarativeBase):
    pass


class DocumentRow(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(SafeString(255))
    title: Mapped[str | None] = mapped_column(SafeString(1000))
    format: Mapped[str] = mapped_column(SafeString(16))
    text: Mapped[str] = mapped_column(SafeText)
    indicators: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    sentences: Mapped[list[SentenceRow]] = relationship(
        back_populates="document", cascade="all, delete-orphan", passive_deletes=True, order_by="SentenceRow.index"
    )
    events: Mapped[list[EventRow]] = relationship(
        back_populates="document", cascade="all, delete-orphan", passive_deletes=True, order_by="EventRow.id"
    )


class SentenceRow(Base):
    __tablename__ = "sentences"
    __table_args__ = (UniqueConstraint("document_id", "index", name="uq_sentence_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(SafeText)
    predicted: Mapped[list[str]] = mapped_column(JSON)
    scores: Mapped[dict[str, float]] = mapped_column(JSON)
    indicators: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    labels: Mapped[list[str]] = mapped_column(JSON)  # effective: latest review's labels, else predicted
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    document: Mapped[DocumentRow] = relationship(back_populates="sentences")
    reviews: Mapped[list[ReviewRow]] = relationship(
        back_populates="sentence", cascade="all, delete-orphan", passive_deletes=True, order_by="ReviewRow.id"
    )


class ReviewRow(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sentence_id: Mapped[int] = mapped_column(ForeignKey("sentences.id", ondelete="CASCADE"), index=True)
    labels: Mapped[list[str]] = mapped_column(JSON)
    accepted: Mapped[bool] = mapped_column(Boolean)
    reviewer: Mapped[str] = mapped_column(SafeString(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sentence: Mapped[SentenceRow] = relationship(back_populates="reviews")


class ReviewStateColumns:
    """Who proposed an event or argument and its latest analyst change (``reviewer``/``reviewed_at`` none: still
    as proposed); the same four columns on ``events`` and ``event_arguments``."""

    origin: Mapped[str] = mapped_column(SafeString(16), default="model")
    state: Mapped[str] = mapped_column(SafeString(16), default="proposed")
    reviewer: Mapped[str | None] = mapped_column(SafeString(200), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class EventRow(ReviewStateColumns, Base):
    """A structured event of a document. ``sentence_index`` is the sentence holding its trigger; offsets are into
    the document text. ``state``/``reviewer``/``reviewed_at`` record the latest analyst change (none: proposed)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    sentence_index: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(SafeString(32))
    realis: Mapped[str] = mapped_column(SafeString(16))
    trigger_start: Mapped[int] = mapped_column(Integer)
    trigger_end: Mapped[int] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    document: Mapped[DocumentRow] = relationship(back_populates="events")
    arguments: Mapped[list[EventArgumentRow]] = relationship(
        back_populates="event", cascade="all, delete-orphan", passive_deletes=True, order_by="EventArgumentRow.id"
    )


class EventArgumentRow(ReviewStateColumns, Base):
    """An argument of an event: role and span (document offsets), with its own review state."""

    __tablename__ = "event_arguments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(SafeString(32))
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    event: Mapped[EventRow] = relationship(back_populates="arguments")


def reviewed_documents(session: Session) -> list[Document]:
    """Every reviewed sentence with its latest labels, as one corpus document per stored document
    (id ``review-<document id>``), in store order."""
    rows = session.execute(
        select(SentenceRow.document_id, SentenceRow.text, SentenceRow.labels)
        .where(SentenceRow.reviewed.is_(True))
        .order_by(SentenceRow.document_id, SentenceRow.index)
    )
    by_doc: dict[int, list[Sentence]] = {}
    for doc_id, sentence_text, labels in rows:
        by_doc.setdefault(doc_id, []).append(Sentence(" ".join(sentence_text.split()), check_labels(labels)))
    return [Document(f"review-{doc_id}", sentences) for doc_id, sentences in by_doc.items()]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a commit survives power loss, not only a crash
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL mode, foreign keys and its folder created."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if parsed.database in (None, "", ":memory:"):
        kwargs["poolclass"] = StaticPool  # one shared connection, or every session sees an empty database
    else:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


#: Key of the PostgreSQL advisory lock held while migrating (any constant 64-bit number; "threatev" in ASCII).
PG_MIGRATION_LOCK = 0x7468726561746576
MIGRATION_LOCK_TIMEOUT = 300.0


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Only one process migrates a database at a time: two servers started together on a new database would
    otherwise both see it empty and the second die on ``table documents already exists``. SQLite files use a
    lock file beside the database (``<file>.migrate.lock``); PostgreSQL takes a transaction advisory lock in
    :func:`migrate` itself; an in-memory database belongs to one process."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        yield
        return
    from filelock import FileLock

    with FileLock(f"{Path(database).expanduser()}.migrate.lock", timeout=MIGRATION_LOCK_TIMEOUT):
        yield


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (creates it in an empty database). Safe to run from
    several processes at once: one migrates, the others wait and then find nothing to do."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with _migration_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":  # held until this transaction ends
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(url: str) -> tuple[Engine, sessionmaker[Any]]:
    """Engine and session factory for ``url``, with the schema migrated."""
    engine = make_engine(url)
    migrate(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)
