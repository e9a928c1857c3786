"""Drive a camera pipeline with real frames and a controllable clock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from contracts import EvidenceSnapshot, HazardEvent, HazardType
from contracts.clock import ManualClock
from contracts.site.models import Camera
from edge.video.episodes import Episode
from edge.video.fire import FireAnalyzer
from edge.video.pipeline import CameraPipeline, Outgoing
from edge.video.rules import FireRule
from edge.video.settings import VideoSettings
from edge.video.sources import Frame

SHANGHAI = ZoneInfo("Asia/Shanghai")


STEP = 0.2  # 5 analysed frames a second, the node's default


def fire_stage(settings: VideoSettings, size: tuple[int, int]) -> tuple[FireAnalyzer, FireRule, Episode]:
    """The camera's fire stage: the same three objects CameraPipeline runs for fire."""
    return (
        FireAnalyzer(settings.fire, size, None),
        FireRule(settings.fire),
        Episode(HazardType.FIRE_SMOKE, None, settings.fire),
    )


def at(hour: int, minute: int = 0) -> ManualClock:
    """A clock on a Wednesday in the site's time zone."""
    return ManualClock(datetime(2025, 3, 5, hour, minute, tzinfo=SHANGHAI))


def camera(
    width: int,
    height: int,
    zones: list[dict] | None = None,
    ignore_masks: list[list[tuple[float, float]]] | None = None,
    camera_id: str = "cam-test",
    ignore_objects: list[dict] | None = None,
) -> Camera:
    return Camera.model_validate(
        {
            "id": camera_id,
            "source": "unused",
            "resolution": [width, height],
            "location": {"lon": 120.3121, "lat": 31.4955},
            "zones": zones if zones is not None else [],
            "ignore_masks": ignore_masks or [],
            "ignore_objects": ignore_objects or [],
        }
    )


def full_zone(
    width: int,
    height: int,
    zone_type: str = "factory_floor",
    schedule: str = "daily 21:00-06:00",
    zone_id: str = "floor",
) -> dict:
    return {
        "id": zone_id,
        "name": "workshop floor",
        "type": zone_type,
        "polygon": [[0, 0], [width, 0], [width, height], [0, height]],
        "schedules": [schedule],
    }


@dataclass
class Run:
    outgoing: list[Outgoing] = field(default_factory=list)

    @property
    def events(self) -> list[HazardEvent]:
        return [o.event for o in self.outgoing if o.event is not None]

    @property
    def evidence(self) -> list[EvidenceSnapshot]:
        return [o.evidence for o in self.outgoing if o.evidence is not None]

    def of(self, hazard: HazardType) -> list[HazardEvent]:
        return [e for e in self.events if e.hazard_type is hazard]

    def evidence_for(self, event: HazardEvent) -> EvidenceSnapshot:
        assert event.evidence is not None, f"{event.state} event carries no evidence"
        matches = [s for s in self.evidence if s.evidence_id == event.evidence.evidence_id]
        assert len(matches) == 1, "the event's evidence was not produced with it"
        return matches[0]


def arm_empty(pipeline: CameraPipeline, empty: np.ndarray, clock: ManualClock, run: Run | None = None) -> Run:
    """The camera starts watching (its zones arm) over the empty scene, without moving the
    clock: whatever arrives afterwards arrived after arming, so it can be no fixture."""
    run = run or Run()
    run.outgoing += pipeline.process(Frame(empty, 0, clock.now(), 0.0), clock.now())
    return run


def play(
    pipeline: CameraPipeline,
    images: Iterable[np.ndarray],
    clock: ManualClock,
    step_s: float,
    run: Run | None = None,
) -> Run:
    run = run or Run()
    for seq, image in enumerate(images, start=1):
        clock.advance(step_s)
        run.outgoing += pipeline.process(Frame(image, seq, clock.now(), 0.0), clock.now())
    return run
