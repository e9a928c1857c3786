"""The sensors of one edge node: alarm logic per sensor, and what it sends.

Inputs call :meth:`SensorService.observe`, :meth:`availability` and
:meth:`bad_input` from their own threads; a tick thread lets time pass (hold
conditions, silence). Out go, through the emitter (the outbox):

- ``HazardEvent`` for every new/update/clear of an alarm or maintenance episode (one the
  outbox cannot write yet — a read-only or full card — waits in the node, in order, is named in
  its health and is queued at the next tick that can);
- ``SensorReading`` telemetry for devices the node translates (zigbee2mqtt,
  Modbus) when something changed, and at least every ``report_interval_s``;
  sensors that speak GridWatch's contract publish their own readings;
- retained ``DeviceStatus`` when a sensor's availability changes;

and, to the video side, a :class:`SensorSignal` per report of a sensor that
has cameras near it (``near_cameras``), carrying the alarm in force and the id
of the event it raised, so a snapshot can be attached to it.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts import (
    Availability,
    DeviceStatus,
    HazardEvent,
    HazardType,
    SensorHealth,
    SensorReading,
    topics,
)
from contracts.clock import Clock, SystemClock
from contracts.hazards import EventState
from contracts.site.models import EdgeNodeConfig, GridWatchSource, Sensor
from edge.emit import Emitter, Priority
from edge.fusion import FusionHub, SensorSignal
from edge.outbox.store import OutboxError
from edge.sensors import metrics
from edge.sensors.alarm import Change, SensorAlarm
from edge.sensors.episodes import EpisodeBook, StateStore
from edge.sensors.observation import Observation

log = logging.getLogger(__name__)

TICK_S = 1.0
# The wall clock moving this much more (or less) than the time that passed (the clock's
# monotonic()) between two looks was set (NTP after boot, a correction), not time passing.
CLOCK_SET_MIN_S = 2.0
UNKNOWN = "unknown"  # device label for input that names no configured sensor


@dataclass
class _DeviceBook:
    """What was last sent for one sensor, and its bad-input tally."""

    reading_key: tuple | None = None
    reading_at: datetime | None = None
    status: tuple[Availability, str] | None = None
    bad_inputs: int = 0
    last_error: str = ""


class SensorService:
    def __init__(
        self,
        node: EdgeNodeConfig,
        emitter: Emitter,
        fusion: FusionHub | None = None,
        clock: Clock | None = None,
        state: StateStore | None = None,
    ) -> None:
        self.node = node
        self.emitter = emitter
        self.fusion = fusion
        self.clock = clock or SystemClock()
        now = self.clock.now()
        self.sensors: dict[str, Sensor] = {s.id: s for s in node.sensors}
        self.engines: dict[str, SensorAlarm] = {s.id: SensorAlarm(s, now) for s in node.sensors}
        self._books: dict[str, _DeviceBook] = {s.id: _DeviceBook() for s in node.sensors}
        self.unknown_inputs: Counter[str] = Counter()
        self._lock = threading.RLock()  # one sensor's events go out in the order they were decided
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_event_id: str | None = None  # of the newest emergency event (for fusion)
        # Hazard events the outbox could not write yet (a read-only or full card): the alarm
        # logic has moved on, so they are kept here, in order, and queued at the next chance.
        self._unsent: list[tuple[str, HazardEvent, str]] = []
        self._unsent_error = ""
        # The wall clock and the time that passed at the last look: a clock being set is not time.
        self._monotonic = getattr(self.clock, "monotonic", None)
        self._clock_seen = (now, self._monotonic() if self._monotonic else 0.0)
        self._episodes = EpisodeBook(state) if state is not None else None
        if self._episodes is not None:
            self._restore_episodes(self._episodes)

    def _restore_episodes(self, book: EpisodeBook) -> None:
        node = self.emitter.node_id
        for device_id, snapshot in book.load().items():
            engine = self.engines.get(device_id)
            if engine is None:
                log.info(
                    "forgetting the episodes of a sensor no longer configured", extra={"device_id": device_id}
                )
                book.save(device_id, None)
                continue
            try:
                engine.restore(snapshot)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning(
                    "saved alarm episodes unusable (%s); starting afresh", exc, extra={"device_id": device_id}
                )
                continue
            ids = [e.id for e in (engine.alarm, *engine.maintenance.values()) if e is not None]
            log.info(
                "continuing %d open episode(s) from the previous run: %s",
                len(ids),
                ", ".join(ids),
                extra={"device_id": device_id, "node_id": node},
            )
            if engine.alarm is not None and engine.hazard is not None:
                metrics.ALARM_LEVEL.labels(device_id).set(engine.alarm.severity.rank)

    # -- life ---------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._tick_loop, name="sensor-ticks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self.tick()
            except Exception:  # a bug in one tick must not stop the next
                log.exception("sensor tick failed", extra={"node_id": self.emitter.node_id})

    # -- inputs ---------------------------------------------------------------------------
    def observe(self, obs: Observation, protocol: str) -> None:
        engine = self.engines.get(obs.device_id)
        if engine is None:
            self.bad_input(None, "unknown_device", f"report for unknown sensor {obs.device_id!r}")
            return
        metrics.OBSERVATIONS.labels(protocol).inc()
        with self._lock:
            self._follow_clock(obs.at)
            changes = engine.observe(obs)
            self._send_changes(engine, changes, obs.at)
            sensor = engine.sensor
            if not isinstance(sensor.source, GridWatchSource):
                self._send_reading(engine, obs)
            self._send_status(engine)
            self._signal(engine, obs, changes)

    def availability(self, device_id: str, online: bool, reason: str) -> None:
        engine = self.engines.get(device_id)
        if engine is None:
            return
        with self._lock:
            now = self.clock.now()
            self._send_changes(engine, engine.availability(online, now, reason), now)
            self._send_status(engine)

    def bad_input(self, device_id: str | None, reason: str, detail: str) -> None:
        """Log and count input that cannot be used; the node keeps running."""
        label = device_id if device_id in self._books else UNKNOWN
        metrics.BAD_INPUT.labels(label, reason).inc()
        extra = {"device_id": device_id or UNKNOWN, "reason": reason, "node_id": self.emitter.node_id}
        if device_id is None or device_id not in self._books:
            key = detail.split(":")[0][:120]
            self.unknown_inputs[key] += 1
            if self.unknown_inputs[key] in (1, 10, 100) or self.unknown_inputs[key] % 1000 == 0:
                log.warning("ignored input (%d so far): %s", self.unknown_inputs[key], detail, extra=extra)
            return
        with self._lock:
            book = self._books[device_id]
            book.bad_inputs += 1
            book.last_error = detail[:200]
            count = book.bad_inputs
        if count in (1, 2, 10, 100) or count % 1000 == 0:
            log.warning("bad input (%d so far): %s", count, detail, extra=extra)

    def _follow_clock(self, now: datetime) -> None:
        """Notice the wall clock being set and move the alarm timers with it (under the lock)."""
        if self._monotonic is None:
            return  # a clock that cannot tell
        mono = self._monotonic()
        wall_then, mono_then = self._clock_seen
        self._clock_seen = (now, mono)
        jump = (now - wall_then).total_seconds() - (mono - mono_then)
        if abs(jump) < CLOCK_SET_MIN_S:
            return
        for engine in self.engines.values():
            engine.shift(timedelta(seconds=jump))
        log.warning(
            "the clock was set %+.0f s: alarm timers (silence, hold, warm-up, self-test) keep counting "
            "the time that passed",
            jump,
            extra={"node_id": self.emitter.node_id},
        )

    def tick(self) -> None:
        with self._lock:
            self._send_unsent()
            now = self.clock.now()
            self._follow_clock(now)
            for engine in self.engines.values():
                changes = engine.tick(now)
                if changes:
                    self._send_changes(engine, changes, now)
                    self._send_status(engine)
                    self._signal(engine, None, changes)

    # -- health ---------------------------------------------------------------------------------
    def health(self) -> list[SensorHealth]:
        with self._lock:
            out = []
            for device_id, engine in self.engines.items():
                book = self._books[device_id]
                errors = [e for e in (engine.offline_reason, *engine.fault_causes.values()) if e]
                if book.bad_inputs:
                    errors.append(f"{book.bad_inputs} bad input(s), last: {book.last_error}")
                out.append(
                    SensorHealth(
                        device_id=device_id,
                        state=engine.state,  # type: ignore[arg-type]
                        last_seen=engine.last_seen,
                        error="; ".join(errors)[:300],
                    )
                )
            return out

    def warnings(self) -> list[str]:
        with self._lock:
            unknown = sum(self.unknown_inputs.values())
            unsent, error = len(self._unsent), self._unsent_error
        out = [f"{unknown} sensor message(s) from unknown devices ignored"] if unknown else []
        if unsent:
            out.append(f"{unsent} hazard event(s) not queued yet, the outbox cannot write: {error}"[:300])
        return out

    # -- output ------------------------------------------------------------------------------------
    def _send_changes(self, engine: SensorAlarm, changes: list[Change], at: datetime) -> None:
        sensor, node = engine.sensor, self.emitter.node_id
        for c in changes:
            event = HazardEvent(
                source=node,
                seq=0,
                ts=at,
                hazard_type=c.hazard,
                severity=c.severity,
                confidence=c.confidence,
                state=c.state,
                episode_id=c.episode_id,
                device_id=sensor.id,
                location=sensor.location,
                rule=c.rule,
                summary=c.summary,
                readings=list(c.readings[:50]),
                started_at=c.started_at,
            )
            self._unsent.append((topics.node_event(node), event, sensor.id))
            self._send_unsent()
            metrics.EVENTS.labels(c.hazard.value, c.state.value).inc()
            if c.hazard is engine.hazard:
                metrics.ALARM_LEVEL.labels(sensor.id).set(-1 if engine.level is None else engine.level.rank)
                self._last_event_id = event.id
            log.info(
                "%s %s (%s): %s",
                c.hazard.value,
                c.state.value,
                c.severity.value,
                c.summary,
                extra={"device_id": sensor.id, "event_id": event.id},
            )
        if changes and self._episodes is not None:
            try:  # after the events are queued (see edge.sensors.episodes)
                self._episodes.save(sensor.id, engine.snapshot())
            except Exception:
                log.exception("could not save the alarm episodes", extra={"device_id": sensor.id})

    def _send_reading(self, engine: SensorAlarm, obs: Observation) -> None:
        if not obs.measurements and not obs.flags:
            return
        book = self._books[engine.sensor.id]
        key = (tuple((m.quantity, m.value, m.unit) for m in obs.measurements), tuple(sorted(obs.flags)))
        due = book.reading_at is None or (
            (obs.at - book.reading_at).total_seconds() >= engine.sensor.report_interval_s
        )
        if key == book.reading_key and not due:
            return
        reading = SensorReading(
            source=self.emitter.node_id,
            seq=0,
            ts=obs.at,
            device_id=engine.sensor.id,
            measurements=list(obs.measurements[:50]),
            flags=sorted(obs.flags)[:10],
        )
        if self._emit(
            topics.node_reading(self.emitter.node_id), reading, Priority.TELEMETRY, engine.sensor.id
        ):
            book.reading_key, book.reading_at = key, obs.at

    def _send_status(self, engine: SensorAlarm) -> None:
        sensor = engine.sensor
        if engine.offline_reason is not None:
            state, reason = Availability.OFFLINE, engine.offline_reason
        elif (
            engine.fault_causes or engine.warmup_since is not None or HazardType.TAMPER in engine.maintenance
        ):
            state = Availability.DEGRADED
            reason = "; ".join(engine.fault_causes.values()) or (
                "warming up" if engine.warmup_since else "tamper"
            )
        else:
            state, reason = Availability.ONLINE, ""
        book = self._books[sensor.id]
        if book.status == (state, reason):
            return
        status = DeviceStatus(
            source=self.emitter.node_id,
            seq=0,
            device_id=sensor.id,
            state=state,
            reason=reason[:200],
            battery=engine.battery if engine.battery is not None and 0 <= engine.battery <= 100 else None,
        )
        topic = topics.node_device_status(self.emitter.node_id, sensor.id)
        if self._emit(topic, status, Priority.STATUS, sensor.id, retain=True):
            book.status = (state, reason)

    def _signal(self, engine: SensorAlarm, obs: Observation | None, changes: list[Change]) -> None:
        sensor = engine.sensor
        if self.fusion is None or not sensor.near_cameras:
            return
        raised = any(c.hazard is engine.hazard and c.state is not EventState.CLEAR for c in changes)
        if obs is None and not raised:
            return
        self.fusion.publish(
            SensorSignal(
                device_id=sensor.id,
                kind=sensor.kind.value,
                at=obs.at if obs else self.clock.now(),
                cameras=tuple(sensor.near_cameras),
                alarm=engine.level,
                measurements=engine.readings if obs is None else tuple(obs.measurements),
                event_id=self._last_event_id if raised else None,
            )
        )

    def _send_unsent(self) -> None:
        """Queue the hazard events waiting for the outbox, oldest first; stop at the first that
        still cannot be written (the next tick tries again)."""
        while self._unsent:
            topic, event, device_id = self._unsent[0]
            try:
                self.emitter.emit(topic, event, Priority.EVENT)
            except (OutboxError, OSError) as exc:  # the store cannot write now: wait for it
                if not self._unsent_error:  # once per outage, not once a second
                    log.exception(
                        "could not queue hazard event %s; it waits in the node and is tried every %g s",
                        event.id,
                        TICK_S,
                        extra={"device_id": device_id, "event_id": event.id},
                    )
                self._unsent_error = str(exc)[:200]
                return
            except Exception:  # a bug about this one event: it must not hold back the ones after it
                log.exception("could not queue hazard event %s", event.id, extra={"device_id": device_id})
            self._unsent.pop(0)
            if self._unsent_error:
                log.warning(
                    "hazard event %s queued after the outbox could not write (%s)",
                    event.id,
                    self._unsent_error,
                    extra={"device_id": device_id, "event_id": event.id},
                )
                if not self._unsent:
                    self._unsent_error = ""

    def _emit(
        self, topic: str, message: object, priority: Priority, device_id: str, retain: bool = False
    ) -> bool:
        try:
            self.emitter.emit(topic, message, priority, retain)  # type: ignore[arg-type]
            return True
        except Exception:
            # The outbox refused (disk full, bug): say so loudly and keep watching the sensors.
            log.exception("could not queue %s", type(message).__name__, extra={"device_id": device_id})
            return False
