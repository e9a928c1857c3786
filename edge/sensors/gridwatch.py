"""Sensors that publish GridWatch's own contract: ``gridwatch/v1/device/<id>/reading``
(SensorReading) and ``.../status`` (DeviceStatus). The gateway reads those topics
too, so the node does not repeat the readings; it runs the alarm logic on them."""

from __future__ import annotations

from datetime import datetime

from contracts import Availability, ContractError, DeviceFlag, DeviceStatus, SensorReading, decode, topics
from contracts.site.models import GridWatchSource, Sensor
from edge.sensors.observation import Observation
from edge.sensors.zigbee2mqtt import BadInput

ALL_FLAGS = frozenset(DeviceFlag)


def subscriptions(sensors: list[Sensor]) -> dict[str, Sensor]:
    """topic -> sensor, for every GridWatch-speaking sensor."""
    out: dict[str, Sensor] = {}
    for s in sensors:
        if isinstance(s.source, GridWatchSource):
            out[topics.device_topic(s.id, topics.Channel.READING)] = s
            out[topics.device_topic(s.id, topics.Channel.STATUS)] = s
    return out


def parse(sensor: Sensor, topic: str, payload: bytes, at: datetime) -> Observation | tuple[bool, str]:
    """An Observation for a reading, or (online, reason) for a status; BadInput if invalid."""
    try:
        message = decode(topic, payload)
    except ContractError as exc:
        raise BadInput(exc.reason, exc.detail) from None
    if isinstance(message, SensorReading):
        # The contract's flag list is the whole state: a flag not listed is false.
        return Observation(sensor.id, at, tuple(message.measurements), frozenset(message.flags), ALL_FLAGS)
    if isinstance(message, DeviceStatus):
        return message.state is not Availability.OFFLINE, message.reason or "the device says offline"
    raise BadInput("wrong_kind", f"{message.kind} is not a sensor message")
