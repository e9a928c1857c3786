"""Hazard rules: what the tracked objects, motion, lights and fire analysis of
one camera mean, frame by frame, as :class:`Assessment` s.

Thresholds come from :mod:`edge.video.settings`; episodes (new/update/clear,
hysteresis and cool-down) are :mod:`edge.video.episodes`' job.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from contracts import HazardType, Measurement, Severity
from edge.fusion import SensorSignal
from edge.video.episodes import Assessment, Finding
from edge.video.fire import FireFrame
from edge.video.settings import (
    CameraHealthSettings,
    DormRuleSettings,
    FireRuleSettings,
    WorkshopRuleSettings,
)
from edge.video.tracker import Track
from edge.video.zones import ZoneArea

_BY_SIGNS = {1: Severity.MINOR, 2: Severity.MAJOR}


@dataclass
class ZoneView:
    """What one zone holds in the current frame."""

    zone: ZoneArea
    people: list[Track] = field(default_factory=list)  # confirmed, inside (with inertia)
    beds: list[Track] = field(default_factory=list)
    motion: float = 0.0  # share of the zone moving
    lights_on: bool = False


def _finding(t: Track, now: datetime) -> Finding:
    return Finding(
        t.label, round(t.score, 3), t.pixel_box(), t.id, round((now - t.first_seen).total_seconds(), 1)
    )


def _zone_name(zone: ZoneArea) -> str:
    return f"{zone.zone.name or zone.id} ({zone.zone.type.value})"


def _combined(confidences: list[float]) -> float:
    miss = 1.0
    for c in confidences:
        miss *= 1.0 - min(max(c, 0.0), 0.99)
    return round(min(0.99, 1.0 - miss), 3)


def _near(a: np.ndarray, b: np.ndarray) -> bool:
    """Two boxes of about one person's size apart at most (centre to centre)."""
    size = max(float(a[2] - a[0]), float(a[3] - a[1]), float(b[2] - b[0]), float(b[3] - b[1]), 1.0)
    return (
        abs(float(a[0] + a[2] - b[0] - b[2])) / 2 <= size
        and abs(float(a[1] + a[3] - b[1] - b[3])) / 2 <= size
    )


def _readings(signals: list[SensorSignal]) -> tuple[Measurement, ...]:
    latest: dict[str, SensorSignal] = {}
    for s in signals:
        latest[s.device_id] = s  # oldest first, so the newest wins
    return tuple(m for s in latest.values() for m in s.measurements)[:50]


@dataclass
class _Stay:
    since: datetime  # when this person's stay began
    box: np.ndarray  # where they were last seen
    last_seen: datetime
    still: bool = False  # keeping still when last seen (a sleeper, not a passer-by)


class DormRule:
    """occupied_factory_dorm (厂房住人): people staying in a no-residence zone at night.

    Signs: someone has stayed in the zone for ``person_dwell_s``; a bed; lights on with
    people; several people staying. One sign is minor, two major, three or more critical.

    A stay is one person's: people walking through one after another (a passage, a
    looping pedestrian clip) never add up to "occupied for 10 minutes". When the track of
    someone keeping still is lost and a track starts where they were within
    ``occupancy_gap_s``, it is the same stay (detectors miss a sleeper now and then); a
    passer-by's stay is never handed on to whoever walks by next.
    """

    hazard = HazardType.OCCUPIED_FACTORY_DORM

    def __init__(self, settings: DormRuleSettings) -> None:
        self.settings = settings
        self._stays: dict[str, dict[int, _Stay]] = {}

    def reset(self, zone_id: str) -> None:
        self._stays.pop(zone_id, None)

    def _stay_of(self, stays: dict[int, _Stay], t: Track, present: set[int], now: datetime) -> _Stay:
        stay = stays.get(t.id)
        if stay is None:
            gap = self.settings.occupancy_gap_s
            lost = [
                (k, v)
                for k, v in stays.items()
                if k not in present
                and v.still
                and (now - v.last_seen).total_seconds() <= gap
                and _near(v.box, t.box)
            ]
            if lost:  # the same person, picked up again by a new track
                k, prev = min(lost, key=lambda kv: kv[1].since)
                del stays[k]
                stay = _Stay(prev.since, t.box, now)
            else:
                stay = _Stay(t.first_seen, t.box, now)
            stays[t.id] = stay
        stay.box, stay.last_seen, stay.still = t.box, now, t.stationary
        return stay

    def assess(self, view: ZoneView, now: datetime) -> Assessment:
        s = self.settings
        zid = view.zone.id
        stays = self._stays.setdefault(zid, {})
        present = {p.id for p in view.people}
        current = [self._stay_of(stays, p, present, now) for p in view.people]
        for k in [k for k, v in stays.items() if (now - v.last_seen).total_seconds() > s.occupancy_gap_s]:
            del stays[k]
        occupied_s = max(((now - st.since).total_seconds() for st in current), default=0.0)
        beds = [b for b in view.beds if b.hits >= s.bed_min_hits]
        signs: list[str] = []
        confidences: list[float] = []
        person_score = max((p.score for p in view.people), default=0.0)
        if view.people and occupied_s >= s.person_dwell_s:
            signs.append(f"occupied for {occupied_s / 60:.0f} min")
            confidences.append(person_score)
            if len(view.people) >= s.several_people:
                signs.append(f"{len(view.people)} people")
                confidences.append(person_score * 0.5)
        if beds:
            signs.append("a bed" if len(beds) == 1 else f"{len(beds)} beds")
            confidences.append(max(b.score for b in beds))
        if view.lights_on and view.people:
            signs.append("lights on with people")
            confidences.append(0.5)
        who = f"{len(view.people)} person(s)" if view.people else "no person"
        summary = f"{who} in {_zone_name(view.zone)} at night"
        if signs:
            summary += ": " + ", ".join(signs)
        return Assessment(
            self.hazard,
            zid,
            triggered=bool(signs),
            holding=bool(view.people or beds),
            severity=_BY_SIGNS.get(len(signs), Severity.CRITICAL),
            confidence=_combined(confidences) if confidences else 0.0,
            summary=summary,
            findings=tuple(_finding(t, now) for t in [*view.people, *beds]),
            signs=tuple(signs),
        )


