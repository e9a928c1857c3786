"""Backup and restore, documented in docs/deploy.md: a running SQLite store backed up online
(the real gateway ingesting from a real Mosquitto meanwhile) and restored; PostgreSQL with the
real pg_dump and pg_restore."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select, text

from contracts import encode, topics
from gateway.cases.models import Case
from gateway.events.models import EventRecord
from gateway.schema.migrate import head_revision, upgrade
from gateway.store.db import make_engine, session_factory
from gridwatch.broker import Mosquitto
from tests.support.brokers.edge_mqtt import hazard
from tests.support.paths import DEMO_SITE
from tests.support.processes.gateway import run_gridwatch, running_gateway
from tests.support.waiting import wait_until

NODE = "node-gongye-1"
DEVICE = "smk-factory-a1"


def _consistent(path: Path) -> tuple[int, int]:
    """(events, the case's event count) in a SQLite file: equal in a consistent snapshot,
    because the gateway writes both in one transaction."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        events = db.execute("SELECT count(*) FROM events WHERE kind = 'hazard_event'").fetchone()[0]
        counted = db.execute("SELECT coalesce(sum(event_count), 0) FROM cases").fetchone()[0]
        return events, counted
    finally:
        db.close()


def test_a_running_sqlite_store_is_backed_up_online_and_restored(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    store = tmp_path / "live" / "gridwatch.db"
    url = f"sqlite:///{store}"
    stop = threading.Event()
    sent = [0]
    publisher = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="backup-load")
    publisher.connect(mosquitto.host, mosquitto.port)
    publisher.loop_start()

    def load() -> None:  # repeat events of one alarm: each adds an event row and bumps the case
        n = 0
        while not stop.is_set():
            n += 1
            event = hazard(NODE, n, device_id=DEVICE).model_copy(update={"seq": n, "episode_id": "ep-1"})
            publisher.publish(topics.node_event(NODE), encode(event), qos=1).wait_for_publish(5)
            sent[0] = n
            time.sleep(0.002)

    with running_gateway(mosquitto, url, DEMO_SITE):
        writer = threading.Thread(target=load, daemon=True)
        writer.start()
        wait_until(lambda: _consistent(store)[0] >= 50, timeout=30, what="the gateway to ingest")
        backups = []
        for i in range(3):  # while the gateway commits batch after batch
            made = run_gridwatch("db", "backup", "--db", url, str(tmp_path / f"b{i}.sqlite3"))
            assert made.returncode == 0, made.stderr
            assert "backed up" in made.stdout and f"schema {head_revision()}" in made.stdout
            backups.append(tmp_path / f"b{i}.sqlite3")
        stop.set()
        writer.join(timeout=10)
    publisher.disconnect()
    publisher.loop_stop()

    counts = [_consistent(b) for b in backups]
    assert all(events == counted and events > 0 for events, counted in counts), counts
    assert counts[0][0] < counts[2][0] <= _consistent(store)[0]  # the gateway kept writing meanwhile
    assert not list(tmp_path.glob("*.part"))

    # restore into a new place: the gateway's store as it was at the last backup
    restored = tmp_path / "restored" / "gridwatch.db"
    done = run_gridwatch("db", "restore", str(backups[-1]), "--db", f"sqlite:///{restored}")
    assert done.returncode == 0, done.stderr
    assert _consistent(restored) == counts[-1]
    status = run_gridwatch("db", "status", "--db", f"sqlite:///{restored}")
    assert status.returncode == 0 and "current" in status.stdout

    # an existing store is not overwritten by accident, and a damaged backup never touches it
    again = run_gridwatch("db", "restore", str(backups[0]), "--db", f"sqlite:///{restored}")
    assert again.returncode == 1 and "--replace" in again.stderr
    damaged = tmp_path / "damaged.sqlite3"
    data = bytearray(backups[0].read_bytes())
    data[4096:8192] = b"\x00" * 4096
    damaged.write_bytes(bytes(data))
    bad = run_gridwatch("db", "restore", str(damaged), "--db", f"sqlite:///{restored}", "--replace")
    assert bad.returncode == 1 and str(damaged) in bad.stderr
    assert _consistent(restored) == counts[-1]
    replaced = run_gridwatch("db", "restore", str(backups[0]), "--db", f"sqlite:///{restored}", "--replace")
    assert replaced.returncode == 0 and _consistent(restored) == counts[0]


@pytest.mark.postgres
def test_postgres_backup_with_pg_dump_and_restore_with_pg_restore(pg_url: str, tmp_path: Path) -> None:
    if shutil.which("pg_dump") is None:
        pytest.fail("pg_dump is not installed: run scripts/setup.sh (postgresql-client)")
    engine = make_engine(pg_url)
    upgrade(engine)
    sessions = session_factory(engine)
    from tests.support.stores import case_row

    with sessions.begin() as s:
        for i in range(5):
            s.add(case_row(f"case-{i}", status="closed" if i else "new"))
    dump = tmp_path / "gridwatch.dump"
    made = run_gridwatch("db", "backup", "--db", pg_url, str(dump))
    assert made.returncode == 0, made.stderr
    assert dump.stat().st_size > 0

    # after the backup: a case is lost, another added, a table dropped by mistake
    with sessions.begin() as s:
        s.execute(text("DELETE FROM cases WHERE id = 'case-1'"))
        s.add(case_row("case-late", status="closed"))
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE dead_letters"))
    engine.dispose()

    refused = run_gridwatch("db", "restore", str(tmp_path / "nope.dump"), "--db", pg_url, "--replace")
    assert refused.returncode == 1 and "no backup" in refused.stderr
    done = run_gridwatch("db", "restore", str(dump), "--db", pg_url, "--replace")
    assert done.returncode == 0, done.stderr
    engine = make_engine(pg_url)
    with session_factory(engine)() as s:
        assert sorted(s.scalars(select(Case.id))) == [f"case-{i}" for i in range(5)]
        assert s.scalar(select(func.count()).select_from(EventRecord)) == 0
        assert s.execute(text("SELECT count(*) FROM dead_letters")).scalar() == 0  # the table is back
    status = run_gridwatch("db", "status", "--db", pg_url)
    assert status.returncode == 0, status.stderr
    engine.dispose()
