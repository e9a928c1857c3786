"""Alembic environment: runs against the connection handed in by gateway.schema.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from gateway.schema.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # plain `alembic` command line
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.connect() as conn:
            _migrate(conn)
        return
    _migrate(connection)


def _migrate(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table rebuilds
    )
    with context.begin_transaction():
        context.run_migrations()


run()
