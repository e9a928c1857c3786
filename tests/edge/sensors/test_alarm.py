"""Alarm logic: thresholds (GB/T 50493 defaults), hold and repeat, hysteresis, self-test,
warm-up, maintenance troubles, silence. Driven through SensorService with a manual clock;
what is checked is what the gateway would receive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts import (
    DeviceFlag,
    DeviceStatus,
    HazardEvent,
    HazardType,
    Measurement,
    SensorReading,
    Severity,
    Unit,
)
from contracts.clock import ManualClock
from contracts.site.models import EdgeNodeConfig, Sensor
from edge.emit import ListEmitter, Priority
from edge.fusion import FusionHub, SensorSignal
from edge.sensors import Observation, SensorService
from tests.support.sensors import HERE, NODE, sensor


class Rig:
    def __init__(self, s: Sensor) -> None:
        self.clock = ManualClock(datetime(2026, 3, 1, 3, 0, tzinfo=UTC))
        self.emitter = ListEmitter(NODE)
        self.fusion = FusionHub()
        self.signals: list[SensorSignal] = []
        self.fusion.subscribe(self.signals.append)
        config = EdgeNodeConfig.model_validate({"node": {"id": NODE, "location": HERE}, "sensors": [s]})
        self.service = SensorService(config, self.emitter, self.fusion, self.clock)

    def gas(
        self,
        value: float,
        after_s: float = 2,
        flags: set[DeviceFlag] = frozenset(),
        unit: Unit = Unit.PERCENT_LEL,
    ) -> None:
        self.clock.advance(after_s)
        self.service.observe(
            Observation(
                "s-1",
                self.clock.now(),
                (Measurement(quantity="gas", value=value, unit=unit),),
                frozenset(flags),
                frozenset({DeviceFlag.ALARM, DeviceFlag.TEST, DeviceFlag.WARMUP, DeviceFlag.FAULT}),
            ),
            "test",
        )

    def flags(
        self, flags: set[DeviceFlag], known: set[DeviceFlag], after_s: float = 2, battery: float | None = None
    ) -> None:
        self.clock.advance(after_s)
        ms = (
            (Measurement(quantity="battery", value=battery, unit=Unit.PERCENT),)
            if battery is not None
            else ()
        )
        self.service.observe(
            Observation("s-1", self.clock.now(), ms, frozenset(flags), frozenset(known)), "test"
        )

    def events(self, hazard: HazardType | None = None) -> list[tuple[str, str]]:
        return [
            (m.state.value, m.severity.value)
            for _, m, _ in self.emitter.sent
            if isinstance(m, HazardEvent) and (hazard is None or m.hazard_type is hazard)
        ]

    def hazard_events(self) -> list[HazardEvent]:
        return [m for _, m, _ in self.emitter.sent if isinstance(m, HazardEvent)]


def test_gas_rising_past_25_then_50_lel_is_major_then_critical_and_clears_below_hysteresis() -> None:
    rig = Rig(sensor())
    for v in (3, 10, 24.9):
        rig.gas(v)
    assert rig.events() == []
    rig.gas(25)
    rig.gas(38)
    rig.gas(50.5)
    assert rig.events() == [("new", "major"), ("update", "critical")]
    rig.gas(45)  # below 50 but inside the band (50 - (25 - 20)): stays critical
    rig.gas(44)  # below 45: back to major
    rig.gas(22)  # below 25 but above 20 (80 % of 25): still an alarm
    assert rig.events()[2:] == [("update", "major")]
    rig.gas(19.5)
    assert rig.events()[3:] == [("clear", "major")]
    events = rig.hazard_events()
    assert {e.episode_id for e in events} == {events[0].episode_id}, "one episode from new to clear"
    assert all(e.hazard_type is HazardType.GAS_LEAK and e.device_id == "s-1" for e in events)
    assert events[0].readings[0].value == 25 and events[0].location == HERE
    assert events[0].started_at is not None and "gas 25 %LEL" in events[0].summary
    rig.gas(30)  # a new leak is a new episode
    assert rig.hazard_events()[-1].episode_id != events[0].episode_id


def test_hold_and_repeat_debounce_a_single_spike() -> None:
    rig = Rig(sensor(thresholds={"hold_s": 10, "repeat": 3}))
    rig.gas(60)  # one spike
    rig.gas(5)
    assert rig.events() == []
    rig.gas(30, after_s=1)
    rig.gas(31, after_s=4)
    rig.gas(32, after_s=4)  # three readings, but only 8 s
    assert rig.events() == []
    rig.clock.advance(3)
    rig.service.tick()  # 11 s held and three readings: raise without waiting for another reading
    assert rig.events() == [("new", "major")]
    assert rig.hazard_events()[0].started_at == datetime(2026, 3, 1, 3, 0, 5, tzinfo=UTC)
    rig.gas(10)
    rig.gas(10)
    assert rig.events() == [("new", "major")], "clearing also needs three readings"
    rig.gas(10)
    assert rig.events()[-1] == ("clear", "major")


def test_self_test_never_raises_an_emergency() -> None:
    rig = Rig(sensor())
    rig.gas(80, flags={DeviceFlag.TEST, DeviceFlag.ALARM})
    rig.gas(80, flags={DeviceFlag.TEST, DeviceFlag.ALARM})
    rig.gas(2)
    assert rig.events() == []
    readings = [m for _, m, p in rig.emitter.sent if isinstance(m, SensorReading)]
    assert DeviceFlag.TEST in readings[0].flags, "the reading still goes out, marked as a test"
    assert rig.service.health()[0].state == "ok"


def test_warmup_suppresses_alarms_and_a_warmup_that_never_ends_is_a_fault() -> None:
    rig = Rig(sensor())
    rig.gas(70, flags={DeviceFlag.WARMUP})
    assert rig.events() == [] and rig.service.health()[0].state == "warmup"
    statuses = [m for _, m, _ in rig.emitter.sent if isinstance(m, DeviceStatus)]
    assert statuses[-1].state == "degraded" and statuses[-1].reason == "warming up"
    rig.gas(70, after_s=301, flags={DeviceFlag.WARMUP})
    assert rig.events(HazardType.DEVICE_FAULT) == [("new", "major")]
    assert rig.events(HazardType.GAS_LEAK) == []
    rig.gas(3)  # warmed up
    assert rig.events(HazardType.DEVICE_FAULT)[-1] == ("clear", "major")


def test_maintenance_troubles_are_events_of_their_own_never_emergencies() -> None:
    z2m = {"protocol": "zigbee2mqtt", "friendly_name": "smoke_1"}
    rig = Rig(sensor("smoke", source=z2m))
    known = {DeviceFlag.ALARM, DeviceFlag.TAMPER, DeviceFlag.BATTERY_LOW, DeviceFlag.TEST}
    rig.flags({DeviceFlag.BATTERY_LOW}, known, battery=8)
    rig.flags({DeviceFlag.BATTERY_LOW, DeviceFlag.TAMPER}, known, battery=8)
    rig.flags(set(), {DeviceFlag.ALARM}, battery=None)  # says nothing about battery or tamper
    assert rig.events(HazardType.LOW_BATTERY) == [("new", "minor")]
    assert rig.events(HazardType.TAMPER) == [("new", "major")]
    assert rig.events(HazardType.SMOKE_ALARM) == []
    event = next(e for e in rig.hazard_events() if e.hazard_type is HazardType.LOW_BATTERY)
    assert event.category == "maintenance" and "8 %" in event.summary
    rig.flags(set(), known, battery=95)
    assert rig.events(HazardType.LOW_BATTERY)[-1][0] == "clear"
    assert rig.events(HazardType.TAMPER)[-1][0] == "clear"


def test_smoke_detector_alarm_is_critical_and_signals_the_cameras_nearby() -> None:
    z2m = {"protocol": "zigbee2mqtt", "friendly_name": "smoke_1"}
    rig = Rig(sensor("smoke", source=z2m, near_cameras=["cam-a"]))
    rig.flags(set(), {DeviceFlag.ALARM})
    assert rig.signals[-1].alarm is None and rig.signals[-1].cameras == ("cam-a",)
    rig.flags({DeviceFlag.ALARM}, {DeviceFlag.ALARM})
    assert rig.events() == [("new", "critical")]
    new = rig.hazard_events()[0]
    assert new.hazard_type is HazardType.SMOKE_ALARM and new.rule == "smoke_detector_alarm"
    assert rig.signals[-1].alarm is Severity.CRITICAL and rig.signals[-1].event_id == new.id
    now = rig.clock.now()
    assert rig.fusion.strongest_alarm("cam-a", 60, now) is Severity.CRITICAL
    rig.flags(set(), {DeviceFlag.ALARM})
    assert rig.events()[-1] == ("clear", "critical")
    assert rig.signals[-1].alarm is None and rig.signals[-1].event_id is None


def test_a_silent_sensor_goes_offline_and_back() -> None:
    rig = Rig(sensor())
    rig.gas(1)
    rig.clock.advance(119)
    rig.service.tick()
    assert rig.events() == []
    rig.clock.advance(2)
    rig.service.tick()
    assert (
        rig.events() == [("new", "major")] and rig.hazard_events()[0].hazard_type is HazardType.DEVICE_OFFLINE
    )
    assert "no data for 121 s" in rig.hazard_events()[0].summary
    assert rig.service.health()[0].state == "silent"
    status = [m for _, m, p in rig.emitter.sent if isinstance(m, DeviceStatus)][-1]
    assert status.state == "offline"
    rig.gas(1)
    assert rig.events()[-1] == ("clear", "major")
    assert [m for _, m, p in rig.emitter.sent if isinstance(m, DeviceStatus)][-1].state == "online"


def test_telemetry_on_change_and_at_the_report_interval_with_priorities() -> None:
    rig = Rig(sensor())
    for _ in range(5):
        rig.gas(1, after_s=10)
    readings = [(m, p) for _, m, p in rig.emitter.sent if isinstance(m, SensorReading)]
    assert len(readings) == 1 and readings[0][1] is Priority.TELEMETRY
    rig.gas(1, after_s=20)  # 60 s since the last one sent
    rig.gas(2)
    assert len([m for _, m, _ in rig.emitter.sent if isinstance(m, SensorReading)]) == 3
    rig.gas(30)
    prios = {type(m).__name__: p for _, m, p in rig.emitter.sent}
    assert prios["HazardEvent"] is Priority.EVENT and prios["DeviceStatus"] is Priority.STATUS


def test_readings_in_another_unit_are_not_compared_with_lel_thresholds() -> None:
    rig = Rig(sensor())
    rig.gas(80, unit=Unit.PPM)
    assert rig.events() == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"kind": "temperature", "thresholds": {"major": 60}}, "telemetry only"),
        (
            {
                "kind": "smoke",
                "thresholds": {"major": 1},
                "source": {"protocol": "zigbee2mqtt", "friendly_name": "s"},
            },
            "need 'unit'",
        ),
        (
            {"source": {"protocol": "modbus_tcp", "host": "h", "value": {"address": 0, "unit": "%VOL"}}},
            "source.value.unit is '%VOL' but the thresholds are in '%LEL'",
        ),
        ({"thresholds": {"major": 25, "critical": 20}}, "critical must be at or above major"),
    ],
)
def test_threshold_configuration_mistakes_are_explained(config: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        sensor(**config)


def test_configured_thresholds_override_defaults_key_by_key() -> None:
    s = sensor(thresholds={"hold_s": 5})
    th = s.effective_thresholds
    assert th is not None and (th.major, th.critical, th.hold_s, th.unit) == (25, 50, 5, Unit.PERCENT_LEL)
    toxic = sensor(
        "toxic_gas",
        source={"protocol": "modbus_tcp", "host": "h", "value": {"address": 0, "unit": "ppm"}},
    ).effective_thresholds
    assert toxic is not None and (toxic.major, toxic.critical, toxic.unit) == (25, 50, Unit.PPM)


def test_thresholds_written_for_a_modbus_register_are_in_its_unit() -> None:
    s = sensor("toxic_gas", thresholds={"major": 25, "critical": 50, "clear_below": 20})
    th = s.effective_thresholds
    assert th is not None and th.unit is Unit.PERCENT_LEL and th.major == 25


def test_a_self_test_that_never_ends_stops_hiding_alarms_and_is_a_fault() -> None:
    """zigbee2mqtt keeps a device's last state and repeats it whole: when the 'test: false' that
    ends a self-test is lost on the radio, every later report still says test: true — and the
    smoke alarm in such a report was ignored for ever, the detector showing 'test', no fault.
    A self-test lasts seconds; one reported past TEST_MAX_S is taken as stuck: the device's
    fault (maintenance), and its alarm counts again. A short test still raises nothing."""
    from edge.sensors.alarm import TEST_MAX_S

    z2m = {"protocol": "zigbee2mqtt", "friendly_name": "smoke_1"}
    rig = Rig(sensor("smoke", source=z2m))
    known = {DeviceFlag.ALARM, DeviceFlag.TEST}
    rig.flags({DeviceFlag.TEST, DeviceFlag.ALARM}, known)  # the test button: it sounds
    rig.flags({DeviceFlag.TEST}, known, after_s=5)  # the test is over; its 'false' was lost
    assert rig.events() == []
    rig.service.tick()
    rig.clock.advance(TEST_MAX_S)
    rig.service.tick()  # no report for a while: the stuck test is noticed on its own
    assert rig.events(HazardType.DEVICE_FAULT) == [("new", "major")]
    assert "self-test" in rig.service.health()[0].error
    rig.flags({DeviceFlag.TEST, DeviceFlag.ALARM}, known, after_s=30)  # a real fire, still "test"
    assert rig.events(HazardType.SMOKE_ALARM) == [("new", "critical")]
    rig.flags(set(), known)  # the device says test: false again
    assert rig.events(HazardType.DEVICE_FAULT)[-1] == ("clear", "major")
    assert rig.events(HazardType.SMOKE_ALARM)[-1] == ("clear", "critical")


def test_the_clock_set_forward_or_back_does_not_fake_silence_nor_stretch_a_hold() -> None:
    """An edge box without a battery clock boots at the time it shut down, then NTP sets it hours
    ahead: every sensor had been 'silent' for those hours and went offline at once (a
    device_offline case per detector until each reported again, an hour later for zigbee). Set
    back an hour, a gas leak held for 10 s waited an hour and 10 s. Timers measure time that
    passed on the node, not steps of its wall clock."""
    rig = Rig(sensor(thresholds={"hold_s": 10}))
    start = rig.clock.now()
    rig.gas(3)
    rig.service.tick()
    rig.clock.set(rig.clock.now() + timedelta(hours=3))  # NTP after boot
    rig.service.tick()
    assert rig.events() == [], "three hours of wall clock are not three hours of silence"
    for _ in range(60):  # a minute passes for real: the 60 s sensor is still within 2 intervals
        rig.clock.advance(1)
        rig.service.tick()
    assert rig.events(HazardType.DEVICE_OFFLINE) == []
    for _ in range(70):  # and then it really is silent
        rig.clock.advance(1)
        rig.service.tick()
    assert rig.events(HazardType.DEVICE_OFFLINE) == [("new", "major")]

    rig.gas(60, after_s=1)  # a leak: back online, pending for its 10 s hold
    rig.service.tick()
    rig.clock.set(start)  # set back hours
    rig.service.tick()
    for _ in range(10):
        rig.clock.advance(1)
        rig.service.tick()
    rig.gas(60, after_s=1)
    assert rig.events(HazardType.GAS_LEAK) == [("new", "critical")], "held 10 s, not hours"
