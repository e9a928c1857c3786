"""Associates detections across frames: dwell times, and objects that keep still.

Greedy IoU matching per label (the detector runs at a few frames per second on
crops, so a motion model buys little). A track counts once it has ``min_hits``
detections and the median of its last ten scores passes a threshold (one
confident false positive does not make a person). A track that was looked for
and not found ``max_misses`` times ends, but one that has kept still is kept
much longer: a sleeping person is exactly what we must not forget.
"""

from __future__ import annotations

import itertools
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from edge.video.detector.adapters import RawDetection
from edge.video.settings import TrackerSettings

PixelBox = tuple[int, int, int, int]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of ``a`` (n x 4) with every box of ``b`` (m x 4),
    float32 boxes (n x m): the same values as the pair-at-a-time IoU the tracker used before
    (tests/edge/video/test_zones_tracker.py keeps it as the reference)."""
    a = a[:, None, :]
    b = b[None, :, :]
    w = np.maximum(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), np.float32(0))
    h = np.maximum(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), np.float32(0))
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    union = area_a + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter
    positive = union > 0
    return np.where(positive, inter / np.where(positive, union, np.float32(1)), np.float32(0))


@dataclass
class Track:
    id: int
    label: str
    box: np.ndarray  # x1, y1, x2, y2 frame pixels
    first_seen: datetime
    last_seen: datetime
    hits: int = 1
    misses: int = 0
    scores: deque[float] = field(default_factory=lambda: deque(maxlen=10))
    stationary: bool = False
    anchor: np.ndarray | None = None
    anchor_since: datetime | None = None
    updated: bool = True  # seen in the latest detection pass
    fixture: bool = False  # matches something present when the zone armed, and has not moved

    @property
    def score(self) -> float:
        return statistics.median(self.scores) if self.scores else 0.0

    @property
    def bottom_centre(self) -> tuple[float, float]:
        return float((self.box[0] + self.box[2]) / 2), float(self.box[3])

    @property
    def centre(self) -> tuple[float, float]:
        return float((self.box[0] + self.box[2]) / 2), float((self.box[1] + self.box[3]) / 2)

    def dwell_s(self) -> float:
        return (self.last_seen - self.first_seen).total_seconds()

    def pixel_box(self) -> PixelBox:
        return int(self.box[0]), int(self.box[1]), int(self.box[2]), int(self.box[3])


def _covered(track: Track, regions: list[PixelBox] | None) -> bool:
    """Did a detection pass look where this track is? (None = the whole frame.)"""
    if regions is None:
        return True
    cx, cy = track.centre
    return any(r[0] <= cx <= r[2] and r[1] <= cy <= r[3] for r in regions)


class Tracker:
    def __init__(self, settings: TrackerSettings, gate: Callable[[str], float] | None = None) -> None:
        """``gate``: the median score a track of a class needs (the model's calibration);
        ``settings.min_median_score`` overrides it for every class."""
        self.settings = settings
        self.gate = gate or (lambda _label: 0.3)
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)

    def min_score(self, label: str) -> float:
        s = self.settings.min_median_score
        return s if s is not None else self.gate(label)

    def confirmed(self, track: Track) -> bool:
        return track.hits >= self.settings.min_hits and track.score >= self.min_score(track.label)

    def update(self, detections: list[RawDetection], regions: list[PixelBox] | None, now: datetime) -> None:
        """One detection pass over ``regions`` (None: full frame) at time ``now``."""
        for t in self.tracks:
            t.updated = False
        boxes = np.array([[d.x1, d.y1, d.x2, d.y2] for d in detections], dtype=np.float32).reshape(-1, 4)
        dets = list(boxes)
        pairs: list[tuple[float, int, int]] = []
        if self.tracks and detections:
            # Every track against every detection at once (the same float32 IoU as one pair at a time), then
            # the same greedy assignment: best overlap first, ties to the later track/detection.
            overlap = iou_matrix(np.stack([t.box for t in self.tracks]).astype(np.float32, copy=False), boxes)
            labels = np.array([d.label for d in detections])
            same = np.array([t.label for t in self.tracks])[:, None] == labels[None, :]
            ok = same & (overlap.astype(np.float64) >= self.settings.iou_match)  # as float(iou) >= it
            for ti, di in zip(*np.nonzero(ok), strict=True):
                pairs.append((float(overlap[ti, di]), int(ti), int(di)))
        pairs.sort(reverse=True)
        used_t: set[int] = set()
        used_d: set[int] = set()
        for _, ti, di in pairs:
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            self._hit(self.tracks[ti], dets[di], detections[di].score, now)
        for di, d in enumerate(detections):
            if di not in used_d:
                track = Track(next(self._ids), d.label, dets[di], now, now, anchor=dets[di], anchor_since=now)
                track.scores.append(d.score)
                self.tracks.append(track)
        for ti, t in enumerate(self.tracks):
            if ti not in used_t and not t.updated and _covered(t, regions):
                t.misses += 1
        self.prune(now)

    def _hit(self, t: Track, box: np.ndarray, score: float, now: datetime) -> None:
        t.box = box
        t.last_seen = now
        t.hits += 1
        t.misses = 0
        t.updated = True
        t.scores.append(score)
        anchor = t.anchor if t.anchor is not None else box
        size = max(float(anchor[2] - anchor[0]), float(anchor[3] - anchor[1]), 1.0)
        moved = float(np.abs(box - anchor).max()) / size
        if moved > 0.15 or t.anchor_since is None:
            t.anchor, t.anchor_since, t.stationary = box, now, False
        elif (now - t.anchor_since).total_seconds() >= self.settings.stationary_after_s:
            t.stationary = True

    def prune(self, now: datetime) -> None:
        s = self.settings
        self.tracks = [
            t
            for t in self.tracks
            if (now - t.last_seen).total_seconds() <= s.max_age_s
            and t.misses < (s.stationary_max_misses if t.stationary else s.max_misses)
        ]
