"""The night scenario (厂房住人): people staying on a factory floor under its
night schedule give exactly one occupied_factory_dorm event with evidence,
then updates, then a clear once the room is empty; the same footage by day
gives nothing. Real photos, a controllable clock, the real detector."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import timedelta

import cv2
import numpy as np
import pytest

from contracts import EventState, HazardType, Severity, decode, encode, topics
from edge.video.detector.engine import DetectorService
from edge.video.pipeline import CameraPipeline
from edge.video.settings import VideoSettings
from tests.support.video.drive import Run, arm_empty, at, camera, full_zone, play
from tests.support.video.media import darkened, greyscale, photo

ROOM = "000000000139.jpg"  # living room, two people at the back (COCO val2017 139)
ROOM_PEOPLE = [(421, 157, 474, 300), (377, 168, 410, 218)]  # boxes of the two people, pixels
BEDROOM = "000000000632.jpg"  # a bed, no one in it

SETTINGS = VideoSettings(
    dorm={"person_dwell_s": 60, "update_interval_s": 30, "clear_after_s": 30, "cooldown_s": 600},
)


def empty_room(image: np.ndarray) -> np.ndarray:
    """The same room with its two people painted out (they have gone)."""
    mask = np.zeros(image.shape[:2], np.uint8)
    for x1, y1, x2, y2 in ROOM_PEOPLE:
        cv2.rectangle(mask, (x1, y1), (x2, y2), 255, -1)
    return cv2.inpaint(image, mask, 5, cv2.INPAINT_TELEA)


Variant = Callable[[np.ndarray, int], np.ndarray]


def night_of(variant: Variant, hour: int, detector: DetectorService) -> Run:
    occupied, empty = photo(ROOM), empty_room(photo(ROOM))
    h, w = occupied.shape[:2]
    pipeline = CameraPipeline(camera(w, h, [full_zone(w, h)]), "node-gongye-1", detector, SETTINGS)
    clock = at(hour)
    run = arm_empty(pipeline, variant(empty, 99), clock)
    # 2.5 minutes with people, a frame every 2 s; then the room stays empty.
    run = play(pipeline, (variant(occupied, i) for i in range(75)), clock, 2.0, run)
    return play(pipeline, (variant(empty, i) for i in range(50)), clock, 2.0, run)


VARIANTS: dict[str, Variant] = {
    "daylight": lambda image, _i: image.copy(),
    "darkened": lambda image, i: darkened(image, seed=i),  # fresh sensor noise in every frame
    "greyscale": lambda image, _i: greyscale(image),  # like an IR camera at night
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_people_staying_at_night_give_one_event_with_updates_then_a_clear(
    variant: str, yolox: DetectorService
) -> None:
    run = night_of(VARIANTS[variant], 23, yolox)
    dorm = run.of(HazardType.OCCUPIED_FACTORY_DORM)
    states = [e.state for e in dorm]
    assert states[0] is EventState.NEW and states.count(EventState.NEW) == 1, states
    assert states[-1] is EventState.CLEAR and states.count(EventState.CLEAR) == 1, states
    assert EventState.UPDATE in states, states
    assert len({e.episode_id for e in dorm}) == 1, "one situation, one episode"

    new = dorm[0]
    assert new.device_id == "cam-test" and new.zone_id == "floor" and new.source == "node-gongye-1"
    assert new.severity in (Severity.MAJOR, Severity.MINOR) and new.confidence > 0.3
    started = (new.ts - new.started_at).total_seconds() if new.started_at else None
    assert started == 0
    people = [d for d in new.detections if d.label == "person"]
    assert people and all(0 <= d.box.x1 < d.box.x2 <= 1 for d in people)
    # The person at the back right of the room is among them (normalised box of ROOM_PEOPLE[0]).
    assert any(abs(d.box.x1 - 421 / 640) < 0.05 and abs(d.box.y2 - 300 / 426) < 0.05 for d in people)

    snap = run.evidence_for(new)
    jpeg = base64.b64decode(snap.jpeg_b64)
    assert len(jpeg) <= 200_000 and hashlib.sha256(jpeg).hexdigest() == snap.sha256 == new.evidence.sha256
    assert snap.event_id == new.id and snap.device_id == "cam-test"
    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[1] == snap.width and picture.shape[0] == snap.height
    # The wire round trip: what a subscriber decodes is what was made.
    assert decode(topics.node_event("node-gongye-1"), encode(new)) == new
    assert decode(topics.node_evidence("node-gongye-1"), encode(snap)) == snap

    night = new.ts.replace(minute=0, second=0)  # the clock started at 23:00
    emptied_after = (dorm[-1].ts - night).total_seconds()
    assert emptied_after >= 150 + SETTINGS.dorm.clear_after_s, "cleared only after the room emptied"
    assert emptied_after <= 150 + 90, "and not long after"
    assert not run.of(HazardType.FIRE_SMOKE)


def test_the_same_footage_by_day_raises_nothing(yolox: DetectorService) -> None:
    run = night_of(VARIANTS["daylight"], 14, yolox)
    assert run.of(HazardType.OCCUPIED_FACTORY_DORM) == []


def test_a_bed_on_the_factory_floor_at_night_is_a_sign_by_itself(yolox: DetectorService) -> None:
    bedroom = photo(BEDROOM)
    h, w = bedroom.shape[:2]
    for hour, expected in ((23, 1), (14, 0)):
        pipeline = CameraPipeline(camera(w, h, [full_zone(w, h)]), "node-gongye-1", yolox, SETTINGS)
        run = play(pipeline, [bedroom] * 30, at(hour), 1.0)
        dorm = run.of(HazardType.OCCUPIED_FACTORY_DORM)
        assert len(dorm) == expected, (hour, [e.summary for e in dorm])
        if expected:
            assert dorm[0].state is EventState.NEW and "bed" in dorm[0].summary
            assert dorm[0].severity is Severity.MINOR, "one sign only: no one seen in it"
            assert [d.label for d in dorm[0].detections] == ["bed"]


def test_lights_switched_on_with_people_raise_the_severity_at_once(yolox: DetectorService) -> None:
    """A dark room with people in it, then the lights go on: an immediate update, critical."""
    room = photo(ROOM)
    h, w = room.shape[:2]
    pipeline = CameraPipeline(camera(w, h, [full_zone(w, h)]), "node-gongye-1", yolox, SETTINGS)
    clock = at(23, 30)
    run = arm_empty(pipeline, darkened(empty_room(room), seed=99), clock)
    run = play(pipeline, (darkened(room, seed=i) for i in range(75)), clock, 1.0, run)
    dorm = run.of(HazardType.OCCUPIED_FACTORY_DORM)
    assert [e.state for e in dorm] == [EventState.NEW]
    before = dorm[0].severity
    run = play(pipeline, [room] * 5, clock, 1.0, run)
    dorm = run.of(HazardType.OCCUPIED_FACTORY_DORM)
    states = [e.state for e in dorm]
    assert states[0] is EventState.NEW and set(states[1:]) == {EventState.UPDATE}, states
    assert len(states) <= 3, "at most one more rise: the second person, seen better in the light"
    update = dorm[1]
    assert update.ts == at(23, 30).now() + timedelta(seconds=76), "at the first lit frame"
    assert update.severity.rank > before.rank and "lights on" in update.summary
    assert update.evidence is not None, "a rise in severity comes with a fresh picture"
    assert not run.of(HazardType.CAMERA_BLOCKED), "lights are not tampering"


def test_people_back_soon_after_a_clear_stay_in_the_cool_down_then_a_new_episode(
    yolox: DetectorService,
) -> None:
    """Never a flood: the same people coming back within the cool-down raise nothing new;
    after the cool-down they are a new situation with an episode of its own."""
    occupied, empty = photo(ROOM), empty_room(photo(ROOM))
    h, w = occupied.shape[:2]
    pipeline = CameraPipeline(camera(w, h, [full_zone(w, h)]), "node-gongye-1", yolox, SETTINGS)
    clock = at(23)
    run = arm_empty(pipeline, empty, clock)
    run = play(pipeline, [occupied] * 45, clock, 2.0, run)  # 90 s: past the 60 s dwell
    run = play(pipeline, [empty] * 45, clock, 2.0, run)  # 90 s empty: cleared
    states = [e.state for e in run.of(HazardType.OCCUPIED_FACTORY_DORM)]
    assert states[0] is EventState.NEW and states[-1] is EventState.CLEAR, states
    cleared = len(states)

    run = play(pipeline, [occupied] * 60, clock, 2.0, run)  # back after a minute, for two
    assert len(run.of(HazardType.OCCUPIED_FACTORY_DORM)) == cleared, "quiet during the cool-down"

    run = play(pipeline, [empty] * 20, clock, 2.0, run)
    clock.advance(SETTINGS.dorm.cooldown_s)  # the cool-down has passed
    run = play(pipeline, [occupied] * 40, clock, 2.0, run)
    dorm = run.of(HazardType.OCCUPIED_FACTORY_DORM)
    later = dorm[cleared:]
    assert later and later[0].state is EventState.NEW, [e.state for e in later]
    assert later[0].episode_id != dorm[0].episode_id, "a new situation, a new episode"
