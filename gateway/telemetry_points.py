"""Sensor readings and edge health as InfluxDB points (line protocol through influxdb-client).

Measurements (VictoriaMetrics names them ``<measurement>_<field>``):

- ``sensor``: one point per reading; tags ``device_id``, ``source``; a field per
  measured quantity (``smoke_density``, ``gas``, ``battery`` …) and ``flag_<name>`` = 1
  for each device flag (alarm, test, tamper …).
- ``edge``: node health; tag ``source``; uptime, outbox depth and age, evicted
  telemetry, detector loaded, camera/sensor/warning counts.
- ``camera``: per camera in a health report; tags ``source``, ``camera_id``, ``state``.
- ``sensor_health``: per sensor in a health report; tags ``source``, ``device_id``, ``state``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts import EdgeHealth, SensorReading

if TYPE_CHECKING:
    from influxdb_client import Point


def _ms(message: SensorReading | EdgeHealth) -> int:
    return int(message.ts.timestamp() * 1000)


def points(message: SensorReading | EdgeHealth) -> list[Point]:
    # Imported here: a gateway without a time-series store (the default) never loads the client.
    from influxdb_client import Point, WritePrecision

    if isinstance(message, SensorReading):
        p = Point("sensor").tag("device_id", message.device_id).tag("source", message.source)
        for m in message.measurements:
            p.field(m.quantity, float(m.value))
        for flag in message.flags:
            p.field(f"flag_{flag.value}", 1)
        if not message.measurements and not message.flags:
            p.field("seen", 1)  # a point needs a field; "the sensor reported" is worth keeping
        return [p.time(_ms(message), WritePrecision.MS)]
    ts = _ms(message)
    edge = (
        Point("edge")
        .tag("source", message.source)
        .field("uptime_s", float(message.uptime_s))
        .field("cameras", len(message.cameras))
        .field("sensors", len(message.sensors))
        .field("warnings", len(message.warnings))
    )
    if message.outbox is not None:
        edge.field("outbox_depth", message.outbox.depth)
        edge.field("outbox_oldest_unsent_age_s", float(message.outbox.oldest_unsent_age_s))
        edge.field("outbox_evicted_total", message.outbox.evicted_total)
    if message.detector is not None:
        edge.field("detector_loaded", int(message.detector.loaded))
    out = [edge.time(ts, WritePrecision.MS)]
    for cam in message.cameras:
        out.append(
            Point("camera")
            .tag("source", message.source)
            .tag("camera_id", cam.camera_id)
            .tag("state", cam.state)
            .field("frames_in", cam.frames_in)
            .field("frames_analysed", cam.frames_analysed)
            .field("frames_dropped", cam.frames_dropped)
            .field("decode_ms", float(cam.decode_ms))
            .field("inference_ms", float(cam.inference_ms))
            .field("queue_depth", cam.queue_depth)
            .time(ts, WritePrecision.MS)
        )
    for sensor in message.sensors:
        p = (
            Point("sensor_health")
            .tag("source", message.source)
            .tag("device_id", sensor.device_id)
            .tag("state", sensor.state)
            .field("ok", int(sensor.state == "ok"))
        )
        if sensor.last_seen is not None:
            p.field("last_seen_age_s", max(0.0, (message.ts - sensor.last_seen).total_seconds()))
        out.append(p.time(ts, WritePrecision.MS))
    return out


def line_protocol(message: SensorReading | EdgeHealth) -> list[str]:
    if isinstance(message, SensorReading):
        return [sensor_line(message)]
    return [p.to_line_protocol() for p in points(message)]


def sensor_line(reading: SensorReading) -> str:
    """:func:`points`' line for a reading, written directly: influxdb-client's ``Point`` costs
    ~15 µs a reading of the writer thread's (and so the gateway's one interpreter's) time, this
    ~3 µs. Same text (tests/gateway/test_telemetry_lines.py compares them): tags and field keys
    are contract identifiers (nothing to escape), fields in key order, a float's trailing ".0"
    dropped, integers with their "i", the contract's floats are finite."""
    fields: dict[str, float | int] = {m.quantity: float(m.value) for m in reading.measurements}
    for flag in reading.flags:
        fields[f"flag_{flag.value}"] = 1
    if not fields:
        fields["seen"] = 1
    parts = []
    for key in sorted(fields):
        value = fields[key]
        if type(value) is float:
            text = repr(value)
            parts.append(f"{key}={text[:-2] if text.endswith('.0') else text}")
        else:
            parts.append(f"{key}={value}i")
    return f"sensor,device_id={reading.device_id},source={reading.source} {','.join(parts)} {_ms(reading)}"
