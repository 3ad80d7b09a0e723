"""Alembic environment: migrations run on the connection handed over by ``threatevents.service.db.migrate``.

The service migrates at startup (``threatevents.service.db.open_database(url)`` does it by hand);
with the alembic CLI, give the database as ``-x url=<database url>``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from threatevents.service.db import Base

target_metadata = Base.metadata
config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the database with: alembic -x url=<database url> upgrade head")
    with create_engine(url).begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
