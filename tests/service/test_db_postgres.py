"""The core and API tests again, on a real PostgreSQL server instead of SQLite.

Runs when ``THREATEVENTS_TEST_PG_URL`` is set, or when ``.ci/postgres.sh`` has started its server (it
leaves the URL in ``/tmp/threatevents-pg/url``); skips with the reason otherwise. Every test gets a
fresh database, created from empty by the Alembic migrations and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from threatevents.service.core import Workbench
from threatevents.service.db import open_database
from threatevents.service.settings import Settings

from .conftest import ARTICLE
from .test_api import *  # noqa: F403  (re-collected here with the PostgreSQL `settings` below)
from .test_core import *  # noqa: F403
from .test_events import *  # noqa: F403

pytestmark = pytest.mark.postgres
URL_FILE = Path(os.environ.get("THREATEVENTS_PG_DIR", "/tmp/threatevents-pg")) / "url"


def _server_url() -> str:
    url = os.environ.get("THREATEVENTS_TEST_PG_URL")
    if not url and URL_FILE.is_file():
        url = URL_FILE.read_text().strip()
    if not url:
        pytest.skip("no PostgreSQL: set THREATEVENTS_TEST_PG_URL or run `bash .ci/postgres.sh` first")
    pytest.importorskip("psycopg", reason="needs the psycopg driver (dev extra)")
    return url


@pytest.fixture(scope="module")
def pg_server() -> str:
    url = _server_url()
    try:
        with create_engine(url).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # the server named by the URL is down or refuses us
        pytest.skip(f"PostgreSQL at {make_url(url).render_as_string(hide_password=True)} is not reachable: {exc}")
    return url


@pytest.fixture
def settings(pg_server: str) -> Iterator[Settings]:
    """A fresh, empty database on the server for each test."""
    name = f"te_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server).set(database=name).render_as_string(hide_password=False)
    yield Settings(db_url=url, max_upload_bytes=200_000, page=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_migration_creates_schema_and_is_idempotent(settings: Settings) -> None:
    engine, _ = open_database(settings.db_url)
    open_database(settings.db_url)[0].dispose()  # a second start finds the schema current
    tables = set(inspect(engine).get_table_names())
    assert {"documents", "sentences", "reviews", "events", "event_arguments", "alembic_version"} <= tables
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == "0002"
    engine.dispose()


def test_concurrent_reviews_all_durable(workbench: Workbench) -> None:
    doc = workbench.add_document(text=ARTICLE)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: workbench.review_sentence(doc.id, i % 4, accept=True, reviewer=f"r{i}"), range(24)))
    sentences = workbench.get_document(doc.id).sentences
    assert sum(len(s.history) for s in sentences) == 24
    workbench.delete_document(doc.id)
    with workbench._sessions() as session:  # cascade removed sentences and reviews
        assert session.scalar(text("SELECT count(*) FROM reviews")) == 0
