"""Simulated devices for demos and tests: a smoke alarm, a gas leak, a worker's phone.

They publish exactly what real edge nodes and phones publish (the contracts,
on the node's or worker's own topics), through a real broker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contracts import (
    EventState,
    GeoPoint,
    HazardEvent,
    HazardType,
    LocationFix,
    Measurement,
    NodeStatus,
    Severity,
    Unit,
    encode,
    topics,
)
from contracts.clock import Clock, SystemClock
from contracts.ids import new_id
from contracts.site import Site
from contracts.site.models import Sensor, SensorKind
from contracts.tls import MqttTls
from edge.sequence import FileSequence

log = logging.getLogger(__name__)


class SimulationError(ValueError):
    pass


@dataclass
class Broker:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: MqttTls | None = None  # MQTT over TLS (contracts.tls), as a real device on the site would


def _connect(broker: Broker, client_id: str, will: tuple[str, bytes] | None = None) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    context = broker.tls.tls_context() if broker.tls else None
    if context is not None:
        client.tls_set_context(context)
    if will:
        client.will_set(will[0], will[1], qos=1, retain=True)
    try:
        client.connect(broker.host, broker.port, keepalive=30)
    except OSError as exc:  # refused, unreachable, TLS handshake failed
        raise SimulationError(f"cannot connect to the broker at {broker.host}:{broker.port}: {exc}") from None
    client.loop_start()
    return client


def _publish(client: mqtt.Client, topic: str, payload: bytes, retain: bool = False) -> None:
    info = client.publish(topic, payload, qos=1, retain=retain)
    try:
        info.wait_for_publish(timeout=10)
    except RuntimeError as exc:  # the broker closed the connection (e.g. no client certificate)
        raise SimulationError(f"the broker dropped the connection before {topic} went out: {exc}") from None
    if not info.is_published():
        raise SimulationError(f"broker did not acknowledge the publish on {topic}")


HAZARD_FOR_SENSOR = {
    SensorKind.SMOKE: (
        HazardType.SMOKE_ALARM,
        Measurement(quantity="smoke_density", value=0.32, unit=Unit.DB_PER_M),
    ),
    SensorKind.COMBUSTIBLE_GAS: (
        HazardType.GAS_LEAK,
        Measurement(quantity="gas", value=38.0, unit=Unit.PERCENT_LEL),
    ),
    SensorKind.TOXIC_GAS: (HazardType.GAS_LEAK, Measurement(quantity="co", value=180.0, unit=Unit.PPM)),
}


def sensor_alarm(
    site: Site,
    device_id: str,
    broker: Broker,
    state_dir: Path,
    state: EventState = EventState.NEW,
    severity: Severity = Severity.CRITICAL,
    episode_id: str | None = None,
    clock: Clock | None = None,
) -> HazardEvent:
    """Publish one sensor alarm as the edge node that hosts the sensor would."""
    now = (clock or SystemClock()).now()
    found = site.device(device_id)
    if found is None or not isinstance(found[1], Sensor):
        sensors = sorted(d for n in site.nodes.values() for d in (s.id for s in n.sensors))
        raise SimulationError(f"no sensor {device_id!r} in the site; sensors: {', '.join(sensors)}")
    node_id, sensor = found
    if sensor.kind not in HAZARD_FOR_SENSOR:
        raise SimulationError(f"sensor {device_id!r} is a {sensor.kind.value} sensor; no alarm to simulate")
    hazard, reading = HAZARD_FOR_SENSOR[sensor.kind]
    seq = FileSequence(state_dir, node_id)
    event = HazardEvent(
        source=node_id,
        seq=seq.next(),
        ts=now,
        hazard_type=hazard,
        severity=severity,
        confidence=0.95,
        state=state,
        episode_id=episode_id or new_id(),
        device_id=sensor.id,
        location=sensor.location,
        rule=f"{sensor.kind.value}_threshold",
        summary=f"{sensor.name or sensor.id}: {reading.quantity} {reading.value:g} {reading.unit.value}",
        readings=[reading],
    )
    client = _connect(broker, f"{node_id}-sim")
    try:
        status = NodeStatus(source=node_id, seq=seq.next(), ts=now, state="online", reason="simulator")
        _publish(client, topics.node_status(node_id), encode(status), retain=True)
        _publish(client, topics.node_event(node_id), encode(event))
    finally:
        client.disconnect()
        client.loop_stop()
    log.info("published %s from %s via %s", hazard.value, device_id, node_id)
    return event


def worker_fix(
    worker_id: str,
    location: GeoPoint,
    broker: Broker,
    state_dir: Path,
    on_patrol: bool = True,
    clock: Clock | None = None,
) -> LocationFix:
    """Publish one location fix as the worker's phone would."""
    fix = LocationFix(
        source=worker_id,
        ts=(clock or SystemClock()).now(),
        seq=FileSequence(state_dir, worker_id).next(),
        worker_id=worker_id,
        location=location,
        accuracy_m=8,
        on_patrol=on_patrol,
    )
    # A phone's client id is its worker id: the dynamic-security plugin (and the field listener's
    # use_username_as_clientid) bind it to the login (docs/broker-access.md).
    client = _connect(broker, worker_id)
    try:
        _publish(client, topics.worker_location(worker_id), encode(fix))
    finally:
        client.disconnect()
        client.loop_stop()
    return fix
