"""Sensor wiring mistakes in a node file are reported by the loader (and so by `config check`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from contracts.site import SiteConfigError, load_node_config

HERE = {"lon": 120.3186, "lat": 31.4969}


def write(tmp_path: Path, sensors: list[dict]) -> Path:
    path = tmp_path / "node-c.yaml"
    path.write_text(yaml.safe_dump({"node": {"id": "node-c", "location": HERE}, "sensors": sensors}))
    return path


def z2m(sensor_id: str, name: str) -> dict:
    return {
        "id": sensor_id,
        "kind": "smoke",
        "location": HERE,
        "source": {"protocol": "zigbee2mqtt", "friendly_name": name},
    }


def rtu(sensor_id: str, baud: int, unit: int) -> dict:
    return {
        "id": sensor_id,
        "kind": "combustible_gas",
        "location": HERE,
        "source": {
            "protocol": "modbus_rtu",
            "serial_port": "/dev/ttyUSB0",
            "baudrate": baud,
            "unit_id": unit,
            "value": {"address": 0, "unit": "%LEL"},
        },
    }


def test_two_sensors_on_one_zigbee2mqtt_device_and_two_speeds_on_one_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, [z2m("smk-a", "hall"), z2m("smk-b", "hall"), rtu("gas-a", 9600, 1), rtu("gas-b", 19200, 2)]
    )
    with pytest.raises(SiteConfigError) as info:
        load_node_config(path)
    found = {(p.where, p.message) for p in info.value.problems}
    assert ("sensors[smk-b].source.friendly_name", "'hall' is also sensors[smk-a]") in found
    assert any(
        w == "sensors[gas-b].source.baudrate" and "differs from sensors[gas-a] (9600)" in m for w, m in found
    )


def test_modbus_register_in_another_unit_than_the_thresholds(tmp_path: Path) -> None:
    sensor = rtu("gas-v", 9600, 1)
    sensor["source"]["value"]["unit"] = "%VOL"
    with pytest.raises(SiteConfigError) as info:
        load_node_config(write(tmp_path, [sensor]))
    [problem] = info.value.problems
    assert problem.where.startswith("sensors") and "thresholds are in '%LEL'" in problem.message
