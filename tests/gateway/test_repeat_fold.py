"""Plain repeats folded without the ORM (gateway/cases/repeats.py, issue 19) store what the ORM stores.

A batch of repeats for open cases — most of them plain (only counted), some raising a severity,
clearing, or bringing new evidence, a redelivery among them — is taken once as one batch (the
fast fold for the cases whose repeats are all plain) and once one message per batch with the fast
fold switched off (the ORM's ``_absorb`` for every event). Both stores must hold the same rows, and
the plain cases' rows are also checked against what the test computes from the messages it sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from contracts import EvidenceRef, HazardEvent, Measurement, SensorReading, encode, topics
from contracts.site import Site
from gateway.cases import repeats
from gateway.cases.models import Case, CaseTransition
from gateway.events.models import EventRecord, SourceProgress
from gateway.flows.ingest import Incoming, Outcome
from gateway.store.change_log import Change
from tests.support.harness import WEDNESDAY_10AM, Harness, open_harness
from tests.support.stores import migrated_store_url, store_kind

PLAIN = "smk-factory-a1"  # every repeat plain: folded without the ORM
RISING = "smk-gongye-dorm-3"  # one repeat raises the severity: the whole case through the ORM
GAS = "gas-workshop-b1"  # plain too, its repeats older and newer than the case's last sighting
EVIDENCE = "smk-rental-12"  # one repeat brings a new evidence id: through the ORM


def _incoming(message: HazardEvent | SensorReading) -> Incoming:
    topic = (
        topics.node_reading(message.source)
        if isinstance(message, SensorReading)
        else topics.node_event(message.source)
    )
    return Incoming(topic, encode(message))


def _hazard(h: Harness, device: str, ts: datetime, **fields: object) -> HazardEvent:
    base: dict[str, object] = {"state": "update", "severity": "major", "ts": ts}
    if device == GAS:
        base["hazard_type"] = "gas_leak"
    base.update(fields)
    return h.event(device, **base)


def _stream(h: Harness) -> tuple[list[Incoming], list[Incoming], dict[str, list[HazardEvent]]]:
    """(the four alarms that open the cases, the batch of repeats, the valid repeats by device)."""
    now = h.clock.now()
    opening = [_incoming(_hazard(h, d, now - timedelta(seconds=30))) for d in (PLAIN, RISING, GAS, EVIDENCE)]
    batch: list[Incoming] = []
    sent: dict[str, list[HazardEvent]] = {d: [] for d in (PLAIN, RISING, GAS, EVIDENCE)}
    for k in range(24):
        device = (PLAIN, RISING, GAS, EVIDENCE)[k % 4]
        fields: dict[str, object] = {}
        if device == RISING and k == 9:
            fields["severity"] = "critical"
        if device == EVIDENCE and k == 15:
            fields["evidence"] = EvidenceRef(evidence_id="ev-new-1", sha256="ab" * 32, size_bytes=1000)
        if device == PLAIN and k == 12:
            fields["severity"] = "minor"  # lower than the case's: still plain
        # GAS: some before the case's last sighting (30 s ago), some after it
        offset = 50 - 3 * k if device == GAS else 20 - k // 2
        event = _hazard(h, device, now - timedelta(seconds=offset), **fields)
        sent[device].append(event)
        batch.append(_incoming(event))
        if k % 5 == 0:
            h.seq += 1
            reading = SensorReading(
                source=event.source,
                seq=h.seq,
                ts=now,
                device_id=PLAIN,
                measurements=[Measurement(quantity="smoke_density", value=k / 10)],
            )
            batch.append(_incoming(reading))
    batch.insert(7, batch[2])  # a redelivery within the batch
    return opening, batch, sent


def _sorted(rows: Any) -> list[tuple[Any, ...]]:
    return sorted(rows, key=repr)


def _store(h: Harness) -> dict[str, Any]:
    """Every row the batch wrote, case ids replaced by their case's place (ids are random)."""
    with h.sessions() as s:
        cases = list(s.scalars(select(Case)))
        place = {c.id: (c.hazard_type, c.place_key) for c in cases}
        return {
            "cases": {
                place[c.id]: tuple(getattr(c, col.key) for col in Case.__table__.columns if col.key != "id")
                for c in cases
            },
            "trail": _sorted(
                (place[t.case_id], t.at, t.from_status, t.to_status, t.change, t.reason, t.event_id)
                for t in s.scalars(select(CaseTransition))
            ),
            "ledger": _sorted(
                (r.source, r.id, r.seq, r.ts, place.get(r.case_id or ""), r.outcome)
                for r in s.scalars(select(EventRecord))
            ),
            "sequences": _sorted(
                (p.source, p.max_seq, p.open_gaps, p.messages_total)
                for p in s.scalars(select(SourceProgress))
            ),
            "changes": _sorted(
                (c.entity, place.get(c.entity_id, c.entity_id) if c.entity == "case" else c.entity, c.kind)
                for c in s.scalars(select(Change))
            ),
        }


