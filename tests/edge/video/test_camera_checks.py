"""Maintenance events from the picture itself: a covered lens, a turned camera,
a camera that stops delivering frames. Each is one event and one clear."""

from __future__ import annotations

import cv2
import numpy as np

from contracts import EventState, HazardType, category_of
from contracts.hazards import HazardCategory
from edge.video.detector.engine import DetectorService
from edge.video.pipeline import CameraPipeline
from edge.video.settings import VideoSettings
from edge.video.sources import Frame
from tests.support.video.drive import Run, at, camera, play
from tests.support.video.media import PEDESTRIANS, clip, photo

SETTINGS = VideoSettings(
    camera={"blocked_after_s": 10, "recover_after_s": 4, "accept_new_view_s": 30, "offline_after_s": 20}
)
STEP = 0.2


def walking() -> tuple[np.ndarray, ...]:
    return clip(PEDESTRIANS, every=2, limit=50)  # 10 s


def pipeline(detector: DetectorService) -> CameraPipeline:
    # No zones: only the camera checks (and fire) run, as on a plain patrol camera.
    return CameraPipeline(camera(384, 288), "node-gongye-1", detector, SETTINGS)


def test_a_covered_lens_is_reported_once_and_cleared(yolox: DetectorService) -> None:
    rng = np.random.default_rng(3)
    covered = [np.clip(rng.normal(12, 2, (288, 384, 3)), 0, 255).astype(np.uint8) for _ in range(75)]
    p = pipeline(yolox)
    clock = at(2)
    run = play(p, walking(), clock, STEP)
    run = play(p, covered, clock, STEP, run)  # 15 s under a hand / tape
    blocked = run.of(HazardType.CAMERA_BLOCKED)
    assert [e.state for e in blocked] == [EventState.NEW]
    assert "dark or uniform" in blocked[0].summary
    assert category_of(blocked[0].hazard_type) is HazardCategory.MAINTENANCE
    assert run.evidence_for(blocked[0]).device_id == "cam-test", "the picture shows the blocked view"
    assert p.blocked
    run = play(p, walking(), clock, STEP, run)
    assert [e.state for e in run.of(HazardType.CAMERA_BLOCKED)] == [EventState.NEW, EventState.CLEAR]
    assert not p.blocked
    assert not run.of(HazardType.FIRE_SMOKE)


def test_a_turned_camera_is_reported_and_its_new_view_accepted_later(yolox: DetectorService) -> None:
    elsewhere = cv2.resize(np.ascontiguousarray(photo("000000004495.jpg")), (384, 288))
    p = pipeline(yolox)
    clock = at(2)
    run = play(p, walking(), clock, STEP)
    run = play(p, [elsewhere] * 100, clock, STEP, run)  # 20 s looking at another room
    blocked = run.of(HazardType.CAMERA_BLOCKED)
    assert [e.state for e in blocked] == [EventState.NEW]
    assert "no longer matches" in blocked[0].summary
    run = play(p, [elsewhere] * 100, clock, STEP, run)  # past accept_new_view_s: the new normal
    assert [e.state for e in run.of(HazardType.CAMERA_BLOCKED)] == [EventState.NEW, EventState.CLEAR]


def test_no_frames_for_a_while_is_camera_offline(yolox: DetectorService) -> None:
    p = pipeline(yolox)
    clock = at(2)
    run = play(p, walking()[:10], clock, STEP)
    for _ in range(30):  # the stream is silent for 30 s
        clock.advance(1)
        run.outgoing += p.idle(clock.now(), "stream rtsp://***@10.0.0.5/1 stopped sending frames")
    offline = run.of(HazardType.CAMERA_OFFLINE)
    assert [e.state for e in offline] == [EventState.NEW] and p.offline
    assert "stopped sending frames" in offline[0].summary and offline[0].evidence is None
    seq = 100
    for image in walking()[:30]:
        clock.advance(STEP)
        seq += 1
        run.outgoing += p.process(Frame(image, seq, clock.now(), 0.0), clock.now())
    assert [e.state for e in run.of(HazardType.CAMERA_OFFLINE)] == [EventState.NEW, EventState.CLEAR]
    assert not p.offline
    assert Run(run.outgoing).of(HazardType.CAMERA_BLOCKED) == []
