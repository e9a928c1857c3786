"""Sensors at the edge node: inputs (zigbee2mqtt, Modbus TCP/RTU, GridWatch's own
contract) turn device data into :class:`Observation`; :class:`SensorAlarm` decides
calmly when that is an alarm or a maintenance trouble; :class:`SensorService`
emits events, readings and statuses through the outbox and signals the video
side through the fusion hub."""

from edge.sensors.alarm import Change, SensorAlarm
from edge.sensors.observation import Observation
from edge.sensors.service import SensorService

__all__ = ["Change", "Observation", "SensorAlarm", "SensorService"]
