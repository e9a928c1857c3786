"""fire_smoke on real footage: the fire clip raises it (once, critical, with evidence,
within 10 s but only after the minimum evidence time), the pedestrian clip never does."""

from __future__ import annotations

import numpy as np
import pytest

from contracts import EventState, HazardType, Severity
from edge.video.detector.engine import DetectorService
from edge.video.pipeline import CameraPipeline
from edge.video.settings import VideoSettings
from tests.support.video.drive import Run, at, camera, full_zone, play
from tests.support.video.media import FIRE, PEDESTRIANS, clip, darkened, greyscale

SETTINGS = VideoSettings(fire={"clear_after_s": 20})
STEP = 0.2  # 5 analysed frames a second


def fire_frames() -> tuple[np.ndarray, ...]:
    return clip(FIRE, every=6, limit=90)  # 30 fps clip at 5 fps: 18 s of burning fuel bed


def pedestrian_frames() -> tuple[np.ndarray, ...]:
    return clip(PEDESTRIANS, every=2)  # 10 fps clip at 5 fps: 30 s of people walking


def sealed_workshop(detector: DetectorService, **kw: object) -> CameraPipeline:
    zone = full_zone(258, 246, "no_production_site", "daily 20:00-07:00", "sealed")
    return CameraPipeline(camera(258, 246, [zone], **kw), "node-gongye-1", detector, SETTINGS)  # type: ignore[arg-type]


@pytest.mark.parametrize("hour", [14, 23])
def test_the_fire_clip_raises_one_critical_fire_event_with_evidence(
    hour: int, yolox: DetectorService
) -> None:
    pipeline = sealed_workshop(yolox)
    clock = at(hour)
    run = play(pipeline, fire_frames(), clock, STEP)
    fire = run.of(HazardType.FIRE_SMOKE)
    assert [e.state for e in fire] == [EventState.NEW], [e.summary for e in fire]
    new = fire[0]
    assert new.severity is Severity.CRITICAL and new.zone_id == "sealed"
    assert (new.ts - new.started_at).total_seconds() == 0 if new.started_at else False
    seconds_in = (new.ts - at(hour).now()).total_seconds()
    assert SETTINGS.fire.min_evidence_s <= seconds_in <= 10, f"raised after {seconds_in:.1f} s of fire"
    flames = [d for d in new.detections if d.label == "flame"]
    assert flames and max(d.box.y2 - d.box.y1 for d in flames) > 0.2, "the burning band is boxed"
    snap = run.evidence_for(new)
    assert snap.event_id == new.id and len(snap.jpeg_b64) < 270_000
    assert not run.of(HazardType.CAMERA_BLOCKED), "a spreading fire is not a moved camera"

    # The fire is out (flames gone from the same view): one clear, after the quiet period.
    out = greyscale(fire_frames()[-1])
    run = play(pipeline, [out] * 150, clock, STEP, run)  # 30 s of the same view, no flames
    states = [e.state for e in run.of(HazardType.FIRE_SMOKE)]
    assert states == [EventState.NEW, EventState.CLEAR]


@pytest.mark.parametrize("variant", ["daylight", "darkened"])
def test_people_walking_never_look_like_fire(variant: str, yolox: DetectorService) -> None:
    frames = pedestrian_frames()
    if variant == "darkened":
        frames = tuple(darkened(f, seed=i) for i, f in enumerate(frames))
    zone = full_zone(384, 288, "factory_floor", "always")
    pipeline = CameraPipeline(camera(384, 288, [zone]), "node-gongye-1", yolox, SETTINGS)
    run = play(pipeline, frames, at(23), STEP)
    assert not run.of(HazardType.FIRE_SMOKE)
    assert not run.of(HazardType.CAMERA_BLOCKED)
    assert run.of(HazardType.OCCUPIED_FACTORY_DORM) == [], "nobody stays 10 minutes in 30 s"


def test_fire_inside_an_ignore_mask_is_not_reported(yolox: DetectorService) -> None:
    pipeline = sealed_workshop(yolox, ignore_masks=[[(0, 0), (258, 0), (258, 246), (0, 246)]])
    run: Run = play(pipeline, fire_frames()[:40], at(14), STEP)
    assert not run.of(HazardType.FIRE_SMOKE)


