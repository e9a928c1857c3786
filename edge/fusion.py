"""Where sensor readings meet video analysis on one node (sensor fusion).

Sensor inputs :meth:`FusionHub.publish` what they see; video rules ask
:meth:`FusionHub.recent` for signals near a camera (e.g. gas while people work
at night raises ``illegal_workshop`` severity) and :meth:`FusionHub.subscribe`
to react at once (a smoke alarm near a camera triggers a full-frame scan and a
snapshot). Which sensor is near which camera comes from the site configuration
(``Sensor.near_cameras``). Thread-safe; keeps a bounded window per camera.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts import Measurement, Severity

KEEP = timedelta(hours=1)
MAX_PER_CAMERA = 1000


@dataclass(frozen=True, slots=True)
class SensorSignal:
    device_id: str
    kind: str  # contracts.site.models.SensorKind value: smoke, combustible_gas, toxic_gas, ...
    at: datetime
    cameras: tuple[str, ...]  # cameras that see the sensor's room
    alarm: Severity | None = None  # None: a normal reading; else the alarm level now in force
    measurements: tuple[Measurement, ...] = ()
    event_id: str | None = None  # the HazardEvent this alarm raised or updated: attach evidence to it


Listener = Callable[[SensorSignal], None]


class FusionHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_camera: dict[str, deque[SensorSignal]] = defaultdict(lambda: deque(maxlen=MAX_PER_CAMERA))
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        """Called for every signal that concerns at least one camera, in the publisher's thread;
        listeners must return quickly (queue work, don't do it)."""
        with self._lock:
            self._listeners.append(listener)

    def publish(self, signal: SensorSignal) -> None:
        with self._lock:
            for camera in signal.cameras:
                q = self._by_camera[camera]
                q.append(signal)
                while q and signal.at - q[0].at > KEEP:
                    q.popleft()
            listeners = list(self._listeners) if signal.cameras else []
        for listener in listeners:
            listener(signal)

    def recent(self, camera_id: str, window_s: float, now: datetime) -> list[SensorSignal]:
        """Signals for this camera within the last ``window_s`` seconds, oldest first."""
        since = now - timedelta(seconds=window_s)
        with self._lock:
            return [s for s in self._by_camera.get(camera_id, ()) if since <= s.at <= now]

    def strongest_alarm(self, camera_id: str, window_s: float, now: datetime) -> Severity | None:
        alarms = [s.alarm for s in self.recent(camera_id, window_s, now) if s.alarm is not None]
        return Severity.highest(*alarms) if alarms else None
