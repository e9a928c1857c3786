"""From one MQTT message to a case, a task and the audit trail (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import func, select

from contracts import GeoPoint, TaskOffer, TaskUpdate, decode, topics
from gateway.cases.models import Case, CaseTransition
from gateway.dispatch.models import Task
from gateway.events.models import DeadLetter
from gateway.flows.ingest import Incoming, Outcome
from tests.support.harness import Harness


def cases(h: Harness) -> list[Case]:
    with h.sessions() as s:
        return list(s.scalars(select(Case).order_by(Case.opened_at)))


def tasks(h: Harness) -> list[Task]:
    with h.sessions() as s:
        return list(s.scalars(select(Task).order_by(Task.offered_at)))


def test_smoke_alarm_becomes_a_dispatched_case_with_an_offer(harness: Harness) -> None:
    _, outcome = harness.raise_event("smk-factory-a1")
    assert outcome is Outcome.APPLIED
    [case] = cases(harness)
    assert case.status == "dispatched"
    assert case.grid_id == "g-gongye-01"
    assert case.urgent is True
    assert case.hazard_type == "smoke_alarm" and case.severity == "critical"
    # the industrial park's full-time worker on duty wins over its grid leader
    assert case.assigned_worker_id == "w-ma-li"
    [offer_row] = harness.outbound("gridwatch/v1/worker/")
    offer = decode(offer_row.topic, offer_row.payload)
    assert isinstance(offer, TaskOffer)
    assert offer_row.topic == topics.worker_task("w-ma-li")
    assert offer.case_id == case.id and offer.urgent
    assert offer.accept_by is not None and offer.on_site_by is not None
    assert (offer.on_site_by - harness.clock.now()).total_seconds() == 300  # urgent: on site in 5 min
    with harness.sessions() as s:
        trail = list(s.scalars(select(CaseTransition).where(CaseTransition.case_id == case.id)))
    assert [(t.from_status, t.to_status) for t in trail] == [(None, "new"), ("new", "dispatched")]
    assert "w-ma-li" in trail[1].reason and trail[1].actor == "gateway-1"
    notices = [decode(r.topic, r.payload) for r in harness.outbound("gridwatch/v1/centre/")]
    assert [n.event for n in notices] == ["opened"]  # type: ignore[attr-defined]


def test_redelivered_event_is_applied_once(harness: Harness) -> None:
    event, _ = harness.raise_event("smk-factory-a1")
    assert harness.send(topics.node_event(event.source), event) is Outcome.DUPLICATE
    assert len(cases(harness)) == 1 and cases(harness)[0].event_count == 1
    assert len(tasks(harness)) == 1
    assert len(harness.outbound("gridwatch/v1/worker/")) == 1


def test_repeats_update_the_open_case_and_clear_is_noted(harness: Harness) -> None:
    harness.raise_event("smk-factory-a1", severity="major")
    harness.clock.advance(30)
    harness.raise_event("smk-factory-a1", state="update", severity="critical")
    harness.clock.advance(30)
    harness.raise_event("smk-factory-a1", state="clear", severity="minor")
    [case] = cases(harness)
    assert case.event_count == 3
    assert case.severity == "critical"  # highest seen, not the latest
    assert case.source_cleared_at is not None
    assert case.status == "dispatched"  # a person still has to look
    assert len(tasks(harness)) == 1


def test_clear_without_an_open_case_opens_nothing(harness: Harness) -> None:
    _, outcome = harness.raise_event("smk-factory-a1", state="clear")
    assert outcome is Outcome.APPLIED
    assert cases(harness) == []


def test_location_outside_every_grid_goes_to_the_nearest_grid_with_a_warning(harness: Harness) -> None:
    harness.raise_event("smk-factory-a1", location=GeoPoint(lon=120.3300, lat=31.4950))
    [case] = cases(harness)
    assert case.grid_id == "g-gongye-02"
    assert any("outside every grid" in w for w in case.warnings)


def test_maintenance_event_opens_a_case_but_sends_nobody(harness: Harness) -> None:
    harness.raise_event("smk-factory-a1", hazard_type="low_battery", severity="minor")
    [case] = cases(harness)
    assert case.category == "maintenance" and case.status == "new"
    assert tasks(harness) == []


def test_worker_walks_the_task_through_accept_check_in_resolve(harness: Harness) -> None:
    harness.raise_event("smk-factory-a1")
    [task] = tasks(harness)
    [case] = cases(harness)
    site = GeoPoint(lon=case.lon, lat=case.lat)  # type: ignore[arg-type]

    def step(action: str, **kw: object) -> Outcome:
        update = TaskUpdate(
            source="w-ma-li",
            seq=1,
            ts=harness.clock.now(),
            task_id=task.id,
            worker_id="w-ma-li",
            action=action,
            **kw,
        )
        return harness.send(topics.worker_task_update("w-ma-li"), update)

    assert step("accept") is Outcome.APPLIED
    far = GeoPoint(lon=site.lon + 0.01, lat=site.lat)
    assert step("check_in", location=far) is Outcome.REFUSED  # ~950 m away is not on site
    assert step("check_in", location=site) is Outcome.APPLIED
    assert step("resolve", result="handled", note="burnt pan") is Outcome.APPLIED
    [case] = cases(harness)
    assert case.status == "resolved"
    with harness.sessions() as s:
        trail = [t.to_status for t in s.scalars(select(CaseTransition).order_by(CaseTransition.id))]
    assert trail == ["new", "dispatched", "accepted", "on_site", "resolved"]


def test_decline_goes_to_the_next_candidate(harness: Harness) -> None:
    harness.raise_event("smk-factory-a1")
    [first] = tasks(harness)
    decline = TaskUpdate(
        source=first.worker_id,
        seq=1,
        ts=harness.clock.now(),
        task_id=first.id,
        worker_id=first.worker_id,
        action="decline",
        note="at another incident",
    )
    assert harness.send(topics.worker_task_update(first.worker_id), decline) is Outcome.APPLIED
    first_done, second = tasks(harness)
    assert first_done.status == "declined"
    assert second.worker_id != first.worker_id and second.status == "offered"
    assert first.worker_id not in [c["worker_id"] for c in second.shortlist]
    [case] = cases(harness)
    assert case.status == "dispatched" and case.assigned_worker_id == second.worker_id


def test_bad_payload_is_dead_lettered_and_the_rest_of_the_batch_applies(harness: Harness) -> None:
    good = harness.event("smk-rental-12")
    batch = [
        Incoming(topics.node_event("node-gongye-1"), b'{"kind": "hazard_event", "seq": "x"'),
        Incoming(topics.node_event(good.source), good.model_dump_json().encode()),
        Incoming("gridwatch/v1/node/BAD/event", b"{}"),
    ]
    outcomes = harness.pipeline.process(batch)
    assert outcomes == [Outcome.DEAD_LETTER, Outcome.APPLIED, Outcome.DEAD_LETTER]
    with harness.sessions() as s:
        letters = list(s.scalars(select(DeadLetter).order_by(DeadLetter.id)))
    assert [d.reason for d in letters] == ["bad_json", "bad_topic"]
    assert letters[0].source == "node-gongye-1"
    assert letters[0].payload.startswith(b'{"kind"')
    assert len(cases(harness)) == 1


def test_worker_position_only_moves_forward(harness: Harness) -> None:
    from contracts import LocationFix
    from gateway.workers.models import WorkerPosition

    new = LocationFix(
        source="w-ma-li",
        seq=2,
        ts=harness.clock.now(),
        worker_id="w-ma-li",
        location=GeoPoint(lon=120.312, lat=31.496),
    )
    old = LocationFix(
        source="w-ma-li",
        seq=1,
        ts=harness.clock.advance(-60),
        worker_id="w-ma-li",
        location=GeoPoint(lon=120.0, lat=31.0),
    )
    assert harness.send(topics.worker_location("w-ma-li"), new) is Outcome.APPLIED
    assert harness.send(topics.worker_location("w-ma-li"), old) is Outcome.STALE
    with harness.sessions() as s:
        assert s.get(WorkerPosition, "w-ma-li").lon == 120.312  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(WorkerPosition)) == 1
