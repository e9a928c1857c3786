"""Hazard rules: what the tracked objects, motion, lights and fire analysis of
one camera mean, frame by frame, as :class:`Assessment` s.

Thresholds come from :mod:`edge.video.settings`; episodes (new/update/clear,
hysteresis and cool-down) are :mod:`edge.video.episodes`' job.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

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


def _readings(signals: list[SensorSignal]) -> tuple[Measurement, ...]:
    latest: dict[str, SensorSignal] = {}
    for s in signals:
        latest[s.device_id] = s  # oldest first, so the newest wins
    return tuple(m for s in latest.values() for m in s.measurements)[:50]


class DormRule:
    """occupied_factory_dorm (厂房住人): people staying in a no-residence zone at night.

    Signs: the zone occupied for ``person_dwell_s``; a bed; lights on with people;
    several people staying. One sign is minor, two major, three or more critical.
    """

    hazard = HazardType.OCCUPIED_FACTORY_DORM

    def __init__(self, settings: DormRuleSettings) -> None:
        self.settings = settings
        self._occupied_since: dict[str, datetime] = {}
        self._last_occupied: dict[str, datetime] = {}

    def reset(self, zone_id: str) -> None:
        self._occupied_since.pop(zone_id, None)
        self._last_occupied.pop(zone_id, None)

    def assess(self, view: ZoneView, now: datetime) -> Assessment:
        s = self.settings
        zid = view.zone.id
        if view.people:
            self._occupied_since.setdefault(zid, now)
            self._last_occupied[zid] = now
        else:
            last = self._last_occupied.get(zid)
            if last is None or (now - last).total_seconds() > s.occupancy_gap_s:
                self.reset(zid)
        since = self._occupied_since.get(zid)
        occupied_s = (now - since).total_seconds() if since else 0.0
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

    It holds (keeps an open episode alive) only while the evidence is sustained — at least
    half of ``min_positive`` of the window — never on one stray positive frame, so a looping
    or intermittent false source lets an episode clear after ``clear_after_s``."""

    hazard = HazardType.FIRE_SMOKE
    GAP_S = 2.0  # an evidence run survives negative frames this long

    def __init__(self, settings: FireRuleSettings) -> None:
        self.settings = settings
        self._window: deque[bool] = deque(maxlen=settings.window)
        self._run_start: datetime | None = None
        self._last_positive: datetime | None = None

    def reset(self) -> None:
        self._window.clear()
        self._run_start = self._last_positive = None

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
        holding = positives >= max(1, (s.min_positive + 1) // 2)
        zone_id = None
        if frame.regions:
            biggest = max(frame.regions, key=lambda r: r.area)
            cx, cy = (biggest.box[0] + biggest.box[2]) / 2, (biggest.box[1] + biggest.box[3]) / 2
            zone_id = next((z.id for z in zones if z.contains(cx, cy)), None)
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
            holding=holding,
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
