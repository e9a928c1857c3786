"""The demo's devices, speaking exactly what real ones put on the wire.

A zigbee2mqtt smoke detector publishes its state JSON on
``zigbee2mqtt/<friendly_name>`` (and a retained availability); a gas detector
that speaks GridWatch publishes a :class:`contracts.SensorReading` on its own
device topic. The edge node that hosts each sensor decides whether it is an alarm.
"""

from __future__ import annotations

import json

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contracts import Measurement, SensorReading, Unit, encode, topics
from contracts.site import Site
from contracts.site.models import GridWatchSource, Sensor, Zigbee2MqttSource
from edge.simulator import Broker, SimulationError


class DemoDevices:
    """One MQTT connection standing in for every simulated device of the site."""

    def __init__(self, site: Site, broker: Broker) -> None:
        self.site = site
        self._seq: dict[str, int] = {}
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="demo-devices")
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _sensor(self, device_id: str) -> Sensor:
        found = self.site.device(device_id)
        if found is None or not isinstance(found[1], Sensor):
            raise SimulationError(f"no sensor {device_id!r} in the site")
        return found[1]

    def _publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=10)
        if not info.is_published():
            raise SimulationError(f"broker did not acknowledge the publish on {topic}")

    def zigbee_smoke(self, device_id: str, smoke: bool = True) -> None:
        """A zigbee2mqtt smoke detector reports its state, as it does when its alarm sounds."""
        src = self._sensor(device_id).source
        if not isinstance(src, Zigbee2MqttSource):
            raise SimulationError(f"{device_id} is not a zigbee2mqtt device")
        base = f"{src.base_topic}/{src.friendly_name}"
        self._publish(f"{base}/availability", json.dumps({"state": "online"}).encode(), retain=True)
        state = {
            "smoke": smoke,
            "battery": 87,
            "battery_low": False,
            "tamper": False,
            "test": False,
            "linkquality": 142,
            "smoke_density": 38 if smoke else 0,
        }
        self._publish(base, json.dumps(state).encode())

    def gas_reading(self, device_id: str, lel: float) -> None:
        """A GridWatch-speaking gas detector reports a reading in %LEL on its own topic."""
        sensor = self._sensor(device_id)
        if not isinstance(sensor.source, GridWatchSource):
            raise SimulationError(f"{device_id} does not speak GridWatch")
        seq = self._seq[device_id] = self._seq.get(device_id, 0) + 1
        reading = SensorReading(
            source=device_id,
            seq=seq,
            device_id=device_id,
            measurements=[Measurement(quantity="gas", value=lel, unit=Unit.PERCENT_LEL)],
        )
        self._publish(topics.device_topic(device_id, topics.Channel.READING), encode(reading))
