"""The outbox against a real Mosquitto: QoS 1, ordered replay after outages.

Most of these run the outbox one hop (``receipts=False``: a row leaves on its PUBACK), which is
how telemetry always travels; receipts are tested in test_receipts.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts import HazardEvent, NodeStatus, SensorReading, encode, topics
from edge.emit import Priority
from edge.outbox import Outbox
from edge.settings import BrokerSettings, OutboxSettings
from gridwatch.broker import Mosquitto
from tests.support.brokers.edge_mqtt import DurableSubscriber, event_topic, hazard
from tests.support.waiting import wait_until


def make_outbox(broker: Mosquitto, path: Path, node: str, **settings: object) -> Outbox:
    return Outbox(
        node,
        path / node / "outbox.sqlite3",
        BrokerSettings(host=broker.host, port=broker.port, keepalive_s=5),
        OutboxSettings(**{"receipts": False, **settings}),  # type: ignore[arg-type]
    )


@pytest.fixture
def subscriber(mosquitto: Mosquitto) -> Iterator[DurableSubscriber]:
    sub = DurableSubscriber(mosquitto, "gridwatch/v1/#")
    yield sub
    sub.close()


def check_exactly_once_in_order(
    sub: DurableSubscriber, produced: dict[str, list[str]], max_duplicates: int
) -> None:
    """Every produced id arrived; first arrivals are in production order per source with
    consecutive sequence numbers; the outbox's own re-sends (QoS 1 at a reconnect) stay bounded.

    A copy the broker re-sends to *this subscriber* (its PUBACK was in flight when the broker
    stopped; MQTT marks such a re-send DUP) is the subscriber's side of QoS 1, not the outbox
    publishing twice, so only copies without the DUP flag count against the outbox."""
    seen: set[str] = set()
    firsts: dict[str, list[HazardEvent]] = {}
    sent_twice = 0
    for r in sub.messages(HazardEvent):
        if r.message.id in seen:
            sent_twice += 0 if r.dup else 1
            continue
        seen.add(r.message.id)
        firsts.setdefault(r.message.source, []).append(r.message)
    assert sub.bad == []
    for source, ids in produced.items():
        got = firsts.get(source, [])
        assert [m.id for m in got] == ids, f"{source}: {len(got)} of {len(ids)} arrived, or out of order"
        assert [m.seq for m in got] == list(range(got[0].seq, got[0].seq + len(ids)))
    assert sent_twice <= max_duplicates


def test_messages_leave_the_outbox_only_after_the_brokers_puback(
    mosquitto: Mosquitto, subscriber: DurableSubscriber, tmp_path: Path
) -> None:
    ob = make_outbox(mosquitto, tmp_path, "node-a")
    ob.start()
    try:
        events = [hazard("node-a", i) for i in range(200)]
        for e in events:
            ob.emit(event_topic("node-a"), e, Priority.EVENT)
        wait_until(lambda: ob.store.depth == 0, what="outbox empty")
        assert wait_until(lambda: len(subscriber.messages(HazardEvent)) >= 200)

        mosquitto.stop()
        late = [hazard("node-a", i) for i in range(200, 260)]
        for e in late:
            ob.emit(event_topic("node-a"), e, Priority.EVENT)
        time.sleep(1.5)
        assert ob.store.depth == 60, "nothing may leave the outbox without an acknowledgement"
        health, warnings = ob.health()
        assert health.oldest_unsent_age_s >= 1
        assert any("uplink down" in w for w in warnings), warnings

        mosquitto.start()
        wait_until(lambda: ob.store.depth == 0, timeout=20, what="outbox drained after restart")
        wait_until(lambda: len({r.message.id for r in subscriber.messages(HazardEvent)}) == 260, timeout=10)
        check_exactly_once_in_order(subscriber, {"node-a": [e.id for e in events + late]}, max_duplicates=0)
    finally:
        ob.stop()


def test_status_is_retained_online_and_goodbye_is_retained_offline(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    topic = topics.node_status("node-a")

    def status(state: str) -> list[tuple[str, bytes]]:
        return [(topic, encode(NodeStatus(source="node-a", seq=0, state=state)))]  # type: ignore[arg-type]

    ob = Outbox(
        "node-a",
        tmp_path / "outbox.sqlite3",
        BrokerSettings(host=mosquitto.host, port=mosquitto.port),
        birth=lambda: status("online"),
        farewell=lambda: status("offline"),
    )
    watcher = DurableSubscriber(mosquitto, topic, client_id="watcher")
    ob.start()
    wait_until(lambda: watcher.messages(NodeStatus), what="online status")
    late = DurableSubscriber(mosquitto, topic, client_id="late-1")  # subscribes after: sees retained
    wait_until(lambda: late.messages(NodeStatus), what="retained online status")
    assert late.messages()[-1].message.state == "online" and late.messages()[-1].retain
    late.close()
    watcher.close()
    ob.stop()
    later = DurableSubscriber(mosquitto, topic, client_id="late-2")
    wait_until(lambda: later.messages(NodeStatus), what="retained offline status")
    assert later.messages()[-1].message.state == "offline"
    later.close()


@pytest.mark.slow
def test_broker_down_60_s_while_5000_events_are_produced_all_arrive_once_in_order(
    mosquitto: Mosquitto, subscriber: DurableSubscriber, tmp_path: Path
) -> None:
    """The issue's outage: two nodes, 5,000 events, 60 s without a broker."""
    rate = 2000.0
    window = 500
    nodes = {
        n: make_outbox(mosquitto, tmp_path, n, publish_rate=rate, window=window) for n in ("node-a", "node-b")
    }
    produced: dict[str, list[str]] = {n: [] for n in nodes}
    for ob in nodes.values():
        ob.start()
        assert ob.uplink.connected.wait(10)

    def produce(node: str, count: int, over_s: float) -> None:
        for i in range(count):
            e = hazard(node, len(produced[node]) + i)
            produced[node].append(e.id)
            nodes[node].emit(event_topic(node), e, Priority.EVENT)
            if over_s:
                time.sleep(over_s / count)

    try:
        for node in nodes:  # a burst, then the broker dies mid-publish
            produce(node, 100, 0)
        mosquitto.stop()
        down_at = time.monotonic()
        producers = [threading.Thread(target=produce, args=(n, 2400, 55)) for n in nodes]
        for t in producers:
            t.start()
        for t in producers:
            t.join()
        assert sum(len(ids) for ids in produced.values()) == 5000
        time.sleep(max(0.0, 60 - (time.monotonic() - down_at)))
        backlog = sum(ob.store.depth for ob in nodes.values())
        assert backlog >= 4800, "the outage must have held the events in the outboxes"

        mosquitto.start()
        for ob in nodes.values():
            wait_until(lambda ob=ob: ob.store.depth == 0, timeout=60, what="replay finished")
        wait_until(
            lambda: len({r.message.id for r in subscriber.messages(HazardEvent)}) == 5000,
            timeout=30,
            what="all 5000 events at the subscriber",
        )
        check_exactly_once_in_order(subscriber, produced, max_duplicates=2 * window)

        # The replay respected its rate bound (per node), give or take the initial burst.
        for node in nodes:
            arrivals = [r.at for r in subscriber.messages(HazardEvent) if r.message.source == node]
            replayed = arrivals[-2000:]
            assert len(replayed) / (replayed[-1] - replayed[0]) < rate * 1.25
    finally:
        for ob in nodes.values():
            ob.stop()


