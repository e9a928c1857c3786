"""Task lifecycle, SLA timers and escalation through the pipeline, on SQLite and PostgreSQL.

Demo site, Wednesday 10:00 in Shanghai. A smoke alarm in g-gongye-01 goes to w-ma-li
(full-time, on call around the clock); its grid leader is w-zhao-lei. smoke_alarm SLA:
worker accepts in 60 s, on site in 300 s, resolved in 3600 s; escalation climbs a tier
every 600 s while the worker is still not there.
"""

from __future__ import annotations

import threading

from sqlalchemy import select

from contracts import topics
from gateway.context import GatewayContext
from gateway.escalation.models import Escalation
from gateway.flows import task_decisions
from gateway.flows.ingest import Outcome, Pipeline
from gateway.flows.sla_ticks import SlaTicker
from gateway.notify.models import Delivery
from gateway.store.db import make_engine, session_factory
from gateway.workers.models import WorkerAvailability
from tests.support.dispatching import act, escalations, fix, notices, tasks, the_case, tick, timers, trail
from tests.support.harness import Harness

SMOKE = "smk-factory-a1"  # g-gongye-01


def test_accept_deadline_expires_the_offer_and_sends_it_to_the_next_candidate(harness: Harness) -> None:
    harness.raise_event(SMOKE)
    [first] = tasks(harness)
    assert first.worker_id == "w-ma-li"
    assert tick(harness, 47) == 0  # 78 % of the 60 s
    assert tick(harness, 2) == 1  # 80 %: a warning, recorded on the case's timer
    assert [n.event for n in notices(harness)][-1] == "sla_warning"
    assert tick(harness, 12) == 1  # 61 s: breach
    expired, second = tasks(harness)
    assert expired.status == "expired" and expired.ended_at is not None
    assert second.status == "offered" and second.worker_id != "w-ma-li"
    assert "w-ma-li" not in [c["worker_id"] for c in second.shortlist]
    assert harness.outbound(topics.worker_task(second.worker_id))  # the next worker got the offer
    last = trail(harness)[-1]
    assert (last.from_status, last.to_status) == ("dispatched", "dispatched")
    assert "re-dispatch after no answer from w-ma-li in 60 s" in last.reason
    notes = [(t.change, t.reason) for t in trail(harness) if t.change != "status"]
    assert [c for c, _ in notes] == ["sla_warning", "sla_breach"]  # both on the case's own trail
    assert "11 s left for the worker to accept (w-ma-li" in notes[0][1]
    accept_timer = next(t for t in timers(harness) if t.task_id == first.id and t.phase == "worker_accept")
    assert accept_timer.warned_at is not None and accept_timer.breached_at is not None
    assert accept_timer.outcome == "breached"
    assert tick(harness) == 0 and tick(harness, 1) == 0  # fired once, not again


def test_decline_goes_to_the_next_candidate_even_after_an_escalation(harness: Harness) -> None:
    harness.raise_event(SMOKE)
    [first] = tasks(harness)
    tick(harness, 301)  # centre-accept (300 s) and worker-accept (60 s) breached meanwhile
    [_expired, second] = tasks(harness)
    assert the_case(harness).status == "escalated"  # nobody took it within 5 minutes
    assert act(harness, second, "decline", note="at another incident") is Outcome.APPLIED
    third = tasks(harness)[-1]
    assert third.status == "offered" and third.worker_id not in (first.worker_id, second.worker_id)
    assert the_case(harness).status == "dispatched"


def test_too_many_redispatches_escalate(harness: Harness) -> None:
    # gas_leak allows 1 re-dispatch; g-gongye-02 has no grid leader, so the community is told.
    harness.raise_event("gas-workshop-b1", hazard_type="gas_leak")
    act(harness, tasks(harness)[-1], "decline")
    assert escalations(harness) == []
    act(harness, tasks(harness)[-1], "decline")
    tiers = [(e.tier, e.skipped, e.trigger) for e in escalations(harness)]
    assert tiers == [("grid_leader", True, "redispatches"), ("community", False, "redispatches")]
    assert "no leader" in escalations(harness)[0].reason
    assert tasks(harness)[-1].status == "offered"  # and the third candidate still has the offer
    [escalated] = [n for n in notices(harness) if n.event == "escalated"]
    assert escalated.tier == "community" and "工业园社区居委会" in escalated.text


