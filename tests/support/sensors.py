"""Sensors and their readings, built for tests."""

from __future__ import annotations

from contracts import (
    GeoPoint,
    Measurement,
    SensorReading,
    Unit,
)
from contracts.site.models import Sensor

NODE = "node-t"


HERE = GeoPoint(lon=120.31, lat=31.49)


def sensor(kind: str = "combustible_gas", **extra: object) -> Sensor:
    source = extra.pop(
        "source",
        {"protocol": "modbus_tcp", "host": "127.0.0.1", "value": {"address": 0, "unit": "%LEL"}},
    )
    return Sensor.model_validate(
        {"id": "s-1", "kind": kind, "location": HERE, "source": source, "report_interval_s": 60, **extra}
    )


def reading(value: float) -> SensorReading:
    return SensorReading(
        source=NODE,
        seq=0,
        device_id="gas-1",
        measurements=[Measurement(quantity="gas", value=value, unit=Unit.PERCENT_LEL)],
    )