def test_a_message_the_broker_refuses_for_good_is_kept_aside_and_does_not_block_the_rest(
    tmp_path: Path,
) -> None:
    # Anonymous clients may write events but not readings: MQTT 5 says "not authorised".
    acl = tmp_path / "acl"
    acl.write_text("topic write gridwatch/v1/node/node-a/event\ntopic read gridwatch/v1/#\n")
    with Mosquitto(tmp_path / "broker", extra_config=f"acl_file {acl}\n") as broker:
        sub = DurableSubscriber(broker, "gridwatch/v1/#")
        ob = make_outbox(broker, tmp_path, "node-a")
        ob.start()
        try:
            ob.emit(event_topic("node-a"), hazard("node-a", 1), Priority.EVENT)
            ob.emit(topics.node_reading("node-a"), reading_for("node-a"), Priority.TELEMETRY)
            ob.emit(event_topic("node-a"), hazard("node-a", 2), Priority.EVENT)
            wait_until(lambda: ob.store.depth == 0, what="outbox empty")
            wait_until(lambda: len(sub.messages(HazardEvent)) == 2)
            refused = ob.store.refused()
            assert [(t, r) for _, t, r in refused] == [(topics.node_reading("node-a"), "Not authorized")]
            _, warnings = ob.health()
            assert any("refused 1 messages" in w and "ACL" in w for w in warnings), warnings
        finally:
            ob.stop()
            sub.close()


def reading_for(node: str) -> SensorReading:
    return SensorReading(source=node, seq=0, device_id="gas-1")