def test_nobody_available_is_a_shortfall_that_escalates_at_once(harness: Harness) -> None:
    with harness.sessions.begin() as s:
        for worker_id in harness.ctx.site.workers:
            s.add(
                WorkerAvailability(
                    worker_id=worker_id,
                    available=False,
                    reason="drill",
                    updated_at=harness.clock.now(),
                    updated_by="test",
                )
            )
    harness.raise_event(SMOKE)
    assert tasks(harness) == []
    case = the_case(harness)
    assert case.status == "escalated"
    assert [n.event for n in notices(harness)] == ["opened", "shortfall", "escalated"]
    assert "shortfall_all_unavailable" in notices(harness)[1].text
    [leader_notice] = notices(harness, topics.worker_task("w-zhao-lei"))
    assert leader_notice.event == "escalated" and leader_notice.tier == "grid_leader"
    assert leader_notice.worker_id == "w-zhao-lei"
    [e] = escalations(harness)
    assert e.trigger == "shortfall_all_unavailable" and e.tier == "grid_leader"


def test_on_site_deadline_escalates_tier_by_tier_in_order(harness: Harness) -> None:
    harness.raise_event(SMOKE)
    act(harness, tasks(harness)[0], "accept")
    tick(harness, 241)  # 80 % of the 300 s on-site limit
    assert notices(harness)[-1].event == "sla_warning" and "on site" in notices(harness)[-1].text
    tick(harness, 60)  # 301 s: breach
    for _ in range(4):
        tick(harness, 601)
    escalated = [n for n in notices(harness) if n.event == "escalated"]
    assert [n.tier for n in escalated] == ["grid_leader", "community", "street_centre", "department"]
    assert "青山消防救援站" in escalated[-1].text  # smoke goes to the fire brigade
    assert [e.trigger for e in escalations(harness)] == [
        "sla_breach:on_site",
        "climb:grid_leader",
        "climb:community",
        "climb:street_centre",
    ]
    assert the_case(harness).status == "escalated"
    assert [t.to_status for t in trail(harness)].count("escalated") == 4
    # the fire brigade did not acknowledge (报到) in 1800 s: the district above it is told
    assert tick(harness, 3600) == 1
    assert escalations(harness)[-1].tier == "supervision"
    assert tick(harness, 3600) == 0  # every tier told once; nothing left to climb to


def test_arriving_on_site_stops_the_climb(harness: Harness) -> None:
    harness.raise_event(SMOKE)
    [task] = tasks(harness)
    act(harness, task, "accept")
    tick(harness, 301)
    assert [e.tier for e in escalations(harness)] == ["grid_leader"]
    case = the_case(harness)
    fix(harness, "w-ma-li", case.lon, case.lat + 0.0002)  # ~22 m from the site
    assert tasks(harness)[0].status == "on_site"
    tick(harness, 601)
    assert [e.tier for e in escalations(harness)] == ["grid_leader"]  # no further climb
    climb = next(t for t in timers(harness) if t.phase == "climb")
    assert climb.outcome == "met"


def test_a_location_fix_at_the_site_is_the_check_in(harness: Harness) -> None:
    harness.raise_event(SMOKE)
    case = the_case(harness)
    fix(harness, "w-ma-li", case.lon + 0.0015, case.lat)  # ~140 m: not yet
    assert tasks(harness)[0].status == "offered"
    harness.clock.advance(90)
    fix(harness, "w-ma-li", case.lon + 0.0003, case.lat)  # ~28 m: arrived (accepted by arriving)
    [task] = tasks(harness)
    assert task.status == "on_site" and task.accepted_at is not None and task.on_site_at is not None
    assert [t.to_status for t in trail(harness)][-2:] == ["accepted", "on_site"]
    assert "location fix 28 m from the site" in trail(harness)[-1].reason
    phases = {t.phase: t for t in timers(harness)}
    assert phases["on_site"].outcome == "met" and phases["resolve"].stopped_at is None


