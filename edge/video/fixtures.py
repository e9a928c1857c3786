"""Fixtures: things the detector takes for people that are part of the scene.

A signpost scored as a person in almost every frame kept a night occupancy episode open
for ever. A real sleeper and a signpost look the same to a detector for a while; what
tells them apart is history:

- **present when the zone armed** (or in the camera's empty reference picture) **and not
  moved since**: a fixture. Its track is followed but never counts as a person.
- **arrived after arming** (its place was empty then): a person, however still it lies.
- a fixture that **moves** (any edge of its box shifts by more than ``move_share`` of its
  size) was a person after all: from then on it counts, and its place is forgotten.

Operators can also mark a false object from an event's evidence: a camera's
``ignore_objects`` (label + box) drop matching detections before tracking, so a person
walking past the marked signpost is still seen (a different box).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from edge.video.detector.adapters import RawDetection
from edge.video.settings import FixtureSettings
from edge.video.tracker import Track

log = logging.getLogger(__name__)
Box = tuple[float, float, float, float]
MOVED_HITS = 3


def same_place(a: Box | np.ndarray, b: Box | np.ndarray, share: float) -> bool:
    """Every edge of ``a`` within ``share`` of ``b``'s size of the matching edge of ``b``."""
    size = max(float(b[2] - b[0]), float(b[3] - b[1]), 1.0)
    return max(abs(float(a[i]) - float(b[i])) for i in range(4)) <= share * size


@dataclass
class Fixture:
    label: str
    box: Box
    learnt_at: datetime
    last_seen: datetime
    why: str  # "present when armed" / "in the reference picture"


class FixtureMemory:
    """One camera's known fixtures; the pipeline asks it about each track every pass."""

    def __init__(self, settings: FixtureSettings, camera_id: str) -> None:
        self.settings = settings
        self.camera_id = camera_id
        self.fixtures: list[Fixture] = []
        self._of: dict[int, Fixture] = {}  # track id -> the fixture it sits on
        self._away: dict[int, int] = {}  # track id -> passes in a row away from it

    def learn(self, detections: Iterable[RawDetection], now: datetime, why: str) -> int:
        """Remember what is there now as fixtures (at arming, or from a reference picture)."""
        n = 0
        for d in detections:
            if d.label not in self.settings.labels:
                continue
            box = (d.x1, d.y1, d.x2, d.y2)
            if any(
                f.label == d.label and same_place(box, f.box, self.settings.move_share) for f in self.fixtures
            ):
                continue
            self.fixtures.append(Fixture(d.label, box, now, now, why))
            n += 1
        if n:
            log.info(
                "%d %s fixture(s) %s",
                n,
                "/".join(self.settings.labels),
                why,
                extra={"device_id": self.camera_id},
            )
        return n

    def forget_all(self, why: str) -> None:
        """A new night: what was there is learnt again at the next arming."""
        self.fixtures = [f for f in self.fixtures if f.why != why]

    def classify(self, tracks: Iterable[Track], now: datetime) -> None:
        """Mark each track a fixture or not. A fixture's track seen away from its place in
        ``MOVED_HITS`` passes in a row moved (one passer-by's box grabbing the track for a
        moment does not count): the place is forgotten and the track counts from then on."""
        share = self.settings.move_share
        alive: set[int] = set()
        for t in tracks:
            if t.label not in self.settings.labels:
                continue
            alive.add(t.id)
            match = next(
                (f for f in self.fixtures if f.label == t.label and same_place(t.box, f.box, share)), None
            )
            if match is not None:
                if t.updated:
                    match.last_seen = now
                t.fixture = True
                self._of[t.id] = match
                self._away.pop(t.id, None)
                continue
            if not t.fixture:
                continue
            if t.updated:
                self._away[t.id] = self._away.get(t.id, 0) + 1
            if self._away.get(t.id, 0) < MOVED_HITS:
                continue
            was = self._of.pop(t.id, None)
            if was in self.fixtures:
                self.fixtures.remove(was)
            t.fixture = False
            log.info(
                "track %d moved away from a fixture's place: counted as a %s from now on",
                t.id,
                t.label,
                extra={"device_id": self.camera_id},
            )
        for tid in [k for k in self._of if k not in alive]:
            del self._of[tid]
        for tid in [k for k in self._away if k not in alive]:
            del self._away[tid]
        horizon = self.settings.forget_s
        self.fixtures = [f for f in self.fixtures if (now - f.last_seen).total_seconds() <= horizon]


def ignored_object(d: RawDetection, marks: Iterable[tuple[str, Box]], share: float) -> bool:
    """Does a detection match an operator's ignore mark (same label, same place)?"""
    box = (d.x1, d.y1, d.x2, d.y2)
    return any(label == d.label and same_place(box, mark, share) for label, mark in marks)
