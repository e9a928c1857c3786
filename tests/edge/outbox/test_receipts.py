"""Receipts: an event leaves the outbox only when a gateway says it committed it.

A real Mosquitto; the gateway's side is played by a subscriber that answers with cumulative
receipts of what it received (tests/support/brokers/edge_mqtt.py) — the real gateway's receipts are in
tests/gateway/test_receipts.py and, end to end, tests/system/test_delivery.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from contracts import DeliveryReceipt, HazardEvent, Message, SensorReading, encode, topics
from edge.emit import Priority
from edge.outbox import Outbox
from edge.settings import BrokerSettings, OutboxSettings
from gridwatch.broker import Mosquitto
from tests.support.brokers.edge_mqtt import DurableSubscriber, event_topic, hazard
from tests.support.brokers.mqtt import publisher
from tests.support.waiting import wait_until

NODE = "node-r"


def make(broker: Mosquitto, tmp_path: Path, **settings: object) -> Outbox:
    ob = Outbox(
        NODE,
        tmp_path / "outbox.sqlite3",
        BrokerSettings(host=broker.host, port=broker.port, keepalive_s=5),
        OutboxSettings(**{"publish_rate": 0, **settings}),  # type: ignore[arg-type]
    )
    ob.start()
    assert ob.uplink.connected.wait(10)
    return ob


@pytest.fixture
def outbox(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[Outbox]:
    ob = make(mosquitto, tmp_path, receipt_timeout_s=0.5, resend_max_s=1)
    yield ob
    # The test is over: what is left awaits a receipt no gateway here will send, and the stop's
    # flush (3 s) would only wait for it.
    ob.uplink.flush_on_stop_s = 0
    ob.stop()


def reading(i: int) -> SensorReading:
    return SensorReading(source=NODE, seq=0, device_id="gas-r1")


def events_at(sub: DurableSubscriber) -> list[str]:
    return [r.message.id for r in sub.messages(HazardEvent)]


def receipt(ranges: list[tuple[int, int]]) -> bytes:
    return encode(DeliveryReceipt.of("gateway-t", NODE, ranges))


def test_an_event_leaves_only_on_a_receipt_and_telemetry_on_its_puback(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    sub = DurableSubscriber(mosquitto, f"{topics.ROOT}/node/{NODE}/#")  # the broker has a subscriber
    ob = make(mosquitto, tmp_path)  # the shipped timeouts: nothing is sent again during this test
    gateway = publisher(mosquitto)
    try:
        events = [hazard(NODE, i) for i in range(5)]
        for i, e in enumerate(events):
            ob.emit(event_topic(NODE), e, Priority.EVENT)  # seq 1, 3, 5, 7, 9
            ob.emit(topics.node_reading(NODE), reading(i), Priority.TELEMETRY)  # seq 2, 4, ...
        wait_until(lambda: ob.uplink.stats.acked_total == 10, what="ten PUBACKs")
        wait_until(lambda: ob.health()[0].awaiting_receipt == 5, what="the events awaiting a receipt")
        health, _ = ob.health()
        assert (health.depth, health.awaiting_receipt, health.last_seq) == (5, 5, 10)
        assert health.oldest_unreceipted_age_s >= 0
        # The gateway committed 1..5 (events 1, 3, 5 among them).
        gateway.publish(topics.node_receipt(NODE), receipt([(1, 5)]), qos=1).wait_for_publish(5)
        wait_until(lambda: ob.store.depth == 2, what="three events receipted")
        gateway.publish(topics.node_receipt(NODE), receipt([(1, 10)]), qos=1).wait_for_publish(5)
        wait_until(lambda: ob.store.depth == 0, what="all receipted")
        assert ob.receipts is not None and ob.receipts.stats.resent_total == 0
        assert events_at(sub) == [e.id for e in events]
    finally:
        gateway.disconnect()
        ob.stop()
        sub.close()


def test_no_matching_subscribers_is_a_warning_and_the_events_go_again_once_a_gateway_listens(
    mosquitto: Mosquitto, outbox: Outbox
) -> None:
    events = [hazard(NODE, i) for i in range(20)]
    for e in events:
        outbox.emit(event_topic(NODE), e, Priority.EVENT)
    assert outbox.receipts is not None
    wait_until(lambda: outbox.receipts.stats.no_subscriber_total >= 20, what="PUBACK 0x10 for each")  # type: ignore[union-attr]
    health, warnings = outbox.health()
    assert health.depth == 20 and health.no_subscriber_total >= 20
    assert any("no gateway is subscribed" in w for w in warnings), warnings
    sub = DurableSubscriber(mosquitto, f"{topics.ROOT}/node/{NODE}/#", receipts=True)  # a gateway listens
    try:
        wait_until(lambda: outbox.store.depth == 0, timeout=15, what="all receipted")
        assert set(events_at(sub)) == {e.id for e in events}
        assert outbox.health()[0].resent_total >= 20
    finally:
        sub.close()


def test_events_the_broker_lost_go_again_when_their_receipt_does_not_come(
    mosquitto: Mosquitto, outbox: Outbox
) -> None:
    sub = DurableSubscriber(mosquitto, f"{topics.ROOT}/node/{NODE}/#", receipts=True)
    lost_once: set[int] = set()

    def lose_first_copy(m: Message) -> bool:  # as if the broker dropped 4..6 the first time
        if 4 <= m.seq <= 6 and m.seq not in lost_once:
            lost_once.add(m.seq)
            return True
        return False

    sub.skip = lose_first_copy
    try:
        events = [hazard(NODE, i) for i in range(10)]
        for e in events:
            outbox.emit(event_topic(NODE), e, Priority.EVENT)
        wait_until(lambda: outbox.store.depth == 0, timeout=15, what="all receipted after a resend")
        assert lost_once == {4, 5, 6}
        assert sorted(events_at(sub)) == sorted(e.id for e in events)  # each arrived once
        assert outbox.health()[0].resent_total >= 3
    finally:
        sub.close()


def test_rows_awaiting_a_receipt_are_bounded(mosquitto: Mosquitto, tmp_path: Path) -> None:
    plain = DurableSubscriber(mosquitto, f"{topics.ROOT}/node/{NODE}/event", client_id="no-receipts")
    ob = make(mosquitto, tmp_path, awaiting_max=20, window=5)
    try:
        for i in range(100):
            ob.emit(event_topic(NODE), hazard(NODE, i), Priority.EVENT)
        wait_until(lambda: ob.health()[0].awaiting_receipt == 20, what="twenty awaiting")
        published = ob.uplink.stats.published_total
        assert published == 20  # nothing new past the bound
        plain.close()
        gateway = DurableSubscriber(mosquitto, f"{topics.ROOT}/node/{NODE}/#", receipts=True)
        try:
            wait_until(lambda: ob.store.depth == 0, timeout=20, what="the rest once receipts come")
        finally:
            gateway.close()
    finally:
        ob.stop()


def test_a_receipt_about_numbers_the_node_never_handed_out_is_ignored(
    mosquitto: Mosquitto, outbox: Outbox
) -> None:
    for i in range(3):
        outbox.emit(event_topic(NODE), hazard(NODE, i), Priority.EVENT)
    gateway = publisher(mosquitto)
    try:
        # A gateway that remembers an earlier life of this node (its state was wiped).
        gateway.publish(topics.node_receipt(NODE), receipt([(1, 5000)]), qos=1).wait_for_publish(5)
        assert outbox.receipts is not None
        wait_until(lambda: outbox.receipts.stats.ignored_total == 1, what="the receipt ignored")  # type: ignore[union-attr]
        assert outbox.store.depth == 3
        assert any("ignored until the gateway notices the restart" in w for w in outbox.health()[1])
    finally:
        gateway.disconnect()


def test_what_is_still_unreceipted_goes_again_after_a_reconnect(mosquitto: Mosquitto, outbox: Outbox) -> None:
    sub = DurableSubscriber(mosquitto, f"{topics.ROOT}/node/{NODE}/#", client_id="plain", receipts=False)
    try:
        events = [hazard(NODE, i) for i in range(5)]
        for e in events:
            outbox.emit(event_topic(NODE), e, Priority.EVENT)
        wait_until(lambda: len(events_at(sub)) >= 5, what="five events delivered, no receipt")
        client = outbox.uplink.client
        assert isinstance(client, mqtt.Client)
        mosquitto.restart()  # without receipts the node cannot know whether the gateway got them
        wait_until(lambda: outbox.uplink.stats.connects >= 2, timeout=15, what="reconnected")
        wait_until(lambda: len(events_at(sub)) >= 10, timeout=15, what="sent again after the reconnect")
        assert outbox.store.depth == 5
    finally:
        sub.close()