def test_cannot_handle_blows_the_whistle(harness: Harness) -> None:
    harness.raise_event(SMOKE)
    [task] = tasks(harness)
    act(harness, task, "accept")
    act(harness, task, "check_in")
    assert act(harness, task, "cannot_handle", note="fire spreading, need the brigade") is Outcome.APPLIED
    [e] = escalations(harness)
    assert (e.tier, e.trigger) == ("grid_leader", "cannot_handle") and "need the brigade" in e.reason
    assert the_case(harness).status == "escalated"
    assert tasks(harness)[0].status == "on_site"  # the worker stays on it
    assert act(harness, task, "resolve", result="handled", note="brigade put it out") is Outcome.APPLIED
    assert the_case(harness).status == "resolved"


def test_centre_verifies_or_sends_back_the_result(harness: Harness) -> None:
    harness.raise_event(SMOKE)
    [task] = tasks(harness)
    act(harness, task, "accept")
    act(harness, task, "check_in")
    act(harness, task, "resolve", result="false_alarm", note="steam from a kettle")
    verify_timer = next(t for t in timers(harness) if t.phase == "verify")
    assert verify_timer.stopped_at is None
    with harness.sessions.begin() as s:
        task_decisions.verify(s, harness.ctx, task.id, "op-1", False, "photo missing", harness.clock.now())
    assert the_case(harness).status == "dispatched"  # reopened and offered again
    assert [t.to_status for t in trail(harness)][-2:] == ["reopened", "dispatched"]
    second = tasks(harness)[-1]
    act(harness, second, "check_in")
    act(harness, second, "resolve", result="false_alarm", note="photo attached")
    with harness.sessions.begin() as s:
        task_decisions.verify(s, harness.ctx, second.id, "op-1", True, "", harness.clock.now())
    assert the_case(harness).status == "closed"
    assert tasks(harness)[-1].status == "verified"
    assert all(t.stopped_at is not None for t in timers(harness))


def test_timer_survives_a_restart_and_fires_exactly_once(harness: Harness, db_url: str) -> None:
    harness.raise_event(SMOKE)
    act(harness, tasks(harness)[0], "accept")
    harness.clock.advance(200)  # inside the 300 s on-site window
    harness.engine.dispose()  # the gateway stops ...

    def restarted() -> SlaTicker:  # ... and comes back (two of them, even) on the same store
        engine = make_engine(db_url)
        ctx = GatewayContext(harness.ctx.site, "gateway-2", harness.clock)
        return SlaTicker(session_factory(engine), ctx)

    a, b = restarted(), restarted()
    harness.clock.advance(101)
    fired: list[int] = []
    threads = [threading.Thread(target=lambda t=t: fired.append(t.tick())) for t in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(fired) == 1  # the breach (its warning was overdue too: recorded, not sent)
    breaches = [n for n in notices(harness) if n.event == "sla_breach"]
    assert len(breaches) == 1 and "on site" in breaches[0].text
    with harness.sessions() as s:
        assert len(list(s.scalars(select(Escalation)))) == 1
        assert s.scalars(select(Delivery).where(Delivery.event == "escalated")).first() is not None


def test_pipeline_on_a_restarted_gateway_keeps_applying_steps(harness: Harness, db_url: str) -> None:
    harness.raise_event(SMOKE)
    [task] = tasks(harness)
    engine = make_engine(db_url)
    ctx = GatewayContext(harness.ctx.site, "gateway-2", harness.clock)
    again = Harness(
        engine, session_factory(engine), ctx, harness.clock, Pipeline(session_factory(engine), ctx)
    )
    assert act(again, task, "accept") is Outcome.APPLIED
    assert tick(again, 61) == 0  # accepted in time: the accept deadline no longer applies
    engine.dispose()