@dataclass
class _Activity:
    samples: deque[tuple[datetime, bool]] = field(default_factory=deque)
    since: datetime | None = None
    last_active: datetime | None = None


class WorkshopRule:
    """illegal_workshop: people and motion in a no-production zone at night, sustained.

    Major; critical when a gas or smoke sensor near the camera is in alarm.
    """

    hazard = HazardType.ILLEGAL_WORKSHOP

    def __init__(self, settings: WorkshopRuleSettings) -> None:
        self.settings = settings
        self._zones: dict[str, _Activity] = {}

    def reset(self, zone_id: str) -> None:
        self._zones.pop(zone_id, None)

    def assess(self, view: ZoneView, now: datetime, signals: list[SensorSignal]) -> Assessment:
        s = self.settings
        st = self._zones.setdefault(view.zone.id, _Activity())
        active = bool(view.people) and view.motion >= s.zone_motion
        st.samples.append((now, active))
        while st.samples and (now - st.samples[0][0]).total_seconds() > s.sustain_s:
            st.samples.popleft()
        if active:
            st.since = st.since or now
            st.last_active = now
        elif st.last_active is None or (now - st.last_active).total_seconds() > s.activity_gap_s:
            st.since = None
        ratio = sum(a for _, a in st.samples) / len(st.samples)
        lasted = (now - st.since).total_seconds() if st.since else 0.0
        triggered = lasted >= s.sustain_s and ratio >= s.active_ratio
        alarms = [x for x in signals if x.alarm is not None]
        severity = Severity.MAJOR
        summary = (
            f"activity in {_zone_name(view.zone)} at night for {lasted / 60:.0f} min "
            f"({len(view.people)} person(s), active {ratio:.0%} of the time)"
        )
        if alarms:
            worst = Severity.highest(*(x.alarm for x in alarms if x.alarm is not None))
            severity = Severity.CRITICAL if worst.rank >= Severity.MAJOR.rank else Severity.MAJOR
            names = ", ".join(sorted({f"{x.kind} {x.device_id}" for x in alarms}))
            summary += f"; sensor alarm nearby: {names}"
        person_score = max((p.score for p in view.people), default=0.0)
        return Assessment(
            self.hazard,
            view.zone.id,
            triggered=triggered,
            holding=st.since is not None,
            severity=severity,
            confidence=_combined([person_score, ratio * 0.8] + ([0.6] if alarms else [])),
            summary=summary,
            findings=tuple(_finding(t, now) for t in view.people),
            readings=_readings(signals) if alarms else (),
            signs=("activity",) + (("sensor alarm",) if alarms else ()),
        )