def test_smoke_drifting_over_a_still_scene_is_seen(yolox: DetectorService) -> None:
    """SYNTHETIC: no openly licensed smoke footage exists, so a grey, semi-transparent,
    growing plume is blended over a real photo. This checks the smoke cue's logic,
    not how well it works on real smoke (see docs/video-fire-smoke.md)."""
    import cv2

    from tests.support.video.media import photo

    room = cv2.resize(np.ascontiguousarray(photo("000000004495.jpg")), (640, 360))
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:360, 0:640].astype(np.float32)

    def frame(i: int) -> np.ndarray:
        f = room.astype(np.float32) + rng.standard_normal(room.shape, dtype=np.float32) * 2
        if i >= 130:  # 26 s of still room (the background is learnt), then smoke rises
            t = i - 130
            r = 60 + t * 0.8
            cx, cy = 320 + 20 * np.sin(t / 10), 250 - t * 0.8
            a = 0.6 * np.exp(-(((xx - cx) / r) ** 2 + ((yy - cy) / (1.5 * r)) ** 2))
            a *= 0.8 + 0.2 * np.sin(xx / 17 + t / 3) * np.cos(yy / 23 - t / 4)
            f = f * (1 - a[..., None]) + 200 * a[..., None]
        return np.clip(f, 0, 255).astype(np.uint8)

    zone = full_zone(640, 360, "storage", "always")
    pipeline = CameraPipeline(camera(640, 360, [zone]), "node-1", yolox, SETTINGS)
    run = play(pipeline, (frame(i) for i in range(200)), at(3), STEP)
    fire = run.of(HazardType.FIRE_SMOKE)
    assert [e.state for e in fire] == [EventState.NEW]
    assert "smoke" in fire[0].summary and all(d.label == "smoke" for d in fire[0].detections)


def test_the_flame_regions_labelling_gives_opencvs_default_labels() -> None:
    """Grana's block-based labelling (the fire stage's) against OpenCV's default, sequential and
    with OpenCV's threads, on masks like the stage's: blobs closed with its 5x5 ellipse."""
    import cv2

    rng = np.random.default_rng(11)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    threads = cv2.getNumThreads()
    components = 0
    try:
        for n in (1, 2):
            cv2.setNumThreads(n)
            for k in range(300):
                h, w = int(rng.integers(1, 190)), int(rng.integers(1, 330))
                mask = (rng.random((h, w)) < float(rng.choice([0.02, 0.1, 0.3, 0.6]))).astype(np.uint8)
                if k % 2:
                    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
                count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
                fast = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_BBDT)
                assert fast[0] == count and np.array_equal(fast[1], labels) and np.array_equal(fast[2], stats)
                components += count
    finally:
        cv2.setNumThreads(threads)
    assert components > 10_000


class _Room:
    """A zone as the rule sees it: an id and a test for a point (the left half of a 200x100 view)."""

    id = "sealed"

    def contains(self, x: float, y: float) -> bool:
        return x < 100


def test_a_fire_event_names_the_zone_its_evidence_came_from_even_on_a_frame_the_flame_test_missed() -> None:
    """The frame that completes the evidence may show nothing (a flicker between flames, a frame
    analysed late on a busy node): the event still names the room the fire was seen in, and
    once the evidence run is over its room goes with it."""
    from datetime import timedelta

    from edge.video.fire import FireFrame, FireRegion
    from edge.video.rules import FireRule

    settings = VideoSettings(fire={"min_positive": 4, "min_evidence_s": 1.0}).fire
    rule = FireRule(settings)
    flame = FireFrame([FireRegion("flame", (20, 20, 60, 60), 0.08, 0.6, 0.8)])
    missed = FireFrame([])
    t0 = at(23).now()
    seen = [rule.assess(flame, [_Room()], t0 + timedelta(seconds=0.2 * i), []) for i in range(4)]  # type: ignore[list-item]
    assert not any(a.triggered for a in seen)  # 0.6 s of evidence: not yet
    done = rule.assess(missed, [_Room()], t0 + timedelta(seconds=1.2), [])  # type: ignore[list-item]
    assert done.triggered and done.zone_id == "sealed"
    later = rule.assess(missed, [_Room()], t0 + timedelta(seconds=10), [])  # type: ignore[list-item]
    assert not later.triggered and later.zone_id is None
