"""Several gateways on one store: each pending task offer or notice is published by exactly one.

Two real gateways drain one outbound table (SQLite and PostgreSQL) to a real
Mosquitto; a phone counts what it receives.
"""

from __future__ import annotations

import uuid
from collections import Counter
from contextlib import ExitStack
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from contracts import topics
from contracts.clock import ManualClock
from gateway.outbound.models import OutboundMessage
from gateway.schema.migrate import upgrade
from gateway.store.db import make_engine, session_factory
from gridwatch.broker import Mosquitto
from tests.support.brokers.mqtt import Collector
from tests.support.harness import WEDNESDAY_10AM
from tests.support.paths import DEMO_SITE
from tests.support.processes.gateway import running_gateway
from tests.support.waiting import wait_until

TOPIC = topics.worker_task("w-ma-li")


def _store(db_url: str) -> sessionmaker[Session]:
    engine = make_engine(db_url)
    upgrade(engine)
    return session_factory(engine)


def _enqueue(
    sessions: sessionmaker[Session], payloads: list[bytes], clock: ManualClock, **claim: object
) -> None:
    """Rows as the pipeline, the timers or the API write them (optionally already claimed)."""
    with sessions.begin() as s:
        for payload in payloads:
            s.add(
                OutboundMessage(
                    message_id=str(uuid.uuid4()),
                    topic=TOPIC,
                    payload=payload,
                    qos=1,
                    retain=False,
                    created_at=clock.now(),
                    **claim,
                )
            )


def _rows(sessions: sessionmaker[Session]) -> list[OutboundMessage]:
    with sessions() as s:
        return list(s.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


def test_two_gateways_publish_each_pending_message_once(
    mosquitto: Mosquitto, db_url: str, migrated_store: None
) -> None:
    sessions = _store(db_url)
    clock = ManualClock(WEDNESDAY_10AM)
    phone = Collector(mosquitto, TOPIC, client_id="w-ma-li")
    with ExitStack() as stack:
        for gid in ("gateway-1", "gateway-2"):
            stack.enter_context(running_gateway(mosquitto, db_url, DEMO_SITE, gid, clock=clock))
        expected = []
        for burst in range(10):  # written while both gateways poll, as live traffic is
            payloads = [f"offer {burst}-{i}".encode() for i in range(30)]
            _enqueue(sessions, payloads, clock)
            expected += payloads
        wait_until(lambda: set(phone.payloads()) >= set(expected), what="every offer on the phone")
        wait_until(lambda: all(r.sent_at for r in _rows(sessions)), what="every row marked sent")
        # Every publish is acknowledged; a duplicate would be on the phone before this one.
        _enqueue(sessions, [b"last"], clock)
        wait_until(lambda: b"last" in phone.payloads(), what="the last offer")
    twice = {p: n for p, n in Counter(phone.payloads()).items() if n > 1}
    assert twice == {}, f"{len(twice)} offers published more than once"
    assert {r.claimed_by for r in _rows(sessions)} <= {"gateway-1", "gateway-2"}
    phone.close()


def test_a_dead_gateways_claims_are_taken_over_after_the_lease(
    mosquitto: Mosquitto, db_url: str, migrated_store: None
) -> None:
    sessions = _store(db_url)
    clock = ManualClock(WEDNESDAY_10AM)
    phone = Collector(mosquitto, TOPIC, client_id="w-ma-li")
    # gateway-9 claimed these for 30 s and died before the broker acknowledged them.
    held = [b"held 1", b"held 2"]
    _enqueue(sessions, held, clock, claimed_by="gateway-9", claimed_until=clock.now() + timedelta(seconds=30))
    with ExitStack() as stack:
        for gid in ("gateway-1", "gateway-2"):
            stack.enter_context(
                running_gateway(mosquitto, db_url, DEMO_SITE, gid, clock=clock, outbound_lease_s=30)
            )
        _enqueue(sessions, [b"later"], clock)
        # Published in id order: once the later row is out, the held ones were passed over.
        wait_until(lambda: b"later" in phone.payloads(), what="the unclaimed row on the phone")
        assert not set(held) & set(phone.payloads()), "a live claim of another gateway was published"
        wait_until(
            lambda: [r.payload for r in _rows(sessions) if r.sent_at] == [b"later"], what="later marked sent"
        )

        clock.advance(31)  # the dead gateway's lease runs out
        wait_until(lambda: set(held) <= set(phone.payloads()), what="the held rows after the lease")
        wait_until(lambda: all(r.sent_at for r in _rows(sessions)), what="every row marked sent")
    assert Counter(phone.payloads()) == {b"held 1": 1, b"held 2": 1, b"later": 1}
    assert {r.claimed_by for r in _rows(sessions)} <= {"gateway-1", "gateway-2"}
    phone.close()
