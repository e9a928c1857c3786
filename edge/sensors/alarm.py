"""Alarm logic for one sensor: thresholds, duration and repeat conditions, hysteresis.

One emergency episode at a time per sensor (smoke alarm or gas leak), with
``new`` → ``update`` (severity changes) → ``clear``, like ThingsBoard's one
active alarm per (device, type). Maintenance troubles (low battery, tamper,
fault, offline) are separate episodes that never raise emergencies.

- Raise: the level (from the reading against ``major``/``critical`` and from the
  device's own alarm state) must hold for ``hold_s`` and ``repeat`` readings.
- Lower or clear: only once the reading is below the hysteresis band
  (``clear_below``, default 80 % of ``major``; critical drops to major the same
  band width below ``critical``) for ``repeat`` readings.
- A reading no detector can give in its unit (``observation.PLAUSIBLE``: 6553.5 %LEL is a
  register's all-ones) is the device's fault, whatever protocol brought it, never a leak.
- Self-test (``test``) and warm-up never raise an emergency; an alarm already
  in force is left alone (a real fire does not stop for a test button). A self-test reported
  for longer than ``TEST_MAX_S`` is stuck: a fault, and an alarm rising after it counts.
- Warm-up longer than ``warmup_max_s`` is a fault; silence longer than twice the
  sensor's ``report_interval_s`` is offline.

Pure: time comes in with each call, so tests drive it with any clock. The
episodes in force can be saved (:meth:`SensorAlarm.snapshot`) and given back
to a new instance (:meth:`SensorAlarm.restore`), so a restarted node goes on
with the same episode ids instead of opening new ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contracts import DeviceFlag, EventState, HazardType, Measurement, Severity
from contracts.ids import new_id
from contracts.site.models import Sensor, SensorKind, Thresholds
from edge.sensors.observation import HOUSEKEEPING, Observation, implausible

HAZARD_FOR_KIND = {
    SensorKind.SMOKE: HazardType.SMOKE_ALARM,
    SensorKind.COMBUSTIBLE_GAS: HazardType.GAS_LEAK,
    SensorKind.TOXIC_GAS: HazardType.GAS_LEAK,
}
# What the detector's own alarm output means, absent a reading: smoke is a fire.
DEVICE_ALARM_SEVERITY = {
    SensorKind.SMOKE: Severity.CRITICAL,
    SensorKind.COMBUSTIBLE_GAS: Severity.MAJOR,
    SensorKind.TOXIC_GAS: Severity.MAJOR,
}
MAINTENANCE_SEVERITY = {
    HazardType.LOW_BATTERY: Severity.MINOR,
    HazardType.TAMPER: Severity.MAJOR,
    HazardType.DEVICE_FAULT: Severity.MAJOR,
    HazardType.DEVICE_OFFLINE: Severity.MAJOR,
}
LOW_BATTERY_PERCENT = 10.0
WARMUP_MAX_S = 300.0
# A self-test lasts seconds. Reported for longer (a jammed button, or zigbee2mqtt repeating a
# cached 'test: true' whose 'false' was lost on the radio), it is stuck: a fault, and it stops
# hiding an alarm that rises after the device's own alarm output went quiet.
TEST_MAX_S = 120.0
SILENCE_FACTOR = 2.0  # silent for this many report intervals = offline


def _rank(severity: Severity | None) -> int:
    return -1 if severity is None else severity.rank


@dataclass(frozen=True, slots=True)
class Change:
    """An event to send: a new, updated or cleared episode."""

    hazard: HazardType
    state: EventState
    severity: Severity
    episode_id: str
    started_at: datetime
    rule: str
    summary: str
    confidence: float
    readings: tuple[Measurement, ...] = ()


@dataclass(slots=True)
class Episode:
    id: str
    started_at: datetime
    severity: Severity
    detail: str
    rule: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": self.started_at.isoformat(),
            "severity": self.severity.value,
            "detail": self.detail,
            "rule": self.rule,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Episode:
        return cls(
            id=str(data["id"]),
            started_at=datetime.fromisoformat(data["started_at"]),
            severity=Severity(data["severity"]),
            detail=str(data["detail"]),
            rule=str(data["rule"]),
        )


@dataclass(slots=True)
class _Pending:
    level: Severity
    since: datetime
    count: int = 1


@dataclass
class SensorAlarm:
    sensor: Sensor
    created_at: datetime
    warmup_max_s: float = WARMUP_MAX_S
    thresholds: Thresholds | None = field(init=False)
    hazard: HazardType | None = field(init=False)

    def __post_init__(self) -> None:
        self.thresholds = self.sensor.effective_thresholds
        self.hazard = HAZARD_FOR_KIND.get(self.sensor.kind)
        self.alarm: Episode | None = None
        self._pending: _Pending | None = None
        self._below = 0  # consecutive readings that would lower the alarm
        self.device_alarm = False
        self.value: Measurement | None = None
        self.readings: tuple[Measurement, ...] = ()
        self.test = False
        self.test_since: datetime | None = None
        self._quiet_in_test = False  # the alarm output went quiet since the test began
        self.warmup_since: datetime | None = None
        self.battery: float | None = None
        self.last_seen: datetime | None = None
        self.maintenance: dict[HazardType, Episode] = {}
        self.fault_causes: dict[str, str] = {}  # cause -> text
        self.offline_reason: str | None = None
        self.offline_silent = False  # offline because nothing came, not because the device said so

    # -- inputs --------------------------------------------------------------------
    def observe(self, obs: Observation) -> list[Change]:
        at = obs.at
        out: list[Change] = []
        self.last_seen = at
        out += self._offline(None, at)

        battery = obs.measurement("battery")
        if battery is not None:
            self.battery = battery.value
        low = obs.flag(DeviceFlag.BATTERY_LOW)
        if battery is not None:
            low = bool(low) or battery.value <= LOW_BATTERY_PERCENT
        if low is not None:
            detail = "battery low" + (f" ({self.battery:g} %)" if self.battery is not None else "")
            out += self._maintain(HazardType.LOW_BATTERY, detail if low else None, at, "low_battery")
        tamper = obs.flag(DeviceFlag.TAMPER)
        if tamper is not None:
            out += self._maintain(HazardType.TAMPER, "tamper switch open" if tamper else None, at, "tamper")

        trouble = obs.flag(DeviceFlag.FAULT)
        if trouble is not None:
            self._cause("trouble", "the device reports a fault" if trouble else None)
        if obs.error:
            self._cause("input", obs.error)
        elif obs.measurements or obs.known:
            self._cause("input", None)

        warmup = obs.flag(DeviceFlag.WARMUP)
        if warmup is True:
            self.warmup_since = self.warmup_since or at
        elif warmup is False:
            self.warmup_since = None
            self._cause("warmup", None)
        test = obs.flag(DeviceFlag.TEST)
        if test is not None:
            if self.test and not test:
                self.device_alarm = False  # the alarm output during a test was the test
            if test and not self.test:
                self.test_since, self._quiet_in_test = at, False
            elif not test:
                self.test_since = None
                self._cause("test", None)
            self.test = test
        alarm = obs.flag(DeviceFlag.ALARM)
        if alarm is not None:
            self.device_alarm = alarm
            if self.test and not alarm:
                self._quiet_in_test = True
        out += self._test_timer(at)
        primary = self._primary(obs.measurements)
        if primary is not None and warmup is not True:
            trouble_reading = implausible(primary)
            if trouble_reading is not None:  # the device's fault (maintenance), never a leak
                self._cause("input", trouble_reading)
                primary = None
        if primary is not None:
            self.value = primary
        relevant = tuple(m for m in obs.measurements if m.quantity not in HOUSEKEEPING)
        if relevant:
            self.readings = relevant
        out += self._warmup_timer(at)
        out += self._fault(at)
        out += self._evaluate(at, fresh_reading=True)
        return out

    def availability(self, online: bool, at: datetime, reason: str) -> list[Change]:
        """The device (or its gateway, or our poller) says whether it is reachable."""
        self.offline_silent = False
        return self._offline(None if online else reason, at)

    def tick(self, now: datetime) -> list[Change]:
        """Time passes: held conditions mature, silence becomes offline, warm-up overstays."""
        out: list[Change] = []
        if self._pending is not None and not self._suppressed:
            out += self._maybe_raise(now)
        since = self.last_seen or self.created_at
        silent_s = (now - since).total_seconds()
        limit = SILENCE_FACTOR * self.sensor.report_interval_s
        if silent_s > limit and self.offline_reason is None:
            out += self._offline(
                f"no data for {silent_s:.0f} s (expected every {self.sensor.report_interval_s:g} s)", now
            )
            self.offline_silent = True
        out += self._warmup_timer(now)
        out += self._test_timer(now)
        out += self._fault(now)
        return out

    # -- episodes across restarts -------------------------------------------------------
    def snapshot(self) -> dict[str, Any] | None:
        """The episodes in force (and the causes of a fault), JSON-ready; None when all is well."""
        if self.alarm is None and not self.maintenance:
            return None
        return {
            "alarm": self.alarm.to_json() if self.alarm else None,
            "maintenance": {h.value: e.to_json() for h, e in self.maintenance.items()},
            "fault_causes": dict(self.fault_causes),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Take back the episodes a previous run left open (see :meth:`snapshot`).

        Later readings then update or clear them under their old ids. Only the
        level in force comes back, not the last reading: the first new report
        decides, with the usual hysteresis around the restored level.
        """
        self.alarm = Episode.from_json(data["alarm"]) if data.get("alarm") and self.hazard else None
        self.maintenance = {
            HazardType(h): Episode.from_json(e) for h, e in data.get("maintenance", {}).items()
        }
        self.fault_causes = {str(k): str(v) for k, v in data.get("fault_causes", {}).items()}
        offline = self.maintenance.get(HazardType.DEVICE_OFFLINE)
        self.offline_reason = offline.detail if offline else None

    # -- state for health ----------------------------------------------------------------
    @property
    def state(self) -> str:
        """SensorHealth.state: offline, silent, alarm, test, warmup, fault or ok."""
        if self.offline_reason is not None:
            return "silent" if self.offline_silent else "offline"
        if self.alarm is not None:
            return "alarm"
        if self.test:
            return "test"
        if self.warmup_since is not None:
            return "warmup"
        if self.fault_causes:
            return "fault"
        return "ok"

    @property
    def level(self) -> Severity | None:
        return self.alarm.severity if self.alarm else None

    # -- the emergency ------------------------------------------------------------------
    @property
    def _suppressed(self) -> bool:
        stuck = "test" in self.fault_causes and self._quiet_in_test
        return (self.test and not stuck) or self.warmup_since is not None

    def _primary(self, measurements: tuple[Measurement, ...]) -> Measurement | None:
        th = self.thresholds
        if th is None or th.unit is None:
            return None
        return next((m for m in measurements if m.unit is th.unit and m.quantity not in HOUSEKEEPING), None)

    def _target(self) -> Severity | None:
        """The level the current inputs call for, with hysteresis around the level in force."""
        levels: list[Severity] = []
        if self.device_alarm:
            levels.append(DEVICE_ALARM_SEVERITY[self.sensor.kind])
        th, current = self.thresholds, self.level
        if th is not None and self.value is not None:
            v = self.value.value
            low = th.major if th.major is not None else th.critical
            if low is not None:
                floor = th.clear_below if th.clear_below is not None else 0.8 * low
                band = low - floor
                if th.critical is not None and (
                    v >= th.critical or (current is Severity.CRITICAL and v >= th.critical - band)
                ):
                    levels.append(Severity.CRITICAL)
                elif th.major is not None and v >= th.major:
                    levels.append(Severity.MAJOR)
                elif current is not None and v >= floor:
                    levels.append(Severity.MAJOR if th.major is not None else Severity.CRITICAL)
        return Severity.highest(*levels) if levels else None

    def _evaluate(self, at: datetime, fresh_reading: bool) -> list[Change]:
        if self.hazard is None:
            return []
        if self._suppressed:
            self._pending = None
            self._below = 0
            return []
        target, current = self._target(), self.level
        repeat = self.thresholds.repeat if self.thresholds else 1
        if _rank(target) > _rank(current):
            self._below = 0
            assert target is not None
            if self._pending is None:
                self._pending = _Pending(target, at)
            else:
                self._pending.count += 1 if fresh_reading else 0
                if _rank(target) < _rank(self._pending.level):
                    self._pending.level = target
            return self._maybe_raise(at)
        self._pending = None
        if _rank(target) < _rank(current):
            self._below += 1
            if self._below >= repeat:
                self._below = 0
                return self._lower(target, at)
        else:
            self._below = 0
        return []

    def _maybe_raise(self, at: datetime) -> list[Change]:
        p = self._pending
        th = self.thresholds
        hold, repeat = (th.hold_s, th.repeat) if th else (0.0, 1)
        if p is None or (at - p.since).total_seconds() < hold or p.count < repeat:
            return []
        self._pending = None
        level, rule, detail = p.level, self._rule(), self._describe()
        if self.alarm is None:
            self.alarm = Episode(new_id(), p.since, level, detail, rule)
            state = EventState.NEW
        else:
            self.alarm.severity, self.alarm.detail = level, detail
            state = EventState.UPDATE
        return [self._change(self.hazard, self.alarm, state, self._confidence())]  # type: ignore[arg-type]

    def _lower(self, target: Severity | None, at: datetime) -> list[Change]:
        episode = self.alarm
        assert episode is not None
        episode.detail = self._describe()
        if target is None:
            self.alarm = None
            return [self._change(self.hazard, episode, EventState.CLEAR, self._confidence())]  # type: ignore[arg-type]
        episode.severity = target
        return [self._change(self.hazard, episode, EventState.UPDATE, self._confidence())]  # type: ignore[arg-type]

    def _rule(self) -> str:
        numeric = self.value is not None and self.thresholds is not None
        return f"{self.sensor.kind.value}_{'threshold' if numeric else 'detector_alarm'}"

    def _confidence(self) -> float:
        numeric = self.value is not None and self.thresholds is not None
        return 0.95 if numeric and self.device_alarm else 0.9 if numeric else 0.85

    def _describe(self) -> str:
        parts = []
        if self.value is not None:
            th = self.thresholds
            limits = ""
            if th is not None:
                limits = (
                    f" (major {th.major:g}, critical {th.critical:g})" if th.major and th.critical else ""
                )
            parts.append(
                f"{self.value.quantity} {self.value.value:g} {self.value.unit.value}{limits}".strip()
            )
        if self.device_alarm:
            parts.append("detector in alarm")
        return "; ".join(parts) or "back to normal"

    # -- maintenance -----------------------------------------------------------------------
    def _cause(self, cause: str, text: str | None) -> None:
        if text is None:
            self.fault_causes.pop(cause, None)
        else:
            self.fault_causes[cause] = text

    def _warmup_timer(self, now: datetime) -> list[Change]:
        if self.warmup_since is not None:
            warm_s = (now - self.warmup_since).total_seconds()
            if warm_s > self.warmup_max_s:
                self._cause("warmup", f"still warming up after {warm_s:.0f} s")
        return []

    def shift(self, delta: timedelta) -> None:
        """The wall clock was set by ``delta`` (NTP after boot, a correction): move the instants the
        timers count from (silence, hold, warm-up, self-test) with it, so they keep measuring time
        that passed. Episodes keep their start as it was reported."""
        self.created_at += delta
        if self.last_seen is not None:
            self.last_seen += delta
        if self.warmup_since is not None:
            self.warmup_since += delta
        if self.test_since is not None:
            self.test_since += delta
        if self._pending is not None:
            self._pending.since += delta

    def _test_timer(self, now: datetime) -> list[Change]:
        if self.test and self.test_since is not None:
            test_s = (now - self.test_since).total_seconds()
            if test_s > TEST_MAX_S:
                self._cause(
                    "test",
                    f"self-test reported for {test_s:.0f} s (a test lasts seconds): stuck; "
                    "an alarm after it counts",
                )
        return []

    def _fault(self, at: datetime) -> list[Change]:
        detail = "; ".join(self.fault_causes.values()) or None
        return self._maintain(HazardType.DEVICE_FAULT, detail, at, "device_fault")

    def _offline(self, reason: str | None, at: datetime) -> list[Change]:
        self.offline_reason = reason
        if reason is None:
            self.offline_silent = False
        return self._maintain(HazardType.DEVICE_OFFLINE, reason, at, "device_offline")

    def _maintain(self, hazard: HazardType, detail: str | None, at: datetime, rule: str) -> list[Change]:
        """Open, update or clear one maintenance episode; ``detail`` None means all well."""
        episode = self.maintenance.get(hazard)
        if detail is None:
            if episode is None:
                return []
            del self.maintenance[hazard]
            return [self._change(hazard, episode, EventState.CLEAR, 0.9)]
        if episode is None:
            episode = Episode(new_id(), at, MAINTENANCE_SEVERITY[hazard], detail, rule)
            self.maintenance[hazard] = episode
            return [self._change(hazard, episode, EventState.NEW, 0.9)]
        if episode.detail != detail and hazard is HazardType.DEVICE_FAULT:
            episode.detail = detail
            return [self._change(hazard, episode, EventState.UPDATE, 0.9)]
        episode.detail = detail
        return []

    def _change(self, hazard: HazardType, episode: Episode, state: EventState, confidence: float) -> Change:
        name = self.sensor.name or self.sensor.id
        verb = {EventState.NEW: "", EventState.UPDATE: "", EventState.CLEAR: "cleared: "}[state]
        return Change(
            hazard=hazard,
            state=state,
            severity=episode.severity,
            episode_id=episode.id,
            started_at=episode.started_at,
            rule=episode.rule,
            summary=f"{name}: {verb}{episode.detail}"[:500],
            confidence=confidence,
            readings=self.readings if hazard is self.hazard else (),
        )
