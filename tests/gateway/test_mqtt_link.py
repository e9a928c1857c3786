"""The gateway says "connected" only once the broker granted its subscriptions, and says loudly when not."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from contracts import HazardEvent, encode, topics
from gateway import metrics
from gateway.heartbeat import service as heartbeat
from gateway.service import Gateway
from gateway.settings import GatewaySettings, MqttSettings
from gateway.store.db import make_engine, session_factory
from gridwatch.broker import Mosquitto
from tests.support.brokers.mqtt import publisher
from tests.support.brokers.suback_gate import SubackGate
from tests.support.paths import DEMO_SITE
from tests.support.waiting import wait_until

DYNSEC = Path("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")


@contextmanager
def gateway_on(port: int, db_url: str) -> Iterator[Gateway]:
    gw = Gateway(
        GatewaySettings(
            gateway_id="gateway-1",
            site_dir=DEMO_SITE,
            database_url=db_url,
            mqtt=MqttSettings(port=port),
            heartbeat_s=0.1,
        )
    )
    thread = threading.Thread(target=gw.run, daemon=True)
    thread.start()
    try:
        yield gw
    finally:
        gw.stop()
        thread.join(timeout=15)


def beat_of(sessions: sessionmaker[Session], gw: Gateway) -> heartbeat.GatewayView | None:
    with sessions() as s:
        views = heartbeat.gateways(s, gw.ctx.now())
    return views[0] if views else None


def test_connected_only_after_the_broker_granted_the_subscriptions(
    mosquitto: Mosquitto, sqlite_url: str
) -> None:
    sessions = session_factory(make_engine(sqlite_url))
    with SubackGate(mosquitto) as gate, gateway_on(gate.port, sqlite_url) as gw:
        assert gate.suback_held.wait(10), "the gateway never subscribed"
        # The broker accepted the connection; its SUBACK is held: nothing is received yet.
        wait_until(lambda: beat_of(sessions, gw), what="a heartbeat while subscribing")
        first = beat_of(sessions, gw)
        assert first is not None and not first.mqtt_connected
        assert not gw.link.connected.is_set()
        assert metrics.MQTT_CONNECTED._value.get() == 0

        gate.release.set()
        assert gw.link.connected.wait(10)
        assert metrics.MQTT_CONNECTED._value.get() == 1
        wait_until(
            lambda: (b := beat_of(sessions, gw)) and b.mqtt_connected, what="connected in the heartbeat"
        )


def _dynsec_broker(tmp_path: Path) -> Mosquitto:
    """Mosquitto with dynamic security: default deny for subscriptions, and a role that
    lets anonymous clients (the gateway here) subscribe to node and device topics only — a typical
    ACL mistake that forgets the workers' uplink."""
    if not DYNSEC.exists():
        pytest.fail(f"{DYNSEC} is missing: the mosquitto package ships it (run scripts/setup.sh)")
    config = {
        "defaultACLAccess": {
            "publishClientSend": True,
            "publishClientReceive": True,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": [],
        "groups": [{"groupname": "anonymous", "roles": [{"rolename": "nodes-only"}]}],
        "roles": [
            {
                "rolename": "nodes-only",
                "acls": [
                    {
                        "acltype": "subscribePattern",
                        "topic": f"$share/+/{topics.ROOT}/{role}/#",
                        "allow": True,
                    }
                    for role in ("node", "device")
                ],
            }
        ],
        "anonymousGroup": "anonymous",
    }
    path = tmp_path / "dynsec.json"
    path.write_text(json.dumps(config))
    return Mosquitto(tmp_path / "broker", extra_config=f"plugin {DYNSEC}\nplugin_opt_config_file {path}\n")


def test_a_refused_subscription_is_an_error_in_logs_health_and_metrics(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.ingest.consumer")
    sessions = session_factory(make_engine(sqlite_url))
    with _dynsec_broker(tmp_path) as broker, gateway_on(broker.port, sqlite_url) as gw:
        refused = f"$share/gateways/{topics.ROOT}/worker/+/location"

        def refusal_logged() -> bool:
            errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
            return any(refused in e and "Not authorized" in e for e in errors)

        wait_until(refusal_logged, what="an error naming the refused subscription")
        assert not gw.link.connected.is_set()
        assert metrics.MQTT_CONNECTED._value.get() == 0
        assert metrics.MQTT_SUBSCRIPTIONS_REFUSED._value.get() == 2  # worker location and task_update

        beat = wait_until(
            lambda: (b := beat_of(sessions, gw)) and b.warnings and b, what="the refusal in the heartbeat"
        )
        assert not beat.mqtt_connected
        assert any(refused in w and "Not authorized" in w for w in beat.warnings), beat.warnings

        # What the broker did grant still flows: a node's event reaches the gateway.
        node = publisher(broker, client_id="node-gongye-1")
        hazard = HazardEvent(
            source="node-gongye-1",
            seq=1,
            ts=gw.ctx.now(),
            hazard_type="smoke_alarm",
            severity="critical",
            confidence=0.9,
            state="new",
            episode_id="ep-1",
            device_id="smk-factory-a1",
        )
        node.publish(topics.node_event("node-gongye-1"), encode(hazard), qos=1).wait_for_publish(5)
        wait_until(lambda: gw.processed == 1, what="the node's event at the gateway")
        node.disconnect()


def test_reconnect_waits_are_capped_at_a_few_seconds_and_jittered() -> None:
    import random

    from gateway.ingest.consumer import RECONNECT_MAX_S, reconnect_delay

    rng = random.Random(7)
    waits = [[reconnect_delay(attempt, rng) for attempt in range(1, 30)] for _ in range(50)]
    assert all(0 < w <= RECONNECT_MAX_S <= 5 for run in waits for w in run)
    assert all(run[0] <= 0.25 for run in waits)  # the first try comes quickly
    assert len({round(run[-1], 6) for run in waits}) == 50  # gateways do not knock in step


def test_a_broker_it_cannot_reach_is_said_in_the_log_and_the_heartbeat_until_it_can(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A gateway started before its broker (or pointed at a wrong port) logged "serving site"
    and then nothing: paho's failed connection attempts were silent, so an operator saw a
    gateway that looked up and received nothing. Each outage is said once in the log (what it
    tried, why it failed), and in the heartbeat's warnings while it lasts; then it connects."""
    from gridwatch.broker import free_port

    caplog.set_level(logging.INFO, logger="gateway.ingest.consumer")
    sessions = session_factory(make_engine(sqlite_url))
    port = free_port()
    with gateway_on(port, sqlite_url) as gw:
        where = f"127.0.0.1:{port}"

        def said() -> list[str]:
            return [
                r.getMessage()
                for r in caplog.records
                if r.levelno >= logging.WARNING
                and where in r.getMessage()
                and "cannot reach" in r.getMessage()
            ]

        wait_until(lambda: said(), what="the failed connection in the log")
        assert "refused" in said()[0].lower()  # why: nothing listens there
        assert any(where in p for p in gw.link.problems())
        wait_until(lambda: len(gw.link.problems()) and gw.link._reconnects >= 4, what="a few more tries")
        assert len(said()) == 1  # one outage, one line: not one per attempt
        with Mosquitto(tmp_path / "broker", port=port).start() as _broker:
            assert gw.link.connected.wait(15), "never connected once the broker was up"
            assert gw.link.problems() == []
            wait_until(
                lambda: (b := beat_of(sessions, gw)) and b.mqtt_connected and not b.warnings,
                what="a clean heartbeat once connected",
            )
