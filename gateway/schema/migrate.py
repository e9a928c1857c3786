"""Bring a database to the newest schema (Alembic) exactly once, or wait until it is there.

Several processes may start against one store at the same moment (two gateways and
the API under Compose, ``gateway --processes N``, a systemd host rebooting). Two rules
keep them from racing:

- :func:`upgrade` runs under a lock that the store itself holds: a PostgreSQL
  transaction-level advisory lock (per schema), or an exclusive ``flock`` on the SQLite
  file. Whoever gets it first migrates; the others wait for it, then find the schema
  current and change nothing. ``gridwatch db upgrade`` is this, as a command.
- A service started with ``db_schema = "wait"`` (``GRIDWATCH_DB_SCHEMA=wait``) never
  migrates: it waits for the schema to be current, says so in its log while it waits,
  and gives up after ``db_schema_wait_s`` with an error naming the command to run. This
  is how the Compose file and the systemd units run: one explicit migration step,
  services that need no DDL rights.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import functools
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError, OperationalError

from gateway.settings import SchemaMode

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
LOCK_NAME = "gridwatch-schema-migration"
WAIT_LOG_EVERY_S = 10.0


class SchemaError(RuntimeError):
    """The schema is not usable and waiting will not help (or waited long enough)."""


def alembic_config(url: str = "") -> Config:
    from alembic.config import Config  # Alembic (and Mako) only where a migration runs: ~1/5 of a start

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


# Alembic's own bookkeeping: a one-row table naming the store's revision (its default version_table).
VERSION_TABLE = "alembic_version"


@functools.cache
def revisions() -> dict[str, str | None]:
    """Each migration's revision and the one it revises, read from the scripts' assignments.

    A service starting against a current store needs only these two names per script, not
    Alembic: importing it and parsing the scripts its way was ~1/5 of a gateway's start. The
    scripts ship with this build and never change under a running process, so they are read
    once. ``tests/gateway/test_schema_once.py`` checks the answer against Alembic's."""
    found: dict[str, str | None] = {}
    for script in sorted((MIGRATIONS / "versions").glob("*.py")):
        names: dict[str, object] = {}
        for node in ast.parse(script.read_text(encoding="utf-8")).body:
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                names[target.id] = ast.literal_eval(node.value)  # type: ignore[attr-defined]
        revision, down = names.get("revision"), names.get("down_revision")
        if not isinstance(revision, str) or not (down is None or isinstance(down, str)):
            raise SchemaError(f"{script}: expected 'revision' and 'down_revision' as plain strings")
        found[revision] = down
    return found


@functools.cache
def head_revision() -> str:
    heads = set(revisions()) - {down for down in revisions().values() if down}
    if len(heads) != 1:
        raise SchemaError(f"the migrations have {len(heads)} heads ({sorted(heads)}); expected one")
    return heads.pop()


def known_revisions() -> frozenset[str]:
    return frozenset(revisions())


def current_revision(conn: Connection) -> str | None:
    """The store's revision, or None for a store Alembic never touched."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # None: an empty database (no alembic_version yet)
    head: str

    @property
    def ready(self) -> bool:
        return self.current == self.head

    @property
    def unknown(self) -> bool:
        """At a revision this build does not know: a newer GridWatch upgraded the store."""
        return self.current is not None and self.current not in known_revisions()

    def describe(self) -> str:
        at = f"at revision {self.current}" if self.current else "empty (no GridWatch tables)"
        return f"the database is {at}; this GridWatch needs {self.head}"


def schema_state(engine: Engine) -> SchemaState:
    with engine.connect() as conn:
        current = current_revision(conn)
    return SchemaState(current, head_revision())


def where(engine: Engine) -> str:
    """The store's URL for messages, without its password."""
    return engine.url.render_as_string(hide_password=True)


def _sqlite_file(engine: Engine) -> Path | None:
    db = engine.url.database
    if engine.dialect.name != "sqlite" or not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def sqlite_lock_target(db: Path) -> Path:
    """What a SQLite store's migration lock is taken on: the directory that holds it.

    Never the database file itself: closing any descriptor of a file drops every POSIX record
    lock the process holds on it — SQLite's own locks, which its connections in this process
    keep after the migration — and another process could then delete the WAL under them (their
    reads would stay on an old snapshot for good; sqlite.org/howtocorrupt.html, 2.2). A lock
    file beside it would be one more file in the operator's directory; the directory is there.
    """
    return db.parent


