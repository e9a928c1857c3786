"""The first hour of a new user: the rough edges of issue 18, each against the real thing.

A real Mosquitto and real edge nodes of the demo site; the real command line, run from a
directory that is not the checkout."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.clock import ManualClock
from contracts.site import load_site
from edge.simulator import Broker
from gridwatch.broker import Mosquitto
from gridwatch.demo_devices import DemoDevices
from tests.support.paths import DEMO_SITE, SHARED
from tests.support.processes.edge_node import edge_settings, running_node
from tests.support.processes.gateway import run_gridwatch
from tests.support.waiting import wait_until

GAS = "gas-restaurant-3"  # GridWatch-speaking, report_interval_s 60: offline after 120 s of silence


def test_the_demo_gas_detector_keeps_reporting_so_its_node_never_takes_it_offline(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    site = load_site(DEMO_SITE)
    clock = ManualClock(datetime(2026, 12, 2, 2, 0, tzinfo=UTC))
    with running_node(site.nodes["node-donghu-1"], edge_settings(mosquitto, tmp_path), clock=clock) as node:
        engine = node.sensors.engines[GAS]
        devices = DemoDevices(site, Broker(mosquitto.host, mosquitto.port), clock=clock)
        try:
            devices.gas_reading(GAS, 32.0)
            wait_until(lambda: engine.last_seen == clock.now(), what="the first reading at the node")
            for _ in range(10):  # five report intervals
                clock.advance(30)
                assert GAS in devices.report_due()
                wait_until(lambda: engine.last_seen == clock.now(), what="the repeated reading")
                node.sensors.tick()
                assert node.sensors.engines[GAS].offline_reason is None
            states = {s.device_id: s.state for s in node.sensors.health()}
            assert states[GAS] == "alarm"  # still the 32 %LEL it reported, not "silent"
        finally:
            devices.close()
        # what the demo did before: one reading, then silence -> offline (a maintenance case)
        clock.advance(121)
        node.sensors.tick()
        assert {s.device_id: s.state for s in node.sensors.health()}[GAS] == "silent"


def test_a_zigbee2mqtt_device_of_another_node_is_reported_with_the_node_that_ignores_it(
    mosquitto: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site = load_site(DEMO_SITE)
    caplog.set_level(logging.INFO, logger="edge.sensors")
    with running_node(site.nodes["node-donghu-1"], edge_settings(mosquitto, tmp_path)):
        devices = DemoDevices(site, Broker(mosquitto.host, mosquitto.port))
        try:
            devices.zigbee_smoke("smk-factory-a1")  # a sensor of node-gongye-1 on the shared zigbee2mqtt
            record = wait_until(
                lambda: next((r for r in caplog.records if "factory_a_smoke_1" in r.getMessage()), None),
                what="the donghu node's log line",
            )
        finally:
            devices.close()
    assert "node node-donghu-1 ignores zigbee2mqtt device 'factory_a_smoke_1'" in record.getMessage()
    assert record.node_id == "node-donghu-1"  # type: ignore[attr-defined]


def test_read_only_commands_create_no_files(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (("deadletters", "list"), ("deadletters", "show", "1"), ("db", "status")):
        done = run_gridwatch(*args, cwd=elsewhere)
        assert done.returncode == 2, (args, done)
        assert "no GridWatch store at" in done.stderr and "--db" in done.stderr, done.stderr
    assert list(elsewhere.iterdir()) == []  # no gridwatch.db appeared


def test_models_list_finds_the_weights_the_demo_uses(tmp_path: Path) -> None:
    done = run_gridwatch("models", "list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("yolox_nano "))
    assert f": ok ({SHARED / 'models'}" in line, done.stdout
