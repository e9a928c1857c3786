"""Migrations run once: `gridwatch db upgrade` under a lock, services that wait for the schema.

Real SQLite files and a real PostgreSQL; several real processes started together."""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from gateway.schema.migrate import (
    LOCK_NAME,
    SchemaError,
    alembic_config,
    current_revision,
    head_revision,
    known_revisions,
    schema_state,
    sqlite_lock_target,
    upgrade,
)
from gateway.schema.models import Base
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.store.db import make_engine
from tests.support.paths import DEMO_SITE, REPO

PROCESSES = 4


def test_the_revisions_read_without_alembic_are_alembics(db_url: str) -> None:
    """A service starts without importing Alembic: it reads the scripts' revision names itself and
    the store's revision with one query. Both must be what Alembic says, or a service would
    upgrade a current store again, or wait forever for one that is current."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    assert head_revision() == scripts.get_current_head()
    assert known_revisions() == {s.revision for s in scripts.walk_revisions()}
    engine = make_engine(db_url)
    try:
        for revision in (None, "0005_change_log", head_revision()):
            if revision:
                upgrade(engine, revision=revision)
            with engine.connect() as conn:
                assert current_revision(conn) == revision
                assert MigrationContext.configure(conn).get_current_revision() == revision
    finally:
        engine.dispose()


def test_a_gateway_starting_against_a_current_store_loads_neither_alembic_nor_influxdb_client(
    db_url: str,
) -> None:
    """Every gateway start (a restart after a crash included): Alembic and Mako are for
    migrating, influxdb-client for a site with a time-series store; neither is loaded here."""
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    probe = (
        "import sys\n"
        "from gateway.service import Gateway\n"
        "from gateway.settings import GatewaySettings\n"
        f"settings = GatewaySettings(site_dir={str(DEMO_SITE)!r}, database_url={db_url!r})\n"
        "Gateway(settings)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako', 'influxdb_client'}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


@contextmanager
def migration_lock_held(db_url: str) -> Iterator[None]:
    """Hold the store's migration lock from the test, as a slow migration would."""
    if db_url.startswith("sqlite"):
        path = sqlite_lock_target(Path(db_url.removeprefix("sqlite:///")))
        fd = os.open(path, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            os.close(fd)
        return
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:n || current_schema()))"), {"n": LOCK_NAME})
        yield
    engine.dispose()


def _upgrade_process(db_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gridwatch.cli", "db", "upgrade", "--db", db_url, "--timeout", "60"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_several_upgrades_started_together_migrate_once(db_url: str, tmp_path: Path) -> None:
    waiting_lines: list[str] = []
    with migration_lock_held(db_url):
        procs = [_upgrade_process(db_url) for _ in range(PROCESSES)]
        # every process has reached the lock and says it waits (nobody migrated around it)
        for proc in procs:
            assert proc.stderr is not None
            line = proc.stderr.readline()
            while line and "waiting" not in line:
                line = proc.stderr.readline()
            waiting_lines.append(line)
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert all("another process is migrating" in line for line in waiting_lines), waiting_lines
    assert [rc for rc, _, _ in results] == [0] * PROCESSES, results
    outs = [o for _, o, _ in results]
    assert sum("upgraded" in o and "from empty" in o for o in outs) == 1, outs
    assert sum("nothing to do" in o for o in outs) == PROCESSES - 1, outs
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()


def test_a_waiting_gateway_starts_once_the_schema_is_upgraded(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = GatewaySettings(site_dir=DEMO_SITE, database_url=db_url, db_schema="wait", db_schema_wait_s=60)
    started: list[Gateway] = []
    failed: list[BaseException] = []

    def start() -> None:
        try:
            started.append(Gateway(settings))
        except BaseException as exc:  # reported by the assertions below
            failed.append(exc)

    caplog.set_level(logging.WARNING, logger="gateway.schema.migrate")
    thread = threading.Thread(target=start)
    thread.start()
    deadline = time.monotonic() + 30
    while "waiting for the database schema" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "run 'gridwatch db upgrade'" in caplog.text
    assert not started, "the gateway went on without a schema"
    engine = make_engine(db_url)
    assert schema_state(engine).current is None  # waiting never migrates
    upgrade(engine)
    thread.join(timeout=30)
    assert not failed and started, failed
    assert schema_state(started[0].engine).current == head_revision()
    started[0].engine.dispose()
    engine.dispose()


def test_a_service_gives_up_waiting_with_the_command_to_run(sqlite_url: str) -> None:
    settings = GatewaySettings(
        site_dir=DEMO_SITE, database_url=sqlite_url, db_schema="wait", db_schema_wait_s=1.5
    )
    started = time.monotonic()
    with pytest.raises(SchemaError, match=r"gave up waiting 2 s .*empty.*run 'gridwatch db upgrade'"):
        Gateway(settings)
    assert time.monotonic() - started < 10


def test_a_store_newer_than_this_build_is_refused_at_once(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(SchemaError, match="newer than this build"):
        upgrade(engine)
    settings = GatewaySettings(site_dir=DEMO_SITE, database_url=sqlite_url, db_schema="wait")
    with pytest.raises(SchemaError, match=r"9999_from_the_future.*newer than this build"):
        Gateway(settings)
    engine.dispose()


WRITER = """
import sys
from sqlalchemy import text
from gateway.store.db import make_engine
engine = make_engine(sys.argv[1])
with engine.begin() as conn:
    conn.execute(text("INSERT INTO dead_letters (received_at, topic, reason, detail, payload, payload_size,"
                      " replay_count) VALUES ('2026-12-01 00:00:00', 't', 'r', 'd', x'00', 1, 0)"))
engine.dispose()
"""


def test_a_process_that_migrated_its_sqlite_store_keeps_seeing_what_others_commit(sqlite_url: str) -> None:
    """The gateway migrates at start and goes on with the same engine; other processes (the API,
    a second gateway) write and exit. Its reads must follow their commits: the migration lock must
    not drop SQLite's own locks (it did when it was taken on the database file itself)."""
    engine = make_engine(sqlite_url)
    upgrade(engine)

    def letters() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM dead_letters")).scalar() or 0)

    assert letters() == 0
    for expected in (1, 2, 3):
        subprocess.run([sys.executable, "-c", WRITER, sqlite_url], cwd=REPO, check=True, timeout=60)
        assert letters() == expected
    engine.dispose()
