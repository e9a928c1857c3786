"""Dispatch duties inside the running gateway, through a real Mosquitto: SLA timers across a
restart (two gateways even), and webhooks that stall without holding anything up."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from contracts import CaseNotice, HazardEvent, TaskUpdate, decode, encode, topics
from contracts.clock import ManualClock
from contracts.site import Site
from gateway.cases.models import Case
from gateway.dispatch.models import Task
from gateway.escalation.models import Escalation
from gateway.notify.models import Delivery
from gateway.schema.migrate import upgrade
from gateway.store.db import make_engine, session_factory
from gateway.workers.models import WorkerAvailability
from gridwatch.broker import Mosquitto
from tests.support.brokers.mqtt import Collector, publisher
from tests.support.clock import site_time
from tests.support.net.receiver import Receiver
from tests.support.paths import DEMO_SITE
from tests.support.processes.gateway import running_gateway
from tests.support.sites.files import edit_yaml
from tests.support.waiting import wait_until

WEDNESDAY_10AM = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


def alarm(client, site: Site, device_id: str, clock_now: datetime, seq: int, db_url: str) -> HazardEvent:  # type: ignore[no-untyped-def]
    """Publish a smoke alarm as the edge outbox would: again until it is in (the id makes it once)."""
    node_id, _ = site.device(device_id)  # type: ignore[misc]
    event = HazardEvent(
        source=node_id,
        seq=seq,
        ts=clock_now,
        hazard_type="smoke_alarm",
        severity="critical",
        confidence=0.9,
        state="new",
        episode_id=f"ep-{device_id}",
        device_id=device_id,
    )

    def landed() -> bool:
        if rows(db_url, Case, Case.device_id == device_id):
            return True
        client.publish(topics.node_event(node_id), encode(event), qos=1).wait_for_publish(5)
        return False

    wait_until(landed, timeout=15, interval=0.3, what=f"the case for {device_id}")
    return event


def rows(db_url: str, model, *where):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            return list(s.scalars(select(model).where(*where)))
    finally:
        engine.dispose()


def test_sla_timer_fires_once_across_a_restart_with_two_gateways(
    mosquitto: Mosquitto, db_url: str, demo_site: Site
) -> None:
    clock = ManualClock(WEDNESDAY_10AM)
    client = publisher(mosquitto, "test-edge")
    centre = Collector(mosquitto, f"{topics.ROOT}/centre/+/notice")
    with running_gateway(mosquitto, db_url, DEMO_SITE, clock=clock, timer_interval_s=0.05):
        alarm(client, demo_site, "smk-factory-a1", clock.now(), 1, db_url)
        [task] = wait_until(lambda: rows(db_url, Task), what="the offer")
        accept = TaskUpdate(
            source="w-ma-li", seq=1, ts=clock.now(), task_id=task.id, worker_id="w-ma-li", action="accept"
        )
        client.publish(topics.worker_task_update("w-ma-li"), encode(accept), qos=1).wait_for_publish(5)
        wait_until(lambda: rows(db_url, Task, Task.status == "accepted"), what="the accept")
        clock.advance(200)  # 200 of the 300 s the worker has to be on site
        time.sleep(0.3)
    assert rows(db_url, Escalation) == []  # the gateway went down inside the window

    clock.advance(101)  # while it was down, the deadline passed
    with (
        running_gateway(mosquitto, db_url, DEMO_SITE, "gateway-1", clock=clock, timer_interval_s=0.05),
        running_gateway(mosquitto, db_url, DEMO_SITE, "gateway-2", clock=clock, timer_interval_s=0.05),
    ):
        wait_until(lambda: rows(db_url, Escalation), what="the escalation after the restart")
        time.sleep(1.0)  # both gateways tick many more times

        def escalation_notices() -> list[CaseNotice]:
            decoded = [decode(m.topic, m.payload) for m in list(centre.messages)]
            return [n for n in decoded if isinstance(n, CaseNotice) and n.event == "escalated"]

        wait_until(escalation_notices, what="the escalation notice on the centre topic")
    notices = [decode(m.topic, m.payload) for m in centre.messages]
    # MQTT is at-least-once (each gateway drains the shared outbox): receivers dedupe by envelope id.
    distinct = {n.id: n.event for n in notices if isinstance(n, CaseNotice)}
    events = list(distinct.values())
    assert events.count("sla_breach") == 1 and events.count("escalated") == 1
    [e] = rows(db_url, Escalation)
    assert (e.tier, e.trigger) == ("grid_leader", "sla_breach:on_site")
    centre.close()
    client.disconnect()


def test_a_stalled_webhook_holds_up_nothing(
    mosquitto: Mosquitto, sqlite_url: str, demo_site: Site, site_copy: Path
) -> None:
    receiver = Receiver().up()
    receiver.mode, receiver.stall_s = "stall", 4.0
    edit_yaml(site_copy, "escalation.yaml", lambda d: d.update(tiers=["street_centre"]))
    edit_yaml(
        site_copy,
        "escalation.yaml",
        lambda d: d["street_centre"].update(webhooks=[{"url": f"{receiver.base}/centre", "format": "json"}]),
    )
    engine = make_engine(sqlite_url)
    upgrade(engine)
    with session_factory(engine).begin() as s:  # nobody can go: every case escalates at once
        for worker_id in demo_site.workers:
            s.add(
                WorkerAvailability(
                    worker_id=worker_id,
                    available=False,
                    reason="drill",
                    updated_at=WEDNESDAY_10AM,
                    updated_by="test",
                )
            )
    engine.dispose()
    client = publisher(mosquitto, "test-edge")
    clock = site_time(10)
    try:
        with running_gateway(mosquitto, sqlite_url, site_copy, clock=clock):
            alarm(client, demo_site, "smk-factory-a1", clock.now(), 1, sqlite_url)
            wait_until(lambda: receiver.received(), timeout=10, what="the first webhook post (it stalls 4 s)")
            first_post = receiver.received()[0].at
            alarm(client, demo_site, "smk-rental-12", clock.now(), 2, sqlite_url)
            wait_until(
                lambda: len(rows(sqlite_url, Escalation)) == 2, timeout=10, what="the second escalation"
            )
            second_escalated = time.monotonic()
            assert second_escalated - first_post < receiver.stall_s  # handled while the post still hung
            sent = (Delivery.channel == "webhook", Delivery.status == "sent")
            wait_until(
                lambda: len(rows(sqlite_url, Delivery, *sent)) == 2, timeout=20, what="both webhooks sent"
            )
        assert {c.status for c in rows(sqlite_url, Case)} == {"escalated"}
        first, second = receiver.received("/centre")
        assert second.at - first.at < receiver.stall_s  # the stalled post did not hold up the next one
    finally:
        client.disconnect()
        receiver.down()
