"""Engines and sessions: SQLite (WAL) embedded, PostgreSQL in production."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from gateway.store import change_log

# Execution option of engines (and sessions) that only read; see read_session_factory.
READ_ONLY = "gridwatch_read_only"


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the API read while the gateway writes; NORMAL sync is durable
            # across process crashes (only an OS crash can lose the last commits).
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # Let SQLAlchemy, not the driver, open transactions (see _begin_immediate).
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            info = conn.connection.info
            if conn.get_execution_options().get(READ_ONLY):
                # A reader takes no lock: in WAL mode it reads its snapshot while the
                # writer commits. query_only turns an accidental write into an error
                # instead of a lock upgrade that could wait on (or block) the writer.
                conn.exec_driver_sql("BEGIN")
                if not info.get(READ_ONLY):
                    conn.exec_driver_sql("PRAGMA query_only=ON")
                    info[READ_ONLY] = True
                return
            if info.get(READ_ONLY):
                conn.exec_driver_sql("PRAGMA query_only=OFF")
                info[READ_ONLY] = False
            # Take the write lock up front: two writers (two gateways, or gateway and
            # API) then queue on busy_timeout instead of failing with SQLITE_BUSY when
            # a read transaction tries to upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    change_log.install()  # pages are pushed what commits (gateway/store/change_log.py)
    return sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for code that only reads (the API's GET routes, reports).

    On SQLite their transactions are plain deferred ``BEGIN`` with ``query_only``
    on, so a slow read never holds the write lock the ingest writer needs (the
    default sessions take ``BEGIN IMMEDIATE``). PostgreSQL readers never block
    writers anyway; there they are ordinary sessions.
    """
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