def test_a_batch_of_repeats_stores_what_the_orm_stores_one_by_one(
    db_url: str,
    demo_site: Site,
    tmp_path: Any,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other_url = migrated_store_url(store_kind(db_url), tmp_path / "orm.db", request)
    fast, orm = open_harness(db_url, demo_site), open_harness(other_url, demo_site)
    orm.pipeline._plain_repeats = lambda *_args: []  # type: ignore[method-assign]
    opening, batch, sent = _stream(fast)
    for m in opening:
        assert fast.pipeline.process([m]) == orm.pipeline.process([m]) == [Outcome.APPLIED]
    for h in (fast, orm):
        h.clock.advance(seconds=5)  # the batch's updated_at differs from the opening's
    folded: list[str] = []
    write = repeats.write

    def spy(session: Any, cases: Any) -> int:
        cases = list(cases)
        folded.extend(c.place_key for c in cases if c.folded)
        return write(session, cases)

    monkeypatch.setattr(repeats, "write", spy)
    outcomes = fast.pipeline.process(batch)
    assert sorted(folded) == sorted([GAS, PLAIN])  # the fast fold did happen, for these two only
    one_by_one = [orm.pipeline.process([m])[0] for m in batch]
    got, want = _store(fast), _store(orm)
    fast.engine.dispose()
    orm.engine.dispose()
    assert outcomes == one_by_one
    assert outcomes.count(Outcome.DUPLICATE) == 1
    assert got == want

    # The plain cases' rows, from the messages sent (not from the pipeline's counters).
    now = WEDNESDAY_10AM + timedelta(seconds=5)
    columns = [col.key for col in Case.__table__.columns if col.key != "id"]
    for device, hazard in ((PLAIN, "smoke_alarm"), (GAS, "gas_leak")):
        row = dict(zip(columns, got["cases"][(hazard, device)], strict=True))
        repeats_sent = sent[device]
        assert row["event_count"] == 1 + len(repeats_sent)
        assert row["last_seen_at"] == max(
            WEDNESDAY_10AM - timedelta(seconds=30), *(e.ts for e in repeats_sent)
        )
        assert row["first_seen_at"] == WEDNESDAY_10AM - timedelta(seconds=30)
        assert row["updated_at"] == now
        assert row["severity"] == "major"
    rising = dict(zip(columns, got["cases"][("smoke_alarm", RISING)], strict=True))
    assert rising["severity"] == "critical" and rising["event_count"] == 1 + len(sent[RISING])
    with_evidence = dict(zip(columns, got["cases"][("smoke_alarm", EVIDENCE)], strict=True))
    assert with_evidence["evidence_ids"] == ["ev-new-1"]


def test_a_batch_with_a_task_update_or_a_new_place_goes_the_orms_way(
    tmp_path: Any, demo_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = open_harness(f"sqlite:///{tmp_path / 'g.db'}", demo_site)
    now = h.clock.now()
    h.pipeline.process([_incoming(_hazard(h, PLAIN, now))])
    calls: list[int] = []
    write = repeats.write
    monkeypatch.setattr(repeats, "write", lambda s, cases: calls.append(len(list(cases))) or write(s, []))
    # a repeat together with the first alarm of a place with no open case: all through the ORM
    outcomes = h.pipeline.process([_incoming(_hazard(h, PLAIN, now)), _incoming(_hazard(h, GAS, now))])
    assert outcomes == [Outcome.APPLIED] * 2 and calls == [0]
    with h.sessions() as s:
        counts = {c.place_key: c.event_count for c in s.scalars(select(Case))}
    assert counts == {PLAIN: 2, GAS: 1}
    h.engine.dispose()
