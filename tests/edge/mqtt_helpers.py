"""MQTT helpers for edge tests: a subscriber that survives broker restarts, message builders."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contracts import HazardEvent, HazardType, Message, Severity, decode, topics
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
    keeps what arrives while this client or the broker itself is restarting; reconnects fast."""

    def __init__(self, broker: Mosquitto, topic_filter: str, client_id: str = "test-durable-sub") -> None:
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.bad: list[tuple[str, bytes, str]] = []
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
            with self._lock:
                self.received.append(
                    Received(msg.topic, decoded, bool(msg.retain), bool(msg.dup), time.monotonic())
                )

        client.on_connect = on_connect
        client.on_subscribe = lambda *_: subscribed.set()
        client.on_message = on_message
        client.connect(broker.host, broker.port, keepalive=10)
        client.loop_start()
        assert subscribed.wait(10), f"could not subscribe to {topic_filter}"
        self.client = client

    def messages(self, kind: type | None = None) -> list[Received]:
        with self._lock:
            items = list(self.received)
        return [r for r in items if kind is None or isinstance(r.message, kind)]

    def close(self) -> None:
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
