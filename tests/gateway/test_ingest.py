"""Exactly-once ingest, correlation and out-of-order delivery (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from contracts import GeoPoint, HazardEvent, TaskUpdate, encode, topics
from gateway.cases.models import Case, CaseTransition
from gateway.dispatch.models import Task
from gateway.events.models import EventRecord, SourceProgress
from gateway.flows.ingest import Incoming, Outcome
from tests.support.harness import Harness

FACTORY_SMOKE = GeoPoint(lon=120.3122, lat=31.4956)  # smk-factory-a1
DEG_LON_PER_100M = 100 / 94_950  # at latitude 31.5°


def cases(h: Harness) -> list[Case]:
    with h.sessions() as s:
        return list(s.scalars(select(Case).order_by(Case.opened_at, Case.id)))


def trail(h: Harness, case_id: str) -> list[CaseTransition]:
    with h.sessions() as s:
        return list(
            s.scalars(
                select(CaseTransition).where(CaseTransition.case_id == case_id).order_by(CaseTransition.id)
            )
        )


def incoming(event: HazardEvent, **kw: object) -> Incoming:
    return Incoming(topics.node_event(event.source), encode(event), **kw)  # type: ignore[arg-type]


def east(point: GeoPoint, metres: float) -> GeoPoint:
    return GeoPoint(lon=point.lon + metres / 100 * DEG_LON_PER_100M, lat=point.lat)


# -- idempotency ------------------------------------------------------------------
def test_the_same_event_twice_in_one_batch_and_again_later_is_applied_once(harness: Harness) -> None:
    event = harness.event("smk-factory-a1")
    other = harness.event("smk-factory-a1", state="update")
    outcomes = harness.pipeline.process([incoming(event), incoming(event), incoming(other)])
    assert outcomes == [Outcome.APPLIED, Outcome.DUPLICATE, Outcome.APPLIED]
    assert harness.pipeline.process([incoming(other), incoming(event)]) == [Outcome.DUPLICATE] * 2
    [case] = cases(harness)
    assert case.event_count == 2
    with harness.sessions() as s:
        ledger = {r.id: r for r in s.scalars(select(EventRecord))}
    assert set(ledger) == {event.id, other.id}
    assert {r.case_id for r in ledger.values()} == {case.id}
    assert {r.handled_by for r in ledger.values()} == {"gateway-1"}


# -- correlation -------------------------------------------------------------------
def test_repeated_alarms_from_one_sensor_make_one_case_with_a_count(harness: Harness) -> None:
    first_ts = harness.clock.now()
    for severity in ("minor", "critical", "major", "major"):
        last_ts = harness.clock.now()
        harness.raise_event("smk-factory-a1", state="update", severity=severity)
        harness.clock.advance(20)
    [case] = cases(harness)
    assert case.event_count == 4
    assert case.severity == "critical"  # the highest seen, not the latest
    assert (case.first_seen_at, case.last_seen_at) == (first_ts, last_ts)
    notes = [(t.change, t.reason) for t in trail(harness, case.id) if t.change != "status"]
    assert notes == [("severity", "severity minor → critical (smk-factory-a1)")]


def test_two_sensors_100_m_apart_share_a_case_and_2_km_apart_do_not(harness: Harness) -> None:
    harness.raise_event("smk-factory-a1", location=FACTORY_SMOKE)
    harness.raise_event("smk-gongye-dorm-3", location=east(FACTORY_SMOKE, 100))
    [case] = cases(harness)
    assert case.event_count == 2 and case.device_id == "smk-factory-a1"
    harness.raise_event("smk-rental-12", location=east(FACTORY_SMOKE, 2000))
    first, second = cases(harness)
    assert (first.id, first.event_count) == (case.id, 2)
    assert second.device_id == "smk-rental-12" and second.event_count == 1


def test_a_nearby_case_that_has_been_quiet_longer_than_the_window_does_not_absorb(harness: Harness) -> None:
    harness.raise_event("smk-factory-a1", location=FACTORY_SMOKE)
    harness.clock.advance(harness.ctx.site.settings.correlation.window_s + 1)
    harness.raise_event("smk-gongye-dorm-3", location=east(FACTORY_SMOKE, 100))
    assert [c.event_count for c in cases(harness)] == [1, 1]


def test_one_batch_with_five_places_and_repeats_opens_one_case_per_place(harness: Harness) -> None:
    devices = ["smk-factory-a1", "smk-rental-12", "smk-rental-15", "smk-gongye-dorm-3", "gas-restaurant-3"]
    batch = [harness.event(d) for _ in range(6) for d in devices]  # five places ≥ 600 m apart, interleaved
    assert set(harness.pipeline.process([incoming(e) for e in batch])) == {Outcome.APPLIED}
    found = cases(harness)
    assert len(found) == 5
    assert sorted(c.event_count for c in found) == [6] * 5


def test_camera_and_smoke_detector_agreeing_raise_both_cases_one_step(harness: Harness) -> None:
    _, _ = harness.raise_event("cam-factory-a", hazard_type="fire_smoke", severity="major", zone_id="floor")
    harness.raise_event("smk-factory-a1", severity="major")
    camera, detector = cases(harness)
    assert (camera.hazard_type, detector.hazard_type) == ("fire_smoke", "smoke_alarm")
    assert camera.severity == detector.severity == "critical"
    assert camera.corroborated_by == detector.id and detector.corroborated_by == camera.id
    [note] = [t for t in trail(harness, camera.id) if t.change == "corroborated"]
    assert "smk-factory-a1 agrees" in note.reason and "major → critical" in note.reason


def test_a_clear_is_noted_on_the_case_and_a_return_after_it_too(harness: Harness) -> None:
    harness.raise_event("smk-factory-a1")
    harness.clock.advance(60)
    harness.raise_event("smk-factory-a1", state="clear", severity="minor")
    [case] = cases(harness)
    assert case.source_cleared_at is not None
    harness.clock.advance(60)
    harness.raise_event("smk-factory-a1", state="update")
    [case] = cases(harness)
    assert case.source_cleared_at is None
    assert [t.change for t in trail(harness, case.id) if t.change != "status"] == ["cleared", "returned"]


# -- out-of-order delivery (shared subscriptions) ------------------------------------
def test_a_clear_that_overtakes_its_alarm_is_still_noted_on_the_case(harness: Harness) -> None:
    alarm = harness.event("smk-factory-a1", state="new")
    harness.clock.advance(30)
    clear = harness.event("smk-factory-a1", state="clear", severity="minor")
    assert harness.pipeline.process([incoming(clear)]) == [Outcome.APPLIED]
    assert cases(harness) == []  # nothing to clear yet
    harness.pipeline.process([incoming(alarm)])
    [case] = cases(harness)
    assert case.source_cleared_at == clear.ts
    assert any(
        "the clear arrived first" in t.reason for t in trail(harness, case.id) if t.change == "cleared"
    )
    with harness.sessions() as s:
        assert s.get(EventRecord, (clear.source, clear.id)).case_id == case.id  # type: ignore[union-attr]


def _task_updates(h: Harness) -> tuple[Task, Case, Callable[..., Incoming]]:
    h.raise_event("smk-factory-a1")
    with h.sessions() as s:
        task = s.scalars(select(Task)).one()
    [case] = cases(h)

    def update(action: str, seq: int, **kw: object) -> Incoming:
        msg = TaskUpdate(
            source=task.worker_id,
            seq=seq,
            ts=h.clock.now(),
            task_id=task.id,
            worker_id=task.worker_id,
            action=action,
            **kw,
        )
        return Incoming(topics.worker_task_update(task.worker_id), encode(msg))

    return task, case, update


def test_a_resolve_that_overtakes_the_check_in_is_applied_once_the_check_in_is_in(harness: Harness) -> None:
    task, case, update = _task_updates(harness)
    site = GeoPoint(lon=case.lon, lat=case.lat)  # type: ignore[arg-type]
    assert harness.pipeline.process([update("accept", 1)]) == [Outcome.APPLIED]
    resolve = update("resolve", 3, result="handled", note="pan on the stove")
    assert harness.pipeline.process([resolve]) == [Outcome.REFUSED]  # still "accepted"
    assert harness.pipeline.process([update("check_in", 2, location=site)]) == [Outcome.APPLIED]
    with harness.sessions() as s:
        assert s.get(Task, task.id).status == "resolved"  # type: ignore[union-attr]
        outcomes = [r.outcome for r in s.scalars(select(EventRecord).where(EventRecord.task_id == task.id))]
    assert outcomes == ["applied"] * 3
    statuses = [t.to_status for t in trail(harness, case.id) if t.change == "status"]
    assert statuses[-3:] == ["accepted", "on_site", "resolved"]


def test_a_resolve_and_its_check_in_reversed_within_one_batch(harness: Harness) -> None:
    task, case, update = _task_updates(harness)
    site = GeoPoint(lon=case.lon, lat=case.lat)  # type: ignore[arg-type]
    batch = [update("resolve", 2, result="false_alarm"), update("check_in", 1, location=site)]
    assert harness.pipeline.process(batch) == [Outcome.APPLIED, Outcome.APPLIED]
    with harness.sessions() as s:
        assert s.get(Task, task.id).status == "resolved"  # type: ignore[union-attr]


# -- sequence gaps -----------------------------------------------------------------
def progress(h: Harness, source: str) -> SourceProgress:
    with h.sessions() as s:
        row = s.get(SourceProgress, source)
        assert row is not None
        return row


def test_sequence_gaps_are_noticed_filled_by_late_arrivals_and_lost_after_the_grace(harness: Harness) -> None:
    node = "node-gongye-1"
    events = {n: harness.event("smk-factory-a1", seq=n, state="update") for n in range(1, 11)}
    harness.pipeline.process([incoming(events[n]) for n in (1, 2, 5, 6)])
    row = progress(harness, node)
    assert (row.max_seq, row.open_gap_count) == (6, 2)  # 3 and 4 not seen yet
    harness.pipeline.process([incoming(events[3])])  # out of order: fills the gap
    row = progress(harness, node)
    assert (row.open_gap_count, row.late_total, row.lost_total) == (1, 1, 0)
    harness.clock.advance(61)
    harness.pipeline.process([incoming(events[10])])  # 7-9 noticed now; 4 is past the grace
    row = progress(harness, node)
    assert (row.max_seq, row.open_gap_count, row.lost_total) == (10, 3, 1)
    harness.pipeline.process([incoming(events[4])])  # too late to count as late: recovered after its loss
    assert (progress(harness, node).lost_total, progress(harness, node).recovered_total) == (1, 1)
    assert progress(harness, node).messages_total == 7
    [case] = cases(harness)
    assert case.event_count == 7  # gaps are reported, never fatal


def test_retained_messages_and_seq_zero_are_not_sequenced_and_a_restart_is_recognised(
    harness: Harness,
) -> None:
    node = "node-gongye-1"
    harness.pipeline.process([incoming(harness.event("smk-factory-a1", seq=500, state="update"))])
    retained_old = harness.event("smk-factory-a1", seq=7, state="update")
    will = harness.event("smk-factory-a1", seq=0, state="update")
    harness.pipeline.process([incoming(retained_old, retain=True), incoming(will)])
    row = progress(harness, node)
    assert (row.max_seq, row.resets_total, row.open_gap_count) == (500, 0, 0)
    harness.clock.advance(5)  # a replay of an old message carries its old timestamp: not a restart
    replay = harness.event("smk-factory-a1", seq=3, state="update", ts=harness.clock.now().replace(year=2025))
    harness.pipeline.process([incoming(replay)])
    assert progress(harness, node).resets_total == 0
    restarted = harness.event("smk-factory-a1", seq=1, state="update")  # newer ts, small seq
    harness.pipeline.process([incoming(restarted)])
    row = progress(harness, node)
    assert (row.max_seq, row.resets_total) == (1, 1)


def test_a_payload_that_breaks_the_batch_is_dead_lettered_alone(harness: Harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import gateway.flows.hazard_events as hazard_flow

    good = harness.event("smk-rental-12")
    poison = harness.event("smk-factory-a1")
    real = hazard_flow.record_hazard

    def flaky(session, ctx, event, node_id, now, book=None, place=None):  # type: ignore[no-untyped-def]
        if event.id == poison.id:
            raise RuntimeError("bug triggered by this payload")
        return real(session, ctx, event, node_id, now, book, place)

    monkeypatch.setattr(hazard_flow, "record_hazard", flaky)
    outcomes = harness.pipeline.process([incoming(poison), incoming(good)])
    assert outcomes == [Outcome.DEAD_LETTER, Outcome.APPLIED]
    with harness.sessions() as s:
        assert s.scalar(select(func.count()).select_from(EventRecord)) == 1  # the poison is not claimed
    [case] = cases(harness)
    assert case.device_id == "smk-rental-12"
