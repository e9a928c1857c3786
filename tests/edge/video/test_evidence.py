"""The evidence an operator looks at: the hazard's zone outlined, the people behind the event
boxed, passers-by outside the zone blurred when the site asks for it, always ≤ 200 kB."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest

from contracts import EventState, HazardEvent, HazardType
from edge.video.detector.engine import DetectorService
from edge.video.evidence import COLOURS, ZONE_COLOUR, encode_jpeg
from edge.video.pipeline import CameraPipeline
from edge.video.settings import EvidenceSettings, VideoSettings
from tests.support.video.drive import Run, arm_empty, at, camera, play
from tests.support.video.media import photo

W, H = 1160, 560
ZONE_X = 600  # the zone is the right part of the view, from this column
OUTSIDE = (40, 24, 552, 536)  # the astronaut's photo: outside the zone (x1, y1, x2, y2)
BODY = (140, 84, 370, 504)  # the astronaut herself, inside her photo
INSIDE = (ZONE_X + 2, 0)  # the footballer's photo's top-left corner, inside the zone


def scene(people: bool = True) -> np.ndarray:
    """A passer-by (the astronaut) left of the zone, a person (the footballer) inside it."""
    canvas = np.full((H, W, 3), 110, np.uint8)
    if not people:
        return canvas
    x1, y1, x2, y2 = OUTSIDE
    canvas[y1:y2, x1:x2] = photo("astronaut.png")
    mx, my = INSIDE
    canvas[my + 100 : my + 442, mx : mx + 548] = photo("messi5.jpg")
    return canvas


def first_event(blur: bool, detector: DetectorService) -> tuple[HazardEvent, np.ndarray, int]:
    zone = {
        "id": "floor",
        "type": "factory_floor",
        "polygon": [[ZONE_X, 10], [W - 10, 10], [W - 10, H - 10], [ZONE_X, H - 10]],
        "schedules": ["daily 21:00-06:00"],
    }
    settings = VideoSettings(
        dorm={"person_dwell_s": 5}, evidence={"blur_people_outside_zone": blur, "max_width": 1280}
    )
    pipeline = CameraPipeline(camera(W, H, [zone]), "node-1", detector, settings)
    clock = at(23)
    run: Run = arm_empty(pipeline, scene(people=False), clock)  # they arrive after arming
    run = play(pipeline, [scene()] * 12, clock, 1.0, run)
    (event,) = run.of(HazardType.OCCUPIED_FACTORY_DORM)
    assert event.state is EventState.NEW
    snap = run.evidence_for(event)
    jpeg = base64.b64decode(snap.jpeg_b64)
    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (H, W, 3), "no scaling: the frame is within max_width"
    return event, picture, len(jpeg)


def sharpness(image: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x1, y1, x2, y2 = box
    grey = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def near(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 60) -> np.ndarray:
    return np.all(np.abs(pixels.astype(int) - np.array(colour)) <= tolerance, axis=-1)


@pytest.mark.parametrize("blur", [True, False])
def test_the_snapshot_outlines_the_zone_boxes_the_person_and_blurs_passers_by(
    blur: bool, yolox: DetectorService
) -> None:
    event, picture, size = first_event(blur, yolox)
    assert size <= 200_000

    # The zone's left edge is drawn in the hazard zone's colour, below the people.
    edge = picture[400:520, ZONE_X - 2 : ZONE_X + 3]
    assert near(edge, ZONE_COLOUR).any(axis=1).mean() > 0.9, "zone outline missing"

    # The person in the zone is boxed in the person colour, where the event says.
    (person,) = [d for d in event.detections if d.label == "person"]
    x1, y1, x2, y2 = (
        round(v) for v in (person.box.x1 * W, person.box.y1 * H, person.box.x2 * W, person.box.y2 * H)
    )
    assert x1 >= ZONE_X, "only the person inside the zone is behind the event"
    top = picture[max(0, y1 - 2) : y1 + 3, x1 + 5 : x2 - 5]
    assert near(top, COLOURS["person"]).any(axis=0).mean() > 0.8, "person box missing"

    # The passer-by outside the zone: blurred when asked, untouched otherwise.
    original = sharpness(scene(), BODY)
    seen = sharpness(picture, BODY)
    if blur:
        assert seen < 0.1 * original, f"passer-by not blurred ({seen:.0f} vs {original:.0f})"
    else:
        assert seen > 0.6 * original, f"passer-by blurred although not asked ({seen:.0f} vs {original:.0f})"
    inside = (x1 + 10, y1 + 10, x2 - 10, y2 - 10)
    assert sharpness(picture, inside) > 0.6 * sharpness(scene(), inside), "the person in the zone stays sharp"


def test_a_detailed_full_hd_frame_still_fits_200_kb() -> None:
    """Sensor noise at 1920x1080 is the worst case for JPEG: quality, then size, step down."""
    rng = np.random.default_rng(7)
    noisy = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    jpeg, w, h = encode_jpeg(noisy, EvidenceSettings(max_width=4096))
    assert len(jpeg) <= 200_000
    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (h, w, 3) and w < 1920 and abs(w / h - 1920 / 1080) < 0.02