@contextlib.contextmanager
def _sqlite_lock(path: Path, timeout_s: float) -> Iterator[None]:
    """An exclusive flock on :func:`sqlite_lock_target`: it only excludes other migrations."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(sqlite_lock_target(path), os.O_RDONLY)
    try:
        _acquire(lambda: _try_flock(fd), timeout_s, str(path))
        yield
    finally:
        os.close(fd)  # releases the flock


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _pg_lock(conn: Connection, timeout_s: float, what: str) -> None:
    """A transaction-level advisory lock, one per schema (several stores may share a
    database); released when the migration's transaction ends, also if the process dies."""
    key = text("SELECT pg_try_advisory_xact_lock(hashtext(:name || current_schema()))")
    _acquire(lambda: bool(conn.execute(key, {"name": LOCK_NAME}).scalar()), timeout_s, what)


def _acquire(try_once: Callable[[], bool], timeout_s: float, what: str) -> None:
    if try_once():
        return
    log.info("another process is migrating %s; waiting for it (up to %.0f s)", what, timeout_s)
    deadline = time.monotonic() + timeout_s
    while not try_once():
        if time.monotonic() > deadline:
            raise SchemaError(
                f"the migration lock of {what} is still held after {timeout_s:.0f} s: another "
                "'gridwatch db upgrade' (or a service upgrading at start) is running or hung"
            )
        time.sleep(0.2)


def upgrade(engine: Engine, revision: str = "head", lock_timeout_s: float = 600.0) -> SchemaState:
    """Migrate to ``revision`` under the store's migration lock; returns the state before.

    Safe to call from any number of processes at once: one migrates, the rest wait for
    the lock and then find nothing to do."""
    what = where(engine)
    sqlite_file = _sqlite_file(engine)
    file_lock = _sqlite_lock(sqlite_file, lock_timeout_s) if sqlite_file else contextlib.nullcontext()
    with file_lock, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            _pg_lock(conn, lock_timeout_s, what)
        before = SchemaState(current_revision(conn), head_revision())
        if before.unknown:
            raise SchemaError(f"{before.describe()}, which is newer than this build: install that version")
        if before.current != revision and not (revision == "head" and before.ready):
            from alembic import command

            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            log.info(
                "database schema of %s upgraded from %s to %s", what, before.current or "empty", revision
            )
    return before


def wait_for_schema(
    engine: Engine, timeout_s: float, poll_s: float = 1.0, log_every_s: float = WAIT_LOG_EVERY_S
) -> SchemaState:
    """Wait until the store is reachable and at this build's head; never migrates.

    Logs what it waits for every ``log_every_s``; raises :class:`SchemaError` after
    ``timeout_s`` or at once when the store is ahead of this build."""
    deadline = time.monotonic() + timeout_s
    said_at = -float("inf")
    while True:
        try:
            state = schema_state(engine)
            if state.ready:
                return state
            if state.unknown:
                raise SchemaError(f"{state.describe()}, which is newer than this build")
            why = f"{state.describe()}: run 'gridwatch db upgrade' against it"
        except (OperationalError, DBAPIError) as exc:
            why = f"cannot reach it yet ({str(exc.orig or exc).strip().splitlines()[0]})"
        now = time.monotonic()
        if now > deadline:
            raise SchemaError(f"gave up waiting {timeout_s:.0f} s for the schema of {where(engine)}: {why}")
        if now - said_at >= log_every_s:
            said_at = now
            log.warning(
                "waiting for the database schema of %s: %s (giving up in %.0f s)",
                where(engine),
                why,
                deadline - now,
            )
        time.sleep(poll_s)


def prepare_schema(engine: Engine, mode: SchemaMode | str, wait_s: float) -> None:
    """What a service does with the schema at start: upgrade under the lock, or wait for it."""
    if SchemaMode(mode) is SchemaMode.UPGRADE:
        upgrade(engine, lock_timeout_s=wait_s)
    else:
        wait_for_schema(engine, wait_s)
