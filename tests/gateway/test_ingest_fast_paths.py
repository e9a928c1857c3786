"""The ingest's fast paths (issue 19) change how much Python a message costs, never what is stored.

- SQLite's ledger statements go through the driver with datetimes formatted by
  :func:`gateway.store.base.sqlite_datetime`: the same text as SQLAlchemy's processors, the same
  rows as SQLAlchemy's statements;
- a batch of good messages with hostile ones among them leaves the same store as the same
  messages taken one per batch (every table the pipeline writes, compared row by row; case ids
  are the gateway's own random ones, so cases are compared by their place).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import sqlite as sqlite_dialect

from contracts import Envelope, HazardEvent, Measurement, SensorReading, encode, topics
from contracts.site import Site
from gateway.cases.models import Case, CaseTransition
from gateway.events import service as ledger
from gateway.events.models import DeadLetter, EventRecord, SourceProgress
from gateway.flows.ingest import Incoming, Outcome
from gateway.schema.migrate import upgrade
from gateway.store import sqlite_rows
from gateway.store.base import UtcDateTime, sqlite_datetime
from gateway.store.db import make_engine, session_factory
from tests.support.harness import WEDNESDAY_10AM, Harness, open_harness
from tests.support.stores import migrated_store_url, store_kind


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 18, 2, 0, tzinfo=UTC),
        datetime(2026, 11, 18, 2, 0, 0, 123000, tzinfo=UTC),
        datetime(2026, 11, 18, 2, 0, 0, 7, tzinfo=UTC),
        datetime(2026, 11, 18, 10, 0, 0, 999999, tzinfo=timezone(timedelta(hours=8))),
        datetime(2000, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),  # the day before in UTC
        datetime(2099, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))),
        datetime(1, 1, 2, tzinfo=UTC),
    ],
)
def test_sqlite_datetime_is_the_text_sqlalchemy_stores(value: datetime) -> None:
    dialect = sqlite_dialect.dialect()
    process = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)  # what a statement binds
    expected = process(value)  # type: ignore[misc]
    assert sqlite_datetime(value) == expected


def test_sqlite_datetime_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="naive"):
        sqlite_datetime(datetime(2026, 11, 18, 2, 0))


def _ledger_rows(url: str) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        rows = session.scalars(select(EventRecord).order_by(EventRecord.source, EventRecord.id))
        out = [tuple(getattr(r, c.key) for c in EventRecord.__table__.columns) for r in rows]
    engine.dispose()
    return out


def test_the_sqlite_ledger_claim_stores_what_sqlalchemys_statement_stores(
    tmp_path: Any, demo_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = WEDNESDAY_10AM
    events = [
        HazardEvent(
            source="node-gongye-1",
            seq=k + 1,
            ts=now - timedelta(seconds=k, microseconds=k * 1000),
            hazard_type="smoke_alarm",
            severity="major",
            confidence=0.9,
            state="update",
            episode_id="ep-1",
            device_id="smk-factory-a1",
        )
        for k in range(7)
    ]
    claims = [ledger.Claim(e, topics.node_event(e.source), encode(e).decode()) for e in events]
    won: dict[str, list[set[ledger.EventKey]]] = {}
    for how in ("driver", "sqlalchemy"):
        url = f"sqlite:///{tmp_path / how}.db"
        engine = make_engine(url)
        upgrade(engine)
        sessions = session_factory(engine)
        with monkeypatch.context() as m:
            if how == "sqlalchemy":
                m.setattr(sqlite_rows, "is_sqlite", lambda _session: False)
            runs = []
            for part in (claims[:4], claims[2:]):  # the second claim repeats two keys
                with sessions.begin() as session:
                    runs.append(ledger.claim(session, part, now, "gw-1"))
                    ledger.attach_cases(session, {ledger.key_of(part[0].message): f"case-{how}"})
        won[how] = runs
        engine.dispose()
    assert won["driver"] == won["sqlalchemy"]
    assert won["driver"][1] == {ledger.key_of(e) for e in events[4:]}
    driver_rows = _ledger_rows(f"sqlite:///{tmp_path / 'driver'}.db")
    case_column = [c.key for c in EventRecord.__table__.columns].index("case_id")
    assert [r[:case_column] + r[case_column + 1 :] for r in driver_rows] == [
        r[:case_column] + r[case_column + 1 :]
        for r in _ledger_rows(f"sqlite:///{tmp_path / 'sqlalchemy'}.db")
    ]
    assert sorted(r[case_column] for r in driver_rows if r[case_column]) == ["case-driver"] * 2


# -- a mixed batch against one by one ----------------------------------------------------
def _messages(h: Harness) -> tuple[list[Incoming], list[Incoming]]:
    """(what opens the three cases, then the mix): repeats, a severity rise, a clear and a return,
    a redelivery, readings, and hostile messages of each kind among them, numbered in the stream
    as a broken node would number them. (The cases open first, one by one in both stores: a clear
    batched with the alarm that opens its case is noted as one that overtook it — known, and not
    what is compared here.)"""
    now = h.clock.now()
    good: list[Envelope] = []
    hostile = [
        {"seq": 2**63},
        {"seq": True},
        {"schema_version": [1]},
        {"schema_version": 7},
        {"ts": "0001-01-01T00:00:00+01:00"},
        {"ts": (now + timedelta(days=1)).isoformat()},
        {"confidence": "0.5"},
        {"summary": "fire\u0000"},
        {"kind": "sensor_reading"},
        {"device_id": "smk-rental-12"},  # another node's device
    ]
    mixed: list[Incoming] = []
    for k in range(33):
        device = ("smk-factory-a1", "smk-gongye-dorm-3", "gas-workshop-b1")[k % 3]
        fields: dict[str, object] = {
            "state": "update",
            "severity": "major",
            "ts": now - timedelta(seconds=60 - k),
        }
        if k == 10:
            fields["severity"] = "critical"
        if k == 13:
            fields["state"] = "clear"
        if device == "gas-workshop-b1":
            fields["hazard_type"] = "gas_leak"
        event = h.event(device, **fields)
        good.append(event)
        mixed.append(Incoming(_topic(event), encode(event)))
        if k % 3 == 2 and hostile:
            doc = json.loads(encode(h.event("smk-factory-a1", state="update")))  # takes the next number
            mixed.append(Incoming(_topic(event), json.dumps({**doc, **hostile.pop(0)}).encode()))
        if k % 4 == 0:
            h.seq += 1
            reading = SensorReading(
                source=event.source,
                seq=h.seq,
                ts=now - timedelta(seconds=k),
                device_id="smk-factory-a1",
                measurements=[Measurement(quantity="smoke_density", value=k / 10)],
            )
            mixed.append(Incoming(_topic(reading), encode(reading)))
    doc = json.loads(encode(good[0]))
    mixed.insert(20, Incoming(_topic(good[5]), encode(good[5])))  # redelivered within the batch
    mixed.insert(
        7,
        Incoming(topics.node_event("node-stranger"), json.dumps({**doc, "source": "node-stranger"}).encode()),
    )
    mixed.insert(11, Incoming(_topic(good[0]), b"\xff not json"))
    return mixed[:3], mixed[3:]


def _topic(message: Envelope) -> str:
    if isinstance(message, SensorReading):
        return topics.node_reading(message.source)
    return topics.node_event(message.source)


def _sorted(rows: Any) -> list[tuple[Any, ...]]:
    return sorted(rows, key=repr)  # rows hold None beside text


def _store(h: Harness) -> dict[str, Any]:
    """Every row the pipeline wrote, with case ids replaced by their case's place."""
    with h.sessions() as s:
        cases = list(s.scalars(select(Case)))
        place = {c.id: (c.hazard_type, c.place_key) for c in cases}
        skip = {"id", "opened_at", "updated_at"}
        return {
            "cases": _sorted(
                tuple(getattr(c, col.key) for col in Case.__table__.columns if col.key not in skip)
                for c in cases
            ),
            "trail": _sorted(
                (place[t.case_id], t.from_status, t.to_status, t.change, t.reason, t.event_id)
                for t in s.scalars(select(CaseTransition))
            ),
            "ledger": _sorted(
                (
                    r.source,
                    r.id,
                    r.kind,
                    r.seq,
                    r.ts,
                    r.device_id,
                    r.severity,
                    r.state,
                    place.get(r.case_id or ""),
                    r.payload,
                    r.outcome,
                )
                for r in s.scalars(select(EventRecord))
            ),
            "dead_letters": _sorted(
                (d.topic, d.source, d.reason, d.detail, d.payload) for d in s.scalars(select(DeadLetter))
            ),
            "sequences": _sorted(
                (p.source, p.max_seq, p.open_gaps, p.lost_total, p.late_total, p.messages_total, p.base_seq)
                for p in s.scalars(select(SourceProgress))
            ),
        }


def test_a_batch_with_hostile_messages_among_good_ones_stores_what_one_by_one_stores(
    db_url: str, demo_site: Site, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    # The same messages into a second, empty store of the same kind, one message per batch.
    alone_url = migrated_store_url(store_kind(db_url), tmp_path / "alone.db", request)
    batched, alone = open_harness(db_url, demo_site), open_harness(alone_url, demo_site)
    opening, messages = _messages(batched)
    for m in opening:
        batched.pipeline.process([m])
        alone.pipeline.process([m])
    outcomes = batched.pipeline.process(messages)
    one_by_one = [alone.pipeline.process([m])[0] for m in messages]
    got, want = _store(batched), _store(alone)
    batched.engine.dispose()
    alone.engine.dispose()
    assert outcomes == one_by_one
    assert outcomes.count(Outcome.DEAD_LETTER) == 12 and outcomes.count(Outcome.DUPLICATE) == 1
    reasons = sorted(row[2] for row in got["dead_letters"])
    assert reasons == sorted(
        ["invalid"] * 7
        + ["unsupported_version", "wrong_kind", "source_mismatch", "unknown_source", "bad_json"]
    )
    assert len(got["cases"]) == 3
    assert got == want
