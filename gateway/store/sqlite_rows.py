"""The ingest's hottest statements on SQLite through the driver itself, inside the session's transaction.

A batch of 500 messages writes ~250 ledger rows and updates them again with their cases. Through
SQLAlchemy each row costs more Python than SQLite spends on it: a parameter dict, two processors
per datetime, insertmanyvalues re-batching. Here the rows are plain tuples handed to
``sqlite3`` in one statement (or one ``executemany``). Same SQL meaning, same stored text
(:func:`gateway.store.base.sqlite_datetime`), same transaction: the session's connection, after its
``BEGIN IMMEDIATE``. PostgreSQL keeps the SQLAlchemy statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy.orm import Session

# Rows per multi-row statement: columns x rows stays far below SQLite's variable limit (32766).
CHUNK = 500


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def driver(session: Session) -> Any:
    """The sqlite3 connection under the session's transaction (begun, write lock held)."""
    return session.connection().connection.driver_connection


@cache
def _insert_sql(table: str, columns: tuple[str, ...], rows: int, conflict: str, returning: str) -> str:
    one = "(" + ", ".join("?" * len(columns)) + ")"
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * rows)}"
    if conflict:
        sql += f" ON CONFLICT ({conflict}) DO NOTHING"
    if returning:
        sql += f" RETURNING {returning}"
    return sql


def insert(
    session: Session,
    table: str,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    conflict: str = "",
    returning: str = "",
) -> list[tuple[Any, ...]]:
    """Multi-row INSERT (ON CONFLICT (…) DO NOTHING, RETURNING …); returns what RETURNING gave."""
    cursor = driver(session).cursor()
    out: list[tuple[Any, ...]] = []
    try:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            params = [value for row in chunk for value in row]
            cursor.execute(_insert_sql(table, columns, len(chunk), conflict, returning), params)
            if returning:
                out.extend(cursor.fetchall())
    finally:
        cursor.close()
    return out


def executemany(session: Session, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    cursor = driver(session).cursor()
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def select_in(session: Session, sql: str, values: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of ``sql``, whose one ``IN ({})`` is filled with ``values`` (a chunk at a time)."""
    cursor = driver(session).cursor()
    out: list[tuple[Any, ...]] = []
    try:
        for start in range(0, len(values), CHUNK):
            chunk = values[start : start + CHUNK]
            cursor.execute(sql.format(", ".join("?" * len(chunk))), chunk)
            out.extend(cursor.fetchall())
    finally:
        cursor.close()
    return out
