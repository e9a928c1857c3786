"""One situation = one event with updates and a clear, never a flood.

An :class:`Episode` turns a rule's per-frame :class:`Assessment` into event
states with hysteresis: it opens (``new``) only when the rule's onset
condition holds, stays open while the weaker holding condition does, sends an
``update`` at once when severity rises and otherwise at most every
``update_interval_s``, clears after ``clear_after_s`` without evidence, and
then keeps quiet for ``cooldown_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from contracts import EventState, HazardType, Measurement, Severity
from contracts.ids import new_id
from edge.video.settings import EpisodeSettings

PixelBox = tuple[int, int, int, int]


@dataclass(frozen=True)
class Finding:
    """Something behind an assessment, drawn on the evidence and sent as a Detection."""

    label: str
    score: float
    box: PixelBox
    track_id: int | None = None
    dwell_s: float | None = None


@dataclass(frozen=True)
class Assessment:
    hazard: HazardType
    zone_id: str | None
    triggered: bool  # onset condition: opens an episode
    holding: bool  # weaker condition: keeps an open episode alive
    severity: Severity = Severity.MAJOR
    confidence: float = 0.5
    summary: str = ""
    findings: tuple[Finding, ...] = ()
    readings: tuple[Measurement, ...] = ()
    signs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transition:
    state: EventState
    episode_id: str
    started_at: datetime
    assessment: Assessment
    severity: Severity
    snapshot: bool  # attach evidence


@dataclass
class Episode:
    hazard: HazardType
    zone_id: str | None
    settings: EpisodeSettings
    episode_id: str | None = None
    started_at: datetime | None = None
    last_evidence: datetime | None = None
    last_sent: datetime | None = None
    sent_severity: Severity | None = None
    quiet_until: datetime | None = None
    last: Assessment | None = field(default=None, repr=False)

    @property
    def open(self) -> bool:
        return self.episode_id is not None

    def step(self, a: Assessment, now: datetime) -> Transition | None:
        s = self.settings
        if not self.open:
            if not a.triggered or (self.quiet_until is not None and now < self.quiet_until):
                return None
            self.episode_id = new_id()
            self.started_at = self.last_evidence = self.last_sent = now
            self.sent_severity = a.severity
            self.last = a
            return Transition(EventState.NEW, self.episode_id, now, a, a.severity, True)
        assert self.episode_id and self.started_at and self.last_sent and self.sent_severity
        if a.holding or a.triggered:
            self.last_evidence = now
            self.last = a
            rose = a.triggered and a.severity.rank > self.sent_severity.rank
            due = (now - self.last_sent).total_seconds() >= s.update_interval_s
            if rose or due:
                self.last_sent = now
                severity = a.severity if a.triggered else self.sent_severity
                self.sent_severity = Severity.highest(self.sent_severity, severity)
                return Transition(EventState.UPDATE, self.episode_id, self.started_at, a, severity, rose)
            return None
        assert self.last_evidence is not None
        if (now - self.last_evidence).total_seconds() >= s.clear_after_s:
            return self.clear(now, a)
        return None

    def clear(self, now: datetime, a: Assessment) -> Transition | None:
        """Close an open episode (evidence gone, schedule ended, camera removed)."""
        if not self.open:
            return None
        assert self.episode_id and self.started_at and self.sent_severity
        t = Transition(EventState.CLEAR, self.episode_id, self.started_at, a, self.sent_severity, True)
        self.episode_id = self.started_at = self.last_evidence = self.last_sent = None
        self.sent_severity = None
        self.quiet_until = now + timedelta(seconds=self.settings.cooldown_s)
        return t
