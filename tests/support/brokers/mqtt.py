"""MQTT clients for tests: a collector that records a filter (a phone, a screen) and publishers."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from gridwatch.broker import Mosquitto


class Collector:
    """An MQTT client that records everything on a filter (a worker's phone, an operator screen).

    The constructor returns once the broker answered the subscription (SUBACK); ``granted``
    holds its reason code, so a test can tell a refused subscription from a quiet topic.
    """

    def __init__(
        self,
        broker: Mosquitto,
        topic_filter: str | list[str],
        client_id: str = "",
        username: str | None = None,
    ) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self.granted: list[ReasonCode] = []
        self._lock = threading.Lock()
        filters = [topic_filter] if isinstance(topic_filter, str) else topic_filter
        subscribed = threading.Event()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
        if username:
            self.client.username_pw_set(username)

        def on_connect(c: mqtt.Client, *_: object) -> None:
            c.subscribe([(f, 1) for f in filters])

        def on_subscribe(_c: mqtt.Client, _u: object, _mid: int, codes: list[ReasonCode], _p: object) -> None:
            self.granted = list(codes)
            subscribed.set()

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            with self._lock:
                self.messages.append(msg)

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert subscribed.wait(10), f"the broker did not answer the subscription to {filters}"

    def payloads(self) -> list[bytes]:
        with self._lock:
            return [m.payload for m in self.messages]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publisher(broker: Mosquitto, client_id: str = "") -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def publish_all(
    broker: Mosquitto,
    messages: list[tuple[str, bytes]],
    client_id: str = "",
    window: int = 200,
    rate: float | None = None,
) -> None:
    """Publish at QoS 1 and return once the broker acknowledged every message.

    At most ``window`` messages are unacknowledged at a time (paho scans its whole
    in-flight table on every PUBACK, so a huge window makes it slow); ``rate`` caps
    messages per second.
    """
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_inflight_messages_set(65535)
    client.max_queued_messages_set(0)
    slots = threading.BoundedSemaphore(window)
    client.on_publish = lambda *_: slots.release()
    client.connect(broker.host, broker.port)
    client.loop_start()
    started = time.monotonic()
    try:
        for i, (topic, payload) in enumerate(messages):
            if rate is not None:
                ahead = started + i / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            assert slots.acquire(timeout=30), "the broker stopped acknowledging"
            client.publish(topic, payload, qos=1)
        for _ in range(window):
            assert slots.acquire(timeout=30), "the broker did not acknowledge everything"
    finally:
        client.disconnect()
        client.loop_stop()
