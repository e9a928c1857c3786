"""The sequence bookkeeping's rows read and written through SQLite's driver (issue 19) are the rows
SQLAlchemy's statements read and write: the same stream — gaps, late arrivals, losses placed by the
source's own report, a dead letter, a restarted counter — into two stores, one with the driver
paths switched off, compared as the text SQLite holds (JSON, NULL against 'null', datetimes)."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from contracts import EdgeHealth, OutboxHealth, encode, topics
from contracts.clock import ManualClock
from contracts.site import Site
from gateway.context import GatewayContext
from gateway.flows.ingest import Incoming, Pipeline
from gateway.ingest.sequences import GRACE_S
from gateway.schema.migrate import upgrade
from gateway.store import sqlite_rows
from gateway.store.db import make_engine, session_factory
from tests.support.harness import WEDNESDAY_10AM, Harness

NODE = "node-gongye-1"


class Receipts:
    def __init__(self) -> None:
        self.seen: list[dict[str, tuple[str, list[tuple[int, int]]]]] = []

    def offer(self, receipts: dict[str, tuple[str, list[tuple[int, int]]]]) -> None:
        self.seen.append(dict(receipts))


def _run(path: Path, site: Site) -> tuple[list[dict[str, object]], Receipts]:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    sessions = session_factory(engine)
    clock = ManualClock(WEDNESDAY_10AM)
    ctx = GatewayContext(site, "gateway-1", clock)
    h = Harness(engine, sessions, ctx, clock, Pipeline(sessions, ctx))
    sink = Receipts()
    h.pipeline.sequences.receipts = sink

    def event(seq: int, ts_shift: float = 0) -> Incoming:
        e = h.event("smk-factory-a1", seq=seq, state="update", ts=clock.now() + timedelta(seconds=ts_shift))
        return Incoming(topics.node_event(NODE), encode(e))

    def health(seq: int, last_seq: int, dropped: list[tuple[int, int]]) -> Incoming:
        outbox = OutboxHealth(
            depth=0, capacity=1000, oldest_unsent_age_s=0, evicted_total=0, last_seq=last_seq,
            dropped_seqs=dropped,
        )  # fmt: skip
        msg = EdgeHealth(source=NODE, seq=seq, ts=clock.now(), uptime_s=1, outbox=outbox)
        return Incoming(topics.node_health(NODE), encode(msg))

    h.pipeline.process([event(1), event(2), event(6), event(9)])  # first contact, two gaps
    h.pipeline.process([event(4)])  # late
    bad = json.loads(encode(h.event("smk-factory-a1", seq=12, state="update")))
    h.pipeline.process([Incoming(topics.node_event(NODE), json.dumps({**bad, "confidence": "x"}).encode())])
    h.pipeline.process([health(13, 15, [(7, 8)])])  # declares 15 handed out, 7-8 dropped itself
    clock.advance(GRACE_S + 1)
    h.pipeline.process([event(16)])  # 3, 5, 7-8, 10-11, 14-15: lost, placed
    h.pipeline.process([event(5)])  # recovered
    clock.advance(10)
    h.pipeline.process([event(2, ts_shift=5)])  # made well after the highest: a restarted counter
    engine.dispose()
    with sqlite3.connect(path) as raw:
        cursor = raw.execute("SELECT * FROM source_progress ORDER BY source")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    return rows, sink


def test_the_driver_paths_store_what_sqlalchemy_stores(
    tmp_path: Path, demo_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver_rows, driver_receipts = _run(tmp_path / "driver.db", demo_site)
    with monkeypatch.context() as m:
        m.setattr(sqlite_rows, "is_sqlite", lambda _session: False)
        sqlalchemy_rows, sqlalchemy_receipts = _run(tmp_path / "sqlalchemy.db", demo_site)
    assert driver_rows == sqlalchemy_rows
    assert driver_receipts.seen == sqlalchemy_receipts.seen
    (row,) = driver_rows  # the stream went through every branch the row can record
    assert row["source"] == NODE and row["resets_total"] == 1 and row["recovered_total"] == 1
    assert row["lost_at_source_total"] == 2 and row["lost_total"] > 2 and row["declared_seq"] is None
    assert len(driver_receipts.seen) == 7
