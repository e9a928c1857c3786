"""Modbus gas detectors: a pymodbus server in the test is the detector; a real node polls it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from contracts import HazardEvent, HazardType, SensorReading
from contracts.clock import SystemClock
from edge.emit import ListEmitter
from edge.fusion import SensorSignal
from edge.sensors.modbus import ModbusPoller, lines_for
from edge.sensors.service import SensorService
from gridwatch.broker import Mosquitto, free_port
from tests.support.brokers.edge_mqtt import DurableSubscriber
from tests.support.devices.gas_detector import GasDetector, SerialLine
from tests.support.processes.edge_node import edge_settings, node_config, running_node
from tests.support.waiting import wait_until

NODE = "node-m"
FAST = {"poll_interval_s": 0.1, "timeout_s": 0.3, "retries": 0, "offline_after_failures": 3}
STATUS = {"table": "holding", "address": 1, "alarm_bit": 0, "fault_bit": 1, "warmup_bit": 2}


def modbus_sensor(sensor_id: str, detector: GasDetector, **overrides: Any) -> dict[str, Any]:
    source = {
        "protocol": "modbus_tcp",
        "host": "127.0.0.1",
        "port": detector.port,
        "unit_id": 1,
        "value": {"table": "holding", "address": 0, "type": "uint16", "scale": 0.1, "unit": "%LEL"},
        "status": STATUS,
        **FAST,
        **overrides.pop("source", {}),
    }
    return {
        "id": sensor_id,
        "kind": "combustible_gas",
        "source": source,
        "report_interval_s": 60,
        **overrides,
    }


@pytest.fixture
def detector() -> Iterator[GasDetector]:
    d = GasDetector().start()
    yield d
    d.close()


@pytest.fixture
def uplink(mosquitto: Mosquitto) -> Iterator[DurableSubscriber]:
    sub = DurableSubscriber(mosquitto, f"gridwatch/v1/node/{NODE}/#")
    yield sub
    sub.close()


def events(sub: DurableSubscriber, device: str) -> list[tuple[str, str, str]]:
    return [
        (e.hazard_type.value, e.state.value, e.severity.value)
        for e in (r.message for r in sub.messages(HazardEvent))
        if e.device_id == device
    ]


def settle(sub: DurableSubscriber, device: str, count: int) -> list[tuple[str, str, str]]:
    wait_until(lambda: len(events(sub, device)) >= count, timeout=10, what=f"{count} events from {device}")
    return events(sub, device)


def test_gas_rising_then_falling_then_a_silent_detector(
    mosquitto: Mosquitto, detector: GasDetector, uplink: DurableSubscriber, tmp_path: Path
) -> None:
    config = node_config(NODE, [modbus_sensor("gas-b1", detector, near_cameras=[])])
    detector.set(lel=12.0)
    with running_node(config, edge_settings(mosquitto, tmp_path)) as node:
        signals: list[SensorSignal] = []
        node.fusion.subscribe(signals.append)
        wait_until(lambda: [r for r in uplink.messages(SensorReading)], what="a reading")
        reading = uplink.messages(SensorReading)[0].message
        assert (reading.measurements[0].value, reading.measurements[0].unit.value) == (12.0, "%LEL")

        detector.set(lel=26.0)
        assert settle(uplink, "gas-b1", 1) == [("gas_leak", "new", "major")]
        detector.set(lel=51.5)
        assert settle(uplink, "gas-b1", 2)[-1] == ("gas_leak", "update", "critical")
        detector.set(lel=22.0)  # under 25 but above 80 % of it: the alarm holds, as major
        assert settle(uplink, "gas-b1", 3)[-1] == ("gas_leak", "update", "major")
        detector.set(lel=15.0)
        assert settle(uplink, "gas-b1", 4)[-1] == ("gas_leak", "clear", "major")
        first = next(r.message for r in uplink.messages(HazardEvent))
        assert first.readings[0].value == 26.0 and "gas 26 %LEL" in first.summary

        detector.stop()  # the detector stops answering
        assert settle(uplink, "gas-b1", 5)[-1] == ("device_offline", "new", "major")
        offline = [r.message for r in uplink.messages(HazardEvent)][-1]
        assert "no Modbus answer for 3 polls" in offline.summary
        health = next(s for s in node.health().sensors if s.device_id == "gas-b1")
        assert health.state == "offline"

        detector.start()
        assert settle(uplink, "gas-b1", 6)[-1] == ("device_offline", "clear", "major")
        assert not signals, "no cameras near this sensor: nothing for the video side"


def test_status_bits_alarm_fault_and_warmup(
    mosquitto: Mosquitto, detector: GasDetector, uplink: DurableSubscriber, tmp_path: Path
) -> None:
    config = node_config(NODE, [modbus_sensor("gas-b1", detector)])
    with running_node(config, edge_settings(mosquitto, tmp_path)):
        detector.set(lel=70.0, status=0b100)  # warming up: readings are not trusted yet
        wait_until(lambda: len(uplink.messages(SensorReading)) >= 1)
        detector.set(lel=3.0, status=0b000)
        detector.set(lel=3.0, status=0b001)  # the detector's own alarm output
        assert settle(uplink, "gas-b1", 1) == [("gas_leak", "new", "major")]
        detector.set(status=0b010)  # trouble: a fault, and its alarm output went off
        got = settle(uplink, "gas-b1", 3)
        assert ("device_fault", "new", "major") in got and ("gas_leak", "clear", "major") in got
        detector.set(status=0)
        assert settle(uplink, "gas-b1", 4)[-1] == ("device_fault", "clear", "major")


def test_a_register_map_that_does_not_match_the_device_is_a_fault_not_an_alarm(
    mosquitto: Mosquitto, detector: GasDetector, uplink: DurableSubscriber, tmp_path: Path
) -> None:
    sensors = [
        # Address 40 does not exist on the device: exception 2 (illegal data address).
        modbus_sensor(
            "gas-wrong-addr", detector, source={"value": {"address": 40, "unit": "%LEL"}, "status": None}
        ),
        # float32 read as int32 with the wrong scale: an absurd value, not a 1e9 %LEL leak.
        modbus_sensor(
            "gas-wrong-type",
            detector,
            source={
                "value": {"table": "input", "address": 0, "type": "int32", "unit": "%LEL"},
                "status": None,
            },
        ),
        # The same line, mapped right: still polled, still alarms.
        modbus_sensor(
            "gas-right",
            detector,
            source={
                "value": {"table": "input", "address": 0, "type": "float32", "unit": "%LEL"},
                "status": None,
            },
        ),
    ]
    with running_node(node_config(NODE, sensors), edge_settings(mosquitto, tmp_path)) as node:
        detector.set(lel=30.0)
        assert settle(uplink, "gas-wrong-addr", 1) == [("device_fault", "new", "major")]
        assert settle(uplink, "gas-wrong-type", 1) == [("device_fault", "new", "major")]
        assert settle(uplink, "gas-right", 1) == [("gas_leak", "new", "major")]
        faults = {e.device_id: e.summary for e in (r.message for r in uplink.messages(HazardEvent))}
        assert "exception 2 (illegal data address)" in faults["gas-wrong-addr"]
        assert "register map does not match" in faults["gas-wrong-addr"]
        assert "check type, scale and word_order" in faults["gas-wrong-type"]
        by_id = {s.device_id: s for s in node.health().sensors}
        assert by_id["gas-wrong-addr"].state == "fault" and "bad input" in by_id["gas-wrong-addr"].error
        assert by_id["gas-right"].state == "alarm"
        assert not [e for e in events(uplink, "gas-wrong-type") if e[0] == HazardType.GAS_LEAK.value]


def test_rtu_detector_on_a_serial_line(
    mosquitto: Mosquitto, uplink: DurableSubscriber, tmp_path: Path
) -> None:
    line = SerialLine(tmp_path)
    detector = GasDetector(serial_port=line.device_end)
    try:
        detector.start()
        sensor = {
            "id": "gas-rtu-1",
            "kind": "combustible_gas",
            "report_interval_s": 60,
            "source": {
                "protocol": "modbus_rtu",
                "serial_port": line.node_end,
                "baudrate": 9600,
                "unit_id": 1,
                "value": {"address": 0, "scale": 0.1, "unit": "%LEL"},
                "poll_interval_s": 0.2,
                "timeout_s": 0.5,
                "retries": 1,
            },
        }
        with running_node(node_config(NODE, [sensor]), edge_settings(mosquitto, tmp_path / "state")):
            detector.set(lel=31.0)
            assert settle(uplink, "gas-rtu-1", 1) == [("gas_leak", "new", "major")]
    finally:
        detector.close()
        line.close()


def test_a_detector_that_cannot_be_reached_is_logged_by_us_with_its_id_and_by_pymodbus_only_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()  # nothing listens there
    config = node_config(NODE, [modbus_sensor("gas-gone", SimpleNamespace(port=port))])  # type: ignore[arg-type]
    service = SensorService(config, ListEmitter(NODE), clock=SystemClock())
    [line] = lines_for(config)
    poller = ModbusPoller(line, service, SystemClock())
    try:
        with caplog.at_level(logging.DEBUG, logger="pymodbus"):
            poller.poll_once(line.polled[0])
        from_pymodbus = [r for r in caplog.records if r.name.startswith("pymodbus")]
        assert from_pymodbus and all(r.levelno == logging.DEBUG for r in from_pymodbus)
        assert f"{port}" in from_pymodbus[0].getMessage()

        caplog.clear()
        with caplog.at_level(logging.INFO):
            for _ in range(2):
                poller.poll_once(line.polled[0])
        loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert loud and all(r.name.startswith("edge.") for r in loud), [(r.name, r.message) for r in loud]
        assert (
            getattr(loud[0], "device_id", None) == "gas-gone" and f"127.0.0.1:{port}" in loud[0].getMessage()
        )
    finally:
        poller.stop()
