"""The uplink's hooks into paho-mqtt's private methods: in use with the installed paho,
refused for a paho they were not checked against, and harmless to refusals."""

from __future__ import annotations

from pathlib import Path

import paho.mqtt
import paho.mqtt.client as mqtt

from contracts import topics
from edge.emit import Priority
from edge.outbox import Outbox, paho_client
from edge.outbox.buffered import BufferedSocket
from edge.settings import BrokerSettings, OutboxSettings
from gridwatch.broker import Mosquitto
from tests.support.brokers.edge_mqtt import event_topic, hazard
from tests.support.sensors import reading
from tests.support.waiting import wait_until


def test_hooks_are_in_use_with_the_installed_paho() -> None:
    # Failing here means paho-mqtt changed: the uplink still works, but on plain paho (slower).
    # Review FastClient against the new paho's client.py, then add its version to HOOKS.
    assert paho_client.HOOKS.problems() == [], f"paho-mqtt {paho.mqtt.__version__}"
    assert paho_client.uplink_client_class() is paho_client.FastClient


def test_hooks_are_refused_for_an_unchecked_version_or_a_changed_method() -> None:
    assert "not a version the hooks were checked against" in paho_client.HOOKS.problems("2.9.0")[0]

    class Changed(mqtt.Client):
        def _handle_pubackcomp(self, cmd: str, packet: bytes) -> None:  # type: ignore[override]
            pass

    problems = paho_client.HOOKS.problems(client_class=Changed)
    assert problems == ["paho's Client._handle_pubackcomp('cmd', 'packet') no longer takes ('cmd',)"]


def test_uplink_reads_through_the_buffered_socket_and_takes_the_cheap_puback_path(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    ob = Outbox(  # one hop: nobody answers with receipts here
        "node-a",
        tmp_path / "outbox.sqlite3",
        BrokerSettings(host=mosquitto.host, port=mosquitto.port),
        OutboxSettings(receipts=False),
    )
    codes: list[object] = []
    original = ob.uplink._on_publish

    def spy(c: mqtt.Client, u: object, mid: int, rc: object, p: object) -> None:
        codes.append(rc)
        original(c, u, mid, rc, p)  # type: ignore[arg-type]

    ob.uplink._on_publish = spy  # type: ignore[method-assign]
    ob.start()
    try:
        for i in range(20):
            ob.emit(event_topic("node-a"), hazard("node-a", i), Priority.EVENT)
        wait_until(lambda: ob.store.depth == 0, what="outbox empty")
        assert isinstance(ob.uplink.client, paho_client.FastClient)
        assert isinstance(ob.uplink.client.socket(), BufferedSocket)
        # Nobody subscribes, so Mosquitto acknowledges with 0x10 "No matching subscribers".
        assert len(codes) == 20 and all(rc is codes[0] for rc in codes)
        assert codes[0] == paho_client._puback_code(0x10) and not codes[0].is_failure  # type: ignore[union-attr]
    finally:
        ob.stop()


def test_a_publish_the_broker_refuses_is_still_seen_as_refused_and_kept_aside(tmp_path: Path) -> None:
    acl = tmp_path / "acl"
    acl.write_text(
        "topic write gridwatch/v1/node/node-a/event\ntopic write gridwatch/v1/node/node-a/status\n"
    )
    with Mosquitto(tmp_path / "broker", extra_config=f"acl_file {acl}\n") as broker:
        ob = Outbox(  # one hop: nobody answers with receipts here
            "node-a",
            tmp_path / "outbox.sqlite3",
            BrokerSettings(host=broker.host, port=broker.port),
            OutboxSettings(receipts=False),
        )
        ob.start()
        try:
            ob.emit(event_topic("node-a"), hazard("node-a", 1), Priority.EVENT)
            ob.emit(
                topics.node_reading("node-a"),
                reading(5).model_copy(update={"source": "node-a"}),
                Priority.TELEMETRY,
            )
            ob.emit(event_topic("node-a"), hazard("node-a", 2), Priority.EVENT)
            wait_until(lambda: ob.store.depth == 0, what="outbox empty")
            [(_id, topic, reason)] = ob.store.refused()
            assert topic == topics.node_reading("node-a") and reason == "Not authorized"
            assert ob.uplink.stats.refused_total == 1 and ob.uplink.stats.acked_total == 2
            assert any("refused 1 messages" in w for w in ob.health()[1])
        finally:
            ob.stop()
