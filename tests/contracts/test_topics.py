"""The topic scheme, its helpers, and the broker ACL derived from it (checked on a real Mosquitto)."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts import topics
from contracts.topics import Channel, Role, TopicError
from gridwatch.broker import Mosquitto
from tests.helpers import Collector, publisher, wait_until


def test_builders_and_parse_round_trip() -> None:
    built = [
        topics.node_event("node-a"),
        topics.node_status("node-a"),
        topics.node_health("node-a"),
        topics.node_reading("node-a"),
        topics.node_evidence("node-a"),
        topics.node_device_status("node-a", "smk-1"),
        topics.node_config("node-a"),
        topics.device_topic("gas-9", Channel.READING),
        topics.worker_task("w-li"),
        topics.worker_task_update("w-li"),
        topics.worker_location("w-li"),
        topics.centre_notice("gateway-1"),
    ]
    for topic in built:
        assert str(topics.parse(topic)) == topic
    assert topics.node_event("node-a") == "gridwatch/v1/node/node-a/event"
    assert topics.parse("gridwatch/v1/node/node-a/device/smk-1") == topics.Topic(
        Role.NODE, "node-a", Channel.DEVICE, "smk-1"
    )


@pytest.mark.parametrize(
    ("topic", "words"),
    [
        ("zigbee2mqtt/kitchen", "not under gridwatch/v1/"),
        ("gridwatch/v1/node/node-a", "should be gridwatch/v1/<role>/<id>/<channel>"),
        ("gridwatch/v1/robot/r1/event", "unknown role 'robot'"),
        ("gridwatch/v1/node/node-a/coffee", "unknown channel 'coffee'"),
        ("gridwatch/v1/node/Node A/event", "not a valid id"),
        ("gridwatch/v1/worker/w-1/event", "role 'worker' has no channel 'event'"),
        ("gridwatch/v1/node/node-a/event/extra", "only it) takes a device id"),
    ],
)
def test_parse_explains_what_is_wrong(topic: str, words: str) -> None:
    with pytest.raises(TopicError, match=None) as err:
        topics.parse(topic)
    assert words in str(err.value)


def test_ids_with_mqtt_wildcards_cannot_build_topics() -> None:
    for bad in ("a/b", "a+", "#", "$sys", "UPPER", ""):
        with pytest.raises(TopicError):
            topics.node_event(bad)


def test_gateway_subscriptions_cover_every_uplink_and_can_be_shared() -> None:
    plain = topics.gateway_subscriptions()
    assert "gridwatch/v1/node/+/event" in plain
    assert "gridwatch/v1/node/+/device/+" in plain
    assert "gridwatch/v1/worker/+/location" in plain
    assert "gridwatch/v1/worker/+/task" not in plain  # downlink: the gateway sends it
    shared = topics.gateway_subscriptions("gateways")
    assert all(f.startswith("$share/gateways/gridwatch/v1/") for f in shared)


def test_acl_confines_each_client_to_its_own_topics(tmp_path: Path) -> None:
    """Generated ACL on a real broker: a node cannot publish as another node, a worker
    cannot read another worker's tasks, the gateway sees everything.

    No sleeps: each client is subscribed once its SUBACK is in, and "nothing arrived"
    is judged after a later message on the same path did arrive (Mosquitto routes one
    client's publishes in order and delivers to one subscriber in order)."""
    acl = tmp_path / "acl"
    acl.write_text(topics.mosquitto_acl())
    with Mosquitto(tmp_path / "broker", extra_config=f"acl_file {acl}\n") as broker:
        gateway = Collector(broker, "gridwatch/v1/#", client_id="gateway", username="gateway")
        nosy = Collector(
            broker, ["gridwatch/v1/worker/w-li/task", topics.worker_task("w-zhang")], client_id="w-zhang"
        )
        owner = Collector(broker, "gridwatch/v1/worker/w-li/task", client_id="w-li")
        # Mosquitto's acl_file grants every subscription and filters at delivery.
        assert all(not code.is_failure for c in (gateway, nosy, owner) for code in c.granted)

        node_a = publisher(broker, client_id="node-a")
        node_a.publish(topics.node_event("node-a"), b"own", qos=1).wait_for_publish(5)
        node_a.publish(topics.node_event("node-b"), b"impostor", qos=1).wait_for_publish(5)
        node_a.publish(topics.worker_task("w-li"), b"fake task", qos=1).wait_for_publish(5)
        node_a.publish(topics.node_event("node-a"), b"own, later", qos=1).wait_for_publish(5)

        gateway.client.publish(topics.worker_task("w-li"), b"real task", qos=1).wait_for_publish(5)
        gateway.client.publish(topics.worker_task("w-zhang"), b"zhang's task", qos=1).wait_for_publish(5)

        wait_until(lambda: b"own, later" in gateway.payloads(), what="the node's later event at the gateway")
        wait_until(lambda: b"real task" in owner.payloads(), what="w-li's task on w-li's phone")
        wait_until(lambda: b"zhang's task" in nosy.payloads(), what="w-zhang's own task on w-zhang's phone")
        assert b"own" in gateway.payloads()
        assert b"impostor" not in gateway.payloads()
        assert b"fake task" not in gateway.payloads() + owner.payloads()
        assert nosy.payloads() == [b"zhang's task"]
        for c in (gateway, nosy, owner):
            c.close()
        node_a.disconnect()
