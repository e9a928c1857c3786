"""zigbee2mqtt detectors and GridWatch-speaking sensors through a real Mosquitto and a real node."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts import (
    DeviceFlag,
    DeviceStatus,
    HazardEvent,
    HazardType,
    Measurement,
    SensorReading,
    Unit,
    encode,
    topics,
)
from edge.node import EdgeNode
from gridwatch.broker import Mosquitto
from tests.support.brokers.edge_mqtt import DurableSubscriber
from tests.support.brokers.mqtt import publisher
from tests.support.processes.edge_node import edge_settings, node_config, running_node
from tests.support.waiting import wait_until

FIXTURES = Path(__file__).parent / "fixtures"
NODE = "node-z"
SENSORS = [
    {
        "id": "smk-1",
        "kind": "smoke",
        "source": {"protocol": "zigbee2mqtt", "friendly_name": "rental_12_smoke"},
        "report_interval_s": 3600,
    },
    {
        "id": "gas-1",
        "kind": "combustible_gas",
        "source": {"protocol": "zigbee2mqtt", "friendly_name": "kitchen_gas"},
        "report_interval_s": 3600,
    },
    {
        "id": "gas-gw-1",
        "kind": "combustible_gas",
        "source": {"protocol": "gridwatch"},
        "report_interval_s": 60,
    },
]


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


@pytest.fixture
def node(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[EdgeNode]:
    with running_node(node_config(NODE, SENSORS), edge_settings(mosquitto, tmp_path / "state")) as n:
        yield n
        # The test is over: its events await a gateway's receipt that never comes here, and the
        # stop's flush (3 s) would only wait for it.
        n.outbox.uplink.flush_on_stop_s = 0


@pytest.fixture
def uplink(mosquitto: Mosquitto) -> Iterator[DurableSubscriber]:
    sub = DurableSubscriber(mosquitto, f"gridwatch/v1/node/{NODE}/#")
    yield sub
    sub.close()


@pytest.fixture
def z2m(mosquitto: Mosquitto):  # type: ignore[no-untyped-def]
    client = publisher(mosquitto, "zigbee2mqtt-bridge")

    def send(topic: str, payload: bytes | str, retain: bool = False) -> None:
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    yield send
    client.disconnect()
    client.loop_stop()


def events(
    sub: DurableSubscriber, device: str, hazard: HazardType | None = None
) -> list[tuple[str, str, str]]:
    return [
        (e.hazard_type.value, e.state.value, e.severity.value)
        for e in (r.message for r in sub.messages(HazardEvent))
        if e.device_id == device and (hazard is None or e.hazard_type is hazard)
    ]


def gas_reading(seq: int, value: float) -> SensorReading:
    """What the GridWatch-speaking gas detector gas-gw-1 publishes: one %LEL reading."""
    return SensorReading(
        source="gas-gw-1",
        seq=seq,
        device_id="gas-gw-1",
        measurements=[Measurement(quantity="gas", value=value, unit=Unit.PERCENT_LEL)],
    )


def test_smoke_and_gas_detectors_raise_the_right_alarms_and_clear(
    node: EdgeNode, uplink: DurableSubscriber, z2m
) -> None:
    z2m("zigbee2mqtt/rental_12_smoke", fixture("heiman_hs1sa_smoke_alarm"))
    z2m("zigbee2mqtt/kitchen_gas", fixture("heiman_hs1cg_gas_alarm"))
    wait_until(lambda: events(uplink, "smk-1") and events(uplink, "gas-1"), what="both alarms")
    assert events(uplink, "smk-1") == [("smoke_alarm", "new", "critical")]
    assert events(uplink, "gas-1") == [("gas_leak", "new", "major")]
    smoke = next(r.message for r in uplink.messages(HazardEvent) if r.message.device_id == "smk-1")
    assert smoke.location is not None and smoke.rule == "smoke_detector_alarm"
    assert {m.quantity for m in smoke.readings} >= {"smoke", "smoke_density"}

    z2m("zigbee2mqtt/rental_12_smoke", fixture("heiman_hs1sa_smoke_clear"))
    z2m("zigbee2mqtt/kitchen_gas", fixture("heiman_hs1cg_gas_clear"))
    wait_until(lambda: len(events(uplink, "smk-1")) == 2 and len(events(uplink, "gas-1")) == 2)
    assert events(uplink, "smk-1")[-1] == ("smoke_alarm", "clear", "critical")
    assert events(uplink, "gas-1")[-1] == ("gas_leak", "clear", "major")

    readings = [r.message for r in uplink.messages(SensorReading) if r.message.device_id == "smk-1"]
    assert readings and readings[0].measurements[0].quantity == "smoke"
    battery = next(m for m in readings[0].measurements if m.quantity == "battery")
    assert (battery.value, battery.unit) == (83, Unit.PERCENT)


def test_self_test_raises_nothing_and_low_battery_is_maintenance(
    node: EdgeNode, uplink: DurableSubscriber, z2m
) -> None:
    z2m("zigbee2mqtt/rental_12_smoke", fixture("heiman_hs1sa_smoke_selftest"))
    z2m("zigbee2mqtt/rental_12_smoke", fixture("heiman_hs1sa_smoke_clear"))
    z2m("zigbee2mqtt/rental_12_smoke", fixture("heiman_hs1sa_smoke_battery_low"))
    wait_until(lambda: events(uplink, "smk-1"), what="the low-battery event")
    assert events(uplink, "smk-1") == [("low_battery", "new", "minor")]
    event = next(r.message for r in uplink.messages(HazardEvent))
    assert event.category == "maintenance"
    wait_until(
        lambda: len([r for r in uplink.messages(SensorReading) if r.message.device_id == "smk-1"]) == 3
    )
    flagged = [r.message.flags for r in uplink.messages(SensorReading) if r.message.device_id == "smk-1"]
    assert DeviceFlag.TEST in flagged[0] and DeviceFlag.BATTERY_LOW in flagged[2]


def test_availability_offline_and_online_both_payload_styles(
    node: EdgeNode, uplink: DurableSubscriber, z2m
) -> None:
    z2m("zigbee2mqtt/kitchen_gas/availability", json.dumps({"state": "offline"}), retain=True)
    wait_until(lambda: events(uplink, "gas-1"), what="offline event")
    assert events(uplink, "gas-1") == [("device_offline", "new", "major")]
    status_topic = topics.node_device_status(NODE, "gas-1")
    wait_until(lambda: [r for r in uplink.messages(DeviceStatus) if r.topic == status_topic])
    assert [r.message.state for r in uplink.messages(DeviceStatus) if r.topic == status_topic][
        -1
    ] == "offline"
    z2m("zigbee2mqtt/kitchen_gas/availability", "online", retain=True)  # zigbee2mqtt before 1.22
    wait_until(lambda: len(events(uplink, "gas-1")) == 2)
    assert events(uplink, "gas-1")[-1] == ("device_offline", "clear", "major")


def test_bad_input_is_counted_per_device_and_the_node_keeps_working(
    node: EdgeNode, uplink: DurableSubscriber, z2m
) -> None:
    z2m("zigbee2mqtt/kitchen_gas", b"{not json")
    z2m("zigbee2mqtt/kitchen_gas", json.dumps({"gas": "yes", "linkquality": 30}))
    z2m("zigbee2mqtt/kitchen_gas", json.dumps([1, 2]))
    z2m("zigbee2mqtt/garage_door", json.dumps({"contact": True}))  # a device this node does not know
    z2m("zigbee2mqtt/kitchen_gas/availability", json.dumps({"state": "sleeping"}))
    z2m("zigbee2mqtt/bridge/state", json.dumps({"state": "online"}))  # bridge traffic: not a device
    z2m("zigbee2mqtt/kitchen_gas/set", json.dumps({"gas": True}))  # a command to the device: ignored
    z2m("zigbee2mqtt/kitchen_gas", fixture("heiman_hs1cg_gas_alarm"))
    wait_until(lambda: events(uplink, "gas-1"), what="the valid alarm after the bad input")
    assert events(uplink, "gas-1") == [("gas_leak", "new", "major")]

    gas = next(s for s in node.health().sensors if s.device_id == "gas-1")
    assert "4 bad input(s)" in gas.error and "availability state 'sleeping'" in gas.error
    health = node.health()
    assert any("1 sensor message(s) from unknown devices" in w for w in health.warnings), health.warnings


def test_gridwatch_contract_sensor_alarms_on_its_own_readings(
    node: EdgeNode, uplink: DurableSubscriber, mosquitto: Mosquitto
) -> None:
    device = publisher(mosquitto, "gas-gw-1")
    topic = topics.device_topic("gas-gw-1", topics.Channel.READING)
    try:
        for seq, value in enumerate((5.0, 27.0, 55.0), start=1):
            device.publish(topic, encode(gas_reading(seq, value)), qos=1).wait_for_publish(5)
        device.publish(topic, b'{"kind": "sensor_reading"}', qos=1).wait_for_publish(5)
        wait_until(lambda: len(events(uplink, "gas-gw-1")) == 2, what="major then critical")
        assert events(uplink, "gas-gw-1") == [
            ("gas_leak", "new", "major"),
            ("gas_leak", "update", "critical"),
        ]
        wait_until(
            lambda: "bad input" in next(s for s in node.health().sensors if s.device_id == "gas-gw-1").error
        )
        # The device's readings reach the gateway on its own topic; the node does not repeat them.
        assert not [r for r in uplink.messages(SensorReading) if r.message.device_id == "gas-gw-1"]
    finally:
        device.disconnect()
        device.loop_stop()


def test_a_reading_no_gas_detector_can_give_is_a_fault_not_a_leak(
    node: EdgeNode, uplink: DurableSubscriber, mosquitto: Mosquitto
) -> None:
    """A detector in trouble often reports its register's all-ones (0xFFFF: 6553.5 %LEL at 0.1
    %LEL a count) or a large negative number. The Modbus poller has long called that a fault;
    a detector speaking GridWatch (or through zigbee2mqtt) raised a critical gas leak on it and
    sent a grid worker running. Outside the unit's plausible range, a reading is the device's
    fault (maintenance), whatever protocol it came by; a real reading after it still alarms."""
    device = publisher(mosquitto, "gas-gw-1")
    topic = topics.device_topic("gas-gw-1", topics.Channel.READING)
    seq = 0

    def send(value: float) -> None:
        nonlocal seq
        seq += 1
        device.publish(topic, encode(gas_reading(seq, value)), qos=1).wait_for_publish(5)

    def health() -> str:
        return next(s for s in node.health().sensors if s.device_id == "gas-gw-1").error

    try:
        for value in (0xFFFF / 10, 0xFFFF / 10, -3276.8):
            send(value)
        wait_until(lambda: "-3276.8" in health(), what="the detector's fault in its health")
        send(3.0)  # a sound reading again: the fault clears, no leak
        wait_until(
            lambda: ("device_fault", "clear", "major") in events(uplink, "gas-gw-1"), what="the fault cleared"
        )
        send(55.0)
        wait_until(lambda: events(uplink, "gas-gw-1", HazardType.GAS_LEAK), what="a real leak")
        *fault, leak = events(uplink, "gas-gw-1")
        assert fault[0] == ("device_fault", "new", "major") and fault[-1] == (
            "device_fault",
            "clear",
            "major",
        )
        assert {kind for kind, _, _ in fault} == {"device_fault"}  # the fault's readings raised no leak
        assert leak == ("gas_leak", "new", "critical")
    finally:
        device.disconnect()
        device.loop_stop()


def test_a_smoke_alarm_the_outbox_cannot_write_yet_is_sent_once_it_can(
    node: EdgeNode, uplink: DurableSubscriber, z2m
) -> None:
    """An edge box's SD card turns read-only (or fills up) for a while: the outbox cannot write.
    The alarm logic had already taken the alarm as raised, so the smoke alarm that failed to
    queue was gone for good — the detector kept sounding and nothing reached the centre until
    it cleared and sounded again. A hazard event that cannot be queued waits in the node, is
    said in its health, and goes out, in order, as soon as the outbox writes again."""
    store = node.outbox.store
    with store._lock:  # the node's own SQLite outbox, made read-only as a failing card is
        store._db.execute("PRAGMA query_only=ON")
    try:
        z2m("zigbee2mqtt/rental_12_smoke", fixture("heiman_hs1sa_smoke_alarm"))
        wait_until(
            lambda: any("not queued yet" in w for w in node.health().warnings), what="the node says so"
        )
        assert events(uplink, "smk-1") == []
        z2m("zigbee2mqtt/rental_12_smoke", fixture("heiman_hs1sa_smoke_clear"))  # the alarm ends meanwhile
    finally:
        with store._lock:
            store._db.execute("PRAGMA query_only=OFF")
    wait_until(lambda: len(events(uplink, "smk-1")) == 2, what="both events once the outbox writes")
    assert events(uplink, "smk-1") == [
        ("smoke_alarm", "new", "critical"),
        ("smoke_alarm", "clear", "critical"),
    ]
    assert not any("not queued yet" in w for w in node.health().warnings)
