"""The node's subscriber on the sensors' broker: zigbee2mqtt and GridWatch-speaking devices.

One paho client (id ``<node id>-sensors``, auto-reconnect) subscribes to each
zigbee2mqtt base topic (``<base>/#``: device state, availability, and anything
from devices we do not know, which is counted) and to the GridWatch device
topics of our sensors. Messages are handled in paho's thread: parsing is cheap
and the outbox commit is short, and a slow handler pushes back on the broker
rather than growing a queue.
"""

from __future__ import annotations

import logging
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from contracts.clock import Clock
from contracts.site.models import EdgeNodeConfig
from edge.sensors import gridwatch, zigbee2mqtt
from edge.sensors.observation import Observation
from edge.sensors.service import SensorService
from edge.sensors.zigbee2mqtt import BadInput
from edge.settings import BrokerSettings

log = logging.getLogger(__name__)


class SensorConfigError(ValueError):
    pass


class SensorBus:
    def __init__(
        self, node: EdgeNodeConfig, service: SensorService, broker: BrokerSettings, clock: Clock
    ) -> None:
        self.service = service
        self.broker = broker
        self.clock = clock
        self.node_id = node.node.id
        self.z2m = zigbee2mqtt.friendly_names(node.sensors)
        seen: dict[tuple[str, str], str] = {}
        for s in node.sensors:
            src = s.source
            if isinstance(src, zigbee2mqtt.Zigbee2MqttSource):
                key = (src.base_topic, src.friendly_name)
                if key in seen:
                    raise SensorConfigError(
                        f"sensors[{s.id}].source.friendly_name {src.friendly_name!r} is also used by "
                        f"sensors[{seen[key]}]; each zigbee2mqtt device has one friendly name"
                    )
                seen[key] = s.id
        self.gw = gridwatch.subscriptions(node.sensors)
        self.connected = threading.Event()
        self._asked: dict[int, list[str]] = {}  # SUBSCRIBE message id -> its filters, in order
        self._stopping = False
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"{self.node_id}-sensors"
        )
        if broker.username:
            client.username_pw_set(broker.username, broker.password)
        tls = broker.tls_context()
        if tls is not None:
            client.tls_set_context(tls)
        client.reconnect_delay_set(min_delay=0.5, max_delay=5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self.client = client

    @property
    def needed(self) -> bool:
        return bool(self.z2m or self.gw)

    def filters(self) -> list[str]:
        """Everything under each zigbee2mqtt base topic (so that a device paired under a name this
        node does not know is reported), and its GridWatch-speaking sensors' topics."""
        return [f"{base}/#" for base in self.z2m] + list(self.gw)

    def own_filters(self, base: str) -> list[str]:
        """Exactly its own devices' topics under ``base``: what a node's broker login may read of
        zigbee2mqtt (contracts.topics.Roster.from_site), asked for when ``<base>/#`` is refused."""
        names = sorted(self.z2m.get(base, {}))
        return [topic for name in names for topic in (f"{base}/{name}", f"{base}/{name}/availability")]

    def start(self) -> None:
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=self.broker.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        if rc.is_failure:
            log.error("sensor broker refused the connection: %s", rc, extra={"node_id": self.node_id})
            return
        self._subscribe(c, self.filters())
        log.info(
            "listening to %d zigbee2mqtt and %d GridWatch sensor(s) on %s:%d",
            sum(len(v) for v in self.z2m.values()),
            len(self.gw) // 2,
            self.broker.host,
            self.broker.port,
            extra={"node_id": self.node_id},
        )

    def _on_subscribe(
        self, c: mqtt.Client, _u: object, mid: int, codes: list[ReasonCode], _p: object
    ) -> None:
        """Listening once the broker confirms. A secured broker refuses ``<base>/#`` (a node's
        login reads its own devices only): then it asks for exactly those; a refused own topic
        is an error (the login's rules are wrong)."""
        asked = self._asked.pop(mid, [])
        refused = [f for f, code in zip(asked, codes, strict=False) if code.is_failure]
        narrower = [t for f in refused if f.endswith("/#") for t in self.own_filters(f[:-2])]
        if narrower:
            log.info(
                "the sensor broker does not let this node read all of %s: listening to its own "
                "zigbee2mqtt devices only (one paired under another name goes unnoticed)",
                ", ".join(f for f in refused if f.endswith("/#")),
                extra={"node_id": self.node_id},
            )
            self._subscribe(c, narrower)
            return
        if refused:
            log.error(
                "sensor broker refused the subscription to %s: check this node's broker login's rules "
                "(docs/broker-access.md)",
                ", ".join(refused),
                extra={"node_id": self.node_id},
            )
        self.connected.set()

    def _subscribe(self, c: mqtt.Client, filters: list[str]) -> None:
        _rc, mid = c.subscribe([(f, 1) for f in filters])
        if mid is not None:
            self._asked[mid] = filters

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        self.connected.clear()
        if not self._stopping:
            log.warning(
                "sensor broker connection lost (%s); reconnecting", rc, extra={"node_id": self.node_id}
            )

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            self.handle(msg.topic, msg.payload)
        except Exception:  # a bug on one message must not stop the subscriber
            log.exception("sensor message failed", extra={"topic": msg.topic})

    def handle(self, topic: str, payload: bytes) -> None:
        now = self.clock.now()
        sensor = self.gw.get(topic)
        if sensor is not None:
            try:
                result = gridwatch.parse(sensor, topic, payload, now)
            except BadInput as exc:
                self.service.bad_input(sensor.id, exc.reason, exc.detail)
                return
            if isinstance(result, Observation):
                self.service.observe(result, "gridwatch")
            else:
                self.service.availability(sensor.id, *result)
            return
        for base, names in self.z2m.items():
            r = zigbee2mqtt.route(base, topic)
            if r is None:
                continue
            sensor = names.get(r.friendly_name)
            if sensor is None:
                # Several nodes may share one zigbee2mqtt (one broker, one base topic): then every
                # node hears the others' devices. Say which node ignores what, and why.
                self.service.bad_input(
                    None,
                    "unknown_device",
                    f"node {self.node_id} ignores zigbee2mqtt device {r.friendly_name!r} on {base}/: "
                    f"not one of its sensors; another node's device on a shared zigbee2mqtt, or add it "
                    f"to nodes/{self.node_id}.yaml",
                )
                return
            try:
                if r.availability:
                    online = zigbee2mqtt.parse_availability(payload)
                    self.service.availability(sensor.id, online, "zigbee2mqtt says offline")
                else:
                    self.service.observe(zigbee2mqtt.parse_state(sensor, payload, now), "zigbee2mqtt")
            except BadInput as exc:
                self.service.bad_input(sensor.id, exc.reason, exc.detail)
            return