class FireRule:
    """fire_smoke: flames or smoke in enough of the recent analysed frames, seen for at least
    ``min_evidence_s``. Always critical.

    It holds (keeps an open episode alive) only on the same sustained evidence that opens
    one, never on stray positive frames or bursts shorter than ``min_evidence_s``: a looping
    or intermittent source lets an episode clear ``clear_after_s`` after the last sustained
    evidence."""

    hazard = HazardType.FIRE_SMOKE
    GAP_S = 2.0  # an evidence run survives negative frames this long

    def __init__(self, settings: FireRuleSettings) -> None:
        self.settings = settings
        self._window: deque[bool] = deque(maxlen=settings.window)
        self._run_start: datetime | None = None
        self._last_positive: datetime | None = None
        # Where the fire was last seen: the frame that completes the evidence may be one the flame
        # test missed (a flicker, a frame analysed late on a busy node), and the event still names
        # the zone its evidence came from.
        self._last_zone: str | None = None

    def reset(self) -> None:
        self._window.clear()
        self._run_start = self._last_positive = None
        self._last_zone = None

    def assess(
        self, frame: FireFrame, zones: list[ZoneArea], now: datetime, signals: list[SensorSignal]
    ) -> Assessment:
        s = self.settings
        self._window.append(frame.positive)
        positives = sum(self._window)
        if frame.positive:
            gap = (now - self._last_positive).total_seconds() if self._last_positive else None
            if self._run_start is None or gap is None or gap > self.GAP_S:
                self._run_start = now
            self._last_positive = now
        elif self._last_positive is not None and (now - self._last_positive).total_seconds() > self.GAP_S:
            self._run_start = None
        lasted = (now - self._run_start).total_seconds() if self._run_start else 0.0
        triggered = positives >= s.min_positive and lasted >= s.min_evidence_s
        if frame.regions:
            biggest = max(frame.regions, key=lambda r: r.area)
            cx, cy = (biggest.box[0] + biggest.box[2]) / 2, (biggest.box[1] + biggest.box[3]) / 2
            self._last_zone = next((z.id for z in zones if z.contains(cx, cy)), None)
        elif self._run_start is None:
            self._last_zone = None  # the evidence run is over: its place with it
        zone_id = self._last_zone
        kinds = sorted({r.label for r in frame.regions})
        share = sum(r.area for r in frame.regions)
        summary = (
            f"{' and '.join(kinds)} seen in {positives} of the last {len(self._window)} frames "
            f"for {lasted:.0f} s, {share:.0%} of the view"
            if kinds
            else "no flames or smoke in view"
        )
        flames = [r for r in frame.regions if r.label == "flame"]
        if flames:
            best = max(flames, key=lambda r: r.score)
            summary += (
                f" (flicker {best.flicker:.0%}, fast {best.fast:.0%}, shape change {best.shape:.0%}"
                + (f", growing x{best.growth:.1f}" if best.growth > 1.2 else "")
                + ")"
            )
        alarms = [x for x in signals if x.alarm is not None]
        if alarms:
            summary += "; smoke/gas alarm nearby: " + ", ".join(sorted({x.device_id for x in alarms}))
        confidence = min(0.99, frame.score * positives / max(len(self._window), 1) + (0.2 if alarms else 0))
        return Assessment(
            self.hazard,
            zone_id,
            triggered=triggered,
            holding=triggered,
            severity=Severity.CRITICAL,
            confidence=round(confidence, 3),
            summary=summary,
            findings=tuple(Finding(r.label, round(r.score, 3), r.box) for r in frame.regions),
            readings=_readings(alarms),
            signs=tuple(kinds),
        )


class OfflineRule:
    """camera_offline (maintenance): no frames for ``offline_after_s``."""

    hazard = HazardType.CAMERA_OFFLINE

    def __init__(self, settings: CameraHealthSettings) -> None:
        self.settings = settings

    def assess(self, silent_s: float, reason: str) -> Assessment:
        offline = silent_s >= self.settings.offline_after_s
        return Assessment(
            self.hazard,
            None,
            triggered=offline,
            holding=silent_s > 0 and offline,
            severity=Severity.MAJOR,
            confidence=0.99,
            summary=f"no video for {silent_s:.0f} s: {reason}" if offline else "video is back",
        )


class BlockedRule:
    """camera_blocked (maintenance): a dark/uniform view or a changed scene that lasts."""

    hazard = HazardType.CAMERA_BLOCKED

    def __init__(self, settings: CameraHealthSettings) -> None:
        self.settings = settings
        self._bad_since: datetime | None = None

    def assess(self, uniform: bool, changed: bool, now: datetime, detail: str) -> Assessment:
        bad = uniform or changed
        if not bad:
            self._bad_since = None
        elif self._bad_since is None:
            self._bad_since = now
        lasted = (now - self._bad_since).total_seconds() if self._bad_since else 0.0
        if uniform:
            what = "view is dark or uniform (covered, sprayed or failed)"
        elif changed:
            what = "view no longer matches the scene (camera turned or moved?)"
        else:
            what = "view is back to normal"
        return Assessment(
            self.hazard,
            None,
            triggered=bad and lasted >= self.settings.blocked_after_s,
            holding=bad,
            severity=Severity.MAJOR,
            confidence=0.9,
            summary=f"{what}; {detail}" if bad else what,
            signs=("uniform",) if uniform else ("changed",) if changed else (),
        )
