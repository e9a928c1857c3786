"""Prometheus metrics of the sensor side of an edge node."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

BAD_INPUT = Counter(
    "gridwatch_edge_sensor_bad_input_total",
    "Device messages or polls that could not be used, by device and reason",
    ["device_id", "reason"],
)
OBSERVATIONS = Counter(
    "gridwatch_edge_sensor_observations_total", "Usable reports from sensors, by input", ["protocol"]
)
EVENTS = Counter(
    "gridwatch_edge_sensor_events_total",
    "Hazard and maintenance events raised, by type and state",
    ["hazard_type", "state"],
)
ALARM_LEVEL = Gauge(
    "gridwatch_edge_sensor_alarm_level",
    "Alarm in force per sensor: -1 none, 0 info, 1 minor, 2 major, 3 critical",
    ["device_id"],
)
MODBUS_POLL_SECONDS = Gauge(
    "gridwatch_edge_modbus_last_poll_seconds", "Duration of the last Modbus poll, by device", ["device_id"]
)
