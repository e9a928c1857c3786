"""MQTT helpers for edge tests: a subscriber that survives broker restarts, message builders."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contracts import DeliveryReceipt, HazardEvent, HazardType, Message, Severity, decode, encode, topics
from contracts.delivery import merge_ranges
from contracts.hazards import EventState
from gridwatch.broker import Mosquitto


@dataclass(frozen=True)
class Received:
    topic: str
    message: Message
    retain: bool
    dup: bool
    at: float  # time.monotonic() on arrival


class DurableSubscriber:
    """Subscribes at QoS 1 with a persistent session (clean_session=False), so the broker
    keeps what arrives while this client or the broker itself is restarting; reconnects fast.

    With ``receipts`` it also answers like a gateway: every ``RECEIPT_EVERY_S`` it sends each
    node it heard from a cumulative delivery receipt of the sequence numbers it received (for
    outbox tests without a gateway; the gateway's own receipts are tested in tests/gateway and
    tests/system). ``skip`` makes it ignore messages, as if the broker had lost them."""

    RECEIPT_EVERY_S = 0.02

    def __init__(
        self,
        broker: Mosquitto,
        topic_filter: str,
        client_id: str = "test-durable-sub",
        receipts: bool = False,
    ) -> None:
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.bad: list[tuple[str, bytes, str]] = []
        self.skip: Callable[[Message], bool] = lambda _m: False
        self._held: dict[str, set[int]] = {}
        self._dirty: set[str] = set()
        self._stop = threading.Event()
        self.receipts_sent = 0
        subscribed = threading.Event()
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
        )
        client.reconnect_delay_set(min_delay=0.1, max_delay=0.5)

        def on_connect(c: mqtt.Client, *_: object) -> None:
            c.subscribe(topic_filter, qos=1)

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            try:
                decoded = decode(msg.topic, msg.payload)
            except Exception as exc:  # recorded so a test can fail on it
                with self._lock:
                    self.bad.append((msg.topic, msg.payload, str(exc)))
                return
            if isinstance(decoded, DeliveryReceipt) or self.skip(decoded):
                return
            with self._lock:
                self.received.append(
                    Received(msg.topic, decoded, bool(msg.retain), bool(msg.dup), time.monotonic())
                )
                if receipts and decoded.seq > 0 and topics.parse(msg.topic).role is topics.Role.NODE:
                    self._held.setdefault(decoded.source, set()).add(decoded.seq)
                    self._dirty.add(decoded.source)

        client.on_connect = on_connect
        client.on_subscribe = lambda *_: subscribed.set()
        client.on_message = on_message
        client.connect(broker.host, broker.port, keepalive=10)
        client.loop_start()
        assert subscribed.wait(10), f"could not subscribe to {topic_filter}"
        self.client = client
        if receipts:
            threading.Thread(target=self._answer, name="test-receipts", daemon=True).start()

    def _answer(self) -> None:
        while not self._stop.wait(self.RECEIPT_EVERY_S):
            with self._lock:
                dirty, self._dirty = self._dirty, set()
                held = {source: sorted(self._held[source]) for source in dirty}
            for source, seqs in held.items():
                ranges = merge_ranges((n, n) for n in seqs)
                receipt = DeliveryReceipt.of("test-gateway", source, ranges)
                self.client.publish(topics.node_receipt(source), encode(receipt), qos=1)
                self.receipts_sent += 1

    def messages(self, kind: type | None = None) -> list[Received]:
        with self._lock:
            items = list(self.received)
        return [r for r in items if kind is None or isinstance(r.message, kind)]

    def close(self) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()


def hazard(node_id: str, n: int, device_id: str = "gas-test-1") -> HazardEvent:
    """A numbered test event (``rule`` carries the producer's index)."""
    return HazardEvent(
        source=node_id,
        seq=0,
        hazard_type=HazardType.GAS_LEAK,
        severity=Severity.MAJOR,
        confidence=0.9,
        state=EventState.NEW,
        episode_id=f"ep-{n}",
        device_id=device_id,
        rule=f"test-{n}",
    )


def event_topic(node_id: str) -> str:
    return topics.node_event(node_id)
