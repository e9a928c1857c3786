"""Test uplinks for VideoService.

The node's real uplink is the SQLite outbox of the edge runtime (issue 4);
these tests stand in for it with a plain MQTT publisher to a real Mosquitto
(QoS 1, waiting for the broker's acknowledgement), so what a subscriber
receives is exactly what the video service made.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contracts import Envelope, encode
from edge.emit import Priority
from gridwatch.broker import Mosquitto


class MqttEmitter:
    def __init__(self, broker: Mosquitto, node_id: str) -> None:
        self.node_id = node_id
        self._seq = 0
        self._lock = threading.Lock()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=node_id)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def emit(self, topic: str, message: Envelope, priority: Priority, retain: bool = False) -> None:
        with self._lock:  # sequence order is publish order, as in the real outbox
            self._seq += 1
            payload = encode(message.model_copy(update={"seq": self._seq}))
            info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=10)
        if not info.is_published():
            raise RuntimeError(f"broker did not acknowledge {topic}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class ShiftedClock:
    """Real time, shifted so that 'now' starts at a chosen local time (a night test by day)."""

    def __init__(self, start: datetime) -> None:
        self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset
