"""Exactly-once through a real Mosquitto: shared subscriptions, crashes, and a fuzzed stream.

- two gateways in one MQTT 5 shared-subscription group take 10,000 messages
  with deliberate duplicates and replays: every event is applied once, one
  case per place, and both gateways did part of the work;
- a gateway process is SIGKILLed five times while a QoS 1 publisher sends
  10,000 events: nothing acknowledged is lost, nothing is applied twice;
- 2,000 fuzzed payloads through the broker reconcile (the 100,000-payload
  fuzz runs against the pipeline directly: tests/gateway/test_fuzz.py).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.events.models import DeadLetter, EventRecord
from gateway.heartbeat.models import GatewayHeartbeat
from gateway.schema.migrate import upgrade
from gateway.store.db import make_engine, session_factory
from gateway.telemetry import NullTelemetry
from gridwatch.broker import Mosquitto
from tests.support.brokers.mqtt import publish_all
from tests.support.fuzzing import Fuzzer, cases_by_device, count, events
from tests.support.paths import DEMO_SITE, REPO
from tests.support.processes.gateway import running_gateway
from tests.support.waiting import wait_until


def test_two_gateways_share_10000_messages_with_duplicates_and_replays(
    mosquitto: Mosquitto, db_url: str
) -> None:
    stream = events(8_000, seed=5)
    rng = random.Random(5)
    messages: list[tuple[str, bytes]] = []
    for msg in stream.messages:
        messages.append(msg)
        if rng.random() < 1_000 / 8_000 and len(messages) < 9_000:
            messages.append(msg)  # a duplicate right behind it (a QoS 1 redelivery)
    while len(messages) < 10_000:
        messages.append(rng.choice(stream.messages))  # replays of old events at the end
    assert len(messages) == 10_000
    with (
        running_gateway(mosquitto, db_url, DEMO_SITE, "gateway-a", batch_max=500) as a,
        running_gateway(mosquitto, db_url, DEMO_SITE, "gateway-b", batch_max=500) as b,
    ):
        publish_all(mosquitto, messages, "edge-fleet")
        wait_until(lambda: a.processed + b.processed >= 10_000, timeout=120, what="10,000 messages handled")
        assert a.processed + b.processed == 10_000  # each delivery handled once, none redelivered forever
        assert a.processed > 1_000 and b.processed > 1_000  # the broker really split the stream
        sessions = a.sessions
        assert count(sessions, EventRecord) == len(stream.hazard_ids)
        assert cases_by_device(sessions) == dict(stream.events_per_device)
        with sessions() as s:
            by_gateway = dict(
                s.execute(select(EventRecord.handled_by, func.count()).group_by(EventRecord.handled_by)).all()
            )
        assert set(by_gateway) == {"gateway-a", "gateway-b"}
        assert count(sessions, DeadLetter) == 0


def _start_gateway(port: int, db_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GRIDWATCH_HEARTBEAT_S": "0.3", "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable, "-m", "gridwatch.cli", "gateway",
                "--site", str(DEMO_SITE), "--db", db_url, "--mqtt-port", str(port),
                "--gateway-id", "gw-crashy", "--batch-max", "200", "--log-level", "WARNING",
            ],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _connected(sessions: sessionmaker[Session], since: float) -> bool:
    with sessions() as s:
        hb = s.get(GatewayHeartbeat, "gw-crashy")
        return hb is not None and hb.mqtt_connected and hb.seen_at.timestamp() > since


def test_sigkill_five_times_during_10000_events_loses_nothing_and_doubles_nothing(
    mosquitto: Mosquitto, db_url: str, migrated_store: None, tmp_path: Path
) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    sessions = session_factory(engine)
    log = tmp_path / "gateway.log"
    stream = events(10_000, seed=9)
    gateway = _start_gateway(mosquitto.port, db_url, log)
    kills = 0
    try:
        started = time.time()
        wait_until(lambda: _connected(sessions, started), timeout=30, what="the gateway to subscribe")
        publisher = threading.Thread(
            target=publish_all, args=(mosquitto, stream.messages, "edge-qos1"), kwargs={"rate": 800}
        )
        publisher.start()
        for _ in range(5):
            applied = count(sessions, EventRecord)
            # Kill it while it is busy: a few hundred events into this life.
            wait_until(
                lambda a=applied: count(sessions, EventRecord) > a + 300,  # type: ignore[misc]
                timeout=60,
                interval=0.02,
                what="the gateway to make progress",
            )
            gateway.send_signal(signal.SIGKILL)
            gateway.wait(10)
            kills += 1
            gateway = _start_gateway(mosquitto.port, db_url, log)
        publisher.join(120)
        assert not publisher.is_alive()
        wait_until(
            lambda: count(sessions, EventRecord) == len(stream.hazard_ids),
            timeout=120,
            what=f"all {len(stream.hazard_ids)} events after {kills} SIGKILLs",
        )
        time.sleep(1)  # anything redelivered late must still be recognised
        assert count(sessions, EventRecord) == len(stream.hazard_ids) == 10_000
        assert cases_by_device(sessions) == dict(stream.events_per_device)  # zero lost, zero doubled
        assert count(sessions, DeadLetter) == 0
    finally:
        if gateway.poll() is None:
            gateway.terminate()
            gateway.wait(15)
        engine.dispose()
    assert kills == 5
    assert "Traceback" not in log.read_text(errors="replace")


@pytest.mark.parametrize("seed", [11])
def test_fuzzed_stream_through_the_broker_reconciles(
    mosquitto: Mosquitto, sqlite_url: str, seed: int
) -> None:
    stream = Fuzzer(seed, routable_only=True).stream(2_000)
    with running_gateway(mosquitto, sqlite_url, DEMO_SITE) as gw:
        publish_all(mosquitto, stream.messages, "fuzzer")
        wait_until(lambda: gw.processed >= 2_000, timeout=60, what="2,000 messages handled")
        assert count(gw.sessions, DeadLetter) == stream.broken
        assert count(gw.sessions, EventRecord) == len(stream.hazard_ids)
        assert isinstance(gw.telemetry, NullTelemetry) and gw.telemetry.received == stream.readings
        assert cases_by_device(gw.sessions) == dict(stream.events_per_device)
