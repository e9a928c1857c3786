"""The demo's devices, speaking exactly what real ones put on the wire.

A zigbee2mqtt smoke detector publishes its state JSON on
``zigbee2mqtt/<friendly_name>`` (and a retained availability); a gas detector
that speaks GridWatch publishes a :class:`contracts.SensorReading` on its own
device topic. The edge node that hosts each sensor decides whether it is an alarm.

Like real devices they keep reporting: each simulated sensor repeats its last state
every half of its ``report_interval_s`` (a detector that goes quiet for two intervals is
taken offline by its node, which would open a false maintenance case).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contracts import Measurement, SensorReading, Unit, encode, topics
from contracts.clock import Clock, SystemClock
from contracts.site import Site
from contracts.site.models import GridWatchSource, Sensor, Zigbee2MqttSource
from contracts.topics import Roster
from edge.simulator import Broker, SimulationError


class DemoDevices:
    """MQTT connections standing in for every simulated device of the site: one for all of them
    (a broker without logins), or, given ``logins`` (login -> password), one per login as on a
    real site: each zigbee2mqtt bridge as its own login, each GridWatch-speaking device as itself
    (its client id is its login: the dynamic-security plugin binds them)."""

    def __init__(
        self,
        site: Site,
        broker: Broker,
        clock: Clock | None = None,
        logins: Mapping[str, str] | None = None,
    ) -> None:
        self.site = site
        self._seq: dict[str, int] = {}
        self._clock = clock or SystemClock()
        # device id -> (report again at, how to report): zigbee2mqtt and GridWatch sensors only;
        # the site's Modbus devices are not simulated (their nodes report them offline).
        self._schedule: dict[str, tuple[datetime, Callable[[], None]]] = {}
        now = self._clock.now()
        for node in site.nodes.values():
            for sensor in node.sensors:
                if isinstance(sensor.source, Zigbee2MqttSource):
                    report = self._z2m_report(sensor.id, smoke=False)
                elif isinstance(sensor.source, GridWatchSource):
                    report = self._gas_report(sensor.id, 0.0)
                else:
                    continue
                self._schedule[sensor.id] = (now + self._period(sensor), report)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._broker = broker
        self._logins = logins
        self._bridges = {base: login for login, base in Roster.from_site(site).bridges.items()}
        self._clients: dict[str, mqtt.Client] = {}
        # one connection for every device when the broker has no logins (most tests)
        self.client = (
            None if logins is not None else self._connect("demo-devices", broker.username, broker.password)
        )
        self._thread = threading.Thread(target=self._keep_reporting, name="demo-devices", daemon=True)
        self._thread.start()

    def _connect(self, client_id: str, username: str | None, password: str | None) -> mqtt.Client:
        client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
        if username:
            client.username_pw_set(username, password)
        client.connect(self._broker.host, self._broker.port, keepalive=30)
        client.loop_start()
        return client

    def _client(self, login: str) -> mqtt.Client:
        """The connection that speaks as ``login`` (the shared one on a broker without logins)."""
        if self.client is not None:
            return self.client
        assert self._logins is not None
        with self._lock:
            if login not in self._clients:
                if login not in self._logins:
                    raise SimulationError(f"no broker login {login!r} for the demo's devices")
                client_id = login if self.site.device(login) is not None else f"demo-{login}"
                self._clients[login] = self._connect(client_id, login, self._logins[login])
            return self._clients[login]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for client in [*([self.client] if self.client else []), *self._clients.values()]:
            client.disconnect()
            client.loop_stop()

    @staticmethod
    def _period(sensor: Sensor) -> timedelta:
        return timedelta(seconds=sensor.report_interval_s / 2)

    def _keep_reporting(self) -> None:
        while not self._stop.wait(1.0):
            self.report_due()

    def report_due(self) -> list[str]:
        """Repeat the last state of every device whose time has come; returns their ids."""
        now = self._clock.now()
        with self._lock:
            due = [(d, report) for d, (at, report) in self._schedule.items() if at <= now]
        sent = []
        for device_id, report in due:
            try:
                report()
            except SimulationError:
                continue  # broker away for a moment: the next round tries again
            sent.append(device_id)
        return sent

    def _remember(self, device_id: str, report: Callable[[], None]) -> None:
        with self._lock:
            self._schedule[device_id] = (self._clock.now() + self._period(self._sensor(device_id)), report)

    def _z2m_report(self, device_id: str, smoke: bool) -> Callable[[], None]:
        return lambda: self.zigbee_smoke(device_id, smoke)

    def _gas_report(self, device_id: str, lel: float) -> Callable[[], None]:
        return lambda: self.gas_reading(device_id, lel)

    def _sensor(self, device_id: str) -> Sensor:
        found = self.site.device(device_id)
        if found is None or not isinstance(found[1], Sensor):
            raise SimulationError(f"no sensor {device_id!r} in the site")
        return found[1]

    def _publish(self, login: str, topic: str, payload: bytes, retain: bool = False) -> None:
        info = self._client(login).publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=10)
        if not info.is_published():
            raise SimulationError(f"broker did not acknowledge the publish on {topic}")

    def zigbee_smoke(self, device_id: str, smoke: bool = True) -> None:
        """A zigbee2mqtt smoke detector reports its state, as it does when its alarm sounds."""
        src = self._sensor(device_id).source
        if not isinstance(src, Zigbee2MqttSource):
            raise SimulationError(f"{device_id} is not a zigbee2mqtt device")
        base = f"{src.base_topic}/{src.friendly_name}"
        bridge = self._bridges.get(src.base_topic, "zigbee2mqtt")
        self._publish(bridge, f"{base}/availability", json.dumps({"state": "online"}).encode(), retain=True)
        state = {
            "smoke": smoke,
            "battery": 87,
            "battery_low": False,
            "tamper": False,
            "test": False,
            "linkquality": 142,
            "smoke_density": 38 if smoke else 0,
        }
        self._publish(bridge, base, json.dumps(state).encode())
        self._remember(device_id, self._z2m_report(device_id, smoke))

    def gas_reading(self, device_id: str, lel: float) -> None:
        """A GridWatch-speaking gas detector reports a reading in %LEL on its own topic."""
        sensor = self._sensor(device_id)
        if not isinstance(sensor.source, GridWatchSource):
            raise SimulationError(f"{device_id} does not speak GridWatch")
        seq = self._seq[device_id] = self._seq.get(device_id, 0) + 1
        reading = SensorReading(
            source=device_id,
            seq=seq,
            ts=self._clock.now(),
            device_id=device_id,
            measurements=[Measurement(quantity="gas", value=lel, unit=Unit.PERCENT_LEL)],
        )
        self._publish(device_id, topics.device_topic(device_id, topics.Channel.READING), encode(reading))
        self._remember(device_id, self._gas_report(device_id, lel))
