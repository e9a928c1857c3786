"""The detectors on the counted photos (../shared/media/MEDIA.md), and one
detector serving several cameras at once."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from edge.video.detector.engine import DetectorService
from tests.support.video.media import BEDS, PEOPLE, PERSON_FREE, photo


def people_found(detector: DetectorService, threshold: float) -> tuple[int, int]:
    """Counted people found, capping each photo at its count (extra boxes find no one)."""
    found = total = 0
    for name, counted in PEOPLE.items():
        (dets,) = detector.detect("cam-test", [np.ascontiguousarray(photo(name))], threshold)
        found += min(counted, sum(d.label == "person" for d in dets))
        total += counted
    return found, total


def test_yolox_finds_the_counted_people_and_the_bed(yolox: DetectorService) -> None:
    found, total = people_found(yolox, 0.3)
    assert found >= 0.9 * total, f"YOLOX found {found} of {total} people"
    for name in PEOPLE:
        (dets,) = yolox.detect("cam-test", [np.ascontiguousarray(photo(name))], 0.3)
        beds = sum(d.label == "bed" for d in dets)
        assert beds == BEDS.get(name, 0), f"{name}: {beds} bed(s)"  # the lounge's couch is no bed


def test_fastestdet_finds_most_people(fastestdet: DetectorService) -> None:
    found, total = people_found(fastestdet, 0.4)
    assert found >= 0.8 * total, f"FastestDet found {found} of {total} people"


@pytest.mark.parametrize("model,threshold", [("yolox", 0.3), ("fastestdet", 0.4)])
def test_no_person_on_the_person_free_photos(
    model: str, threshold: float, request: pytest.FixtureRequest
) -> None:
    detector: DetectorService = request.getfixturevalue(model)
    for name in PERSON_FREE:
        (dets,) = detector.detect("cam-test", [np.ascontiguousarray(photo(name))], threshold)
        assert not [d for d in dets if d.label == "person"], name


def test_boxes_come_back_in_the_pixels_of_the_image(yolox: DetectorService) -> None:
    """The letterbox is undone: the astronaut's box spans the portrait, also on a wide canvas."""
    portrait = np.ascontiguousarray(photo("astronaut.png"))  # 512x512, one person filling it
    canvas = np.full((600, 1400, 3), 90, np.uint8)
    canvas[40:552, 800:1312] = portrait
    for image, (ox, oy) in ((portrait, (0, 0)), (canvas, (800, 40))):
        (dets,) = yolox.detect("cam-test", [image], 0.3)
        person = next(d for d in dets if d.label == "person")
        assert abs(person.x1 - ox) < 40 and abs(person.x2 - (ox + 370)) < 40
        assert abs(person.y2 - (oy + 510)) < 30


def test_one_detector_serves_several_cameras_at_once(shared_models: Path) -> None:
    service = DetectorService.from_settings("yolox_nano", [shared_models], threads=2)
    service.start()
    names = ["coco_fastestdet_0.jpg", "coco_fastestdet_4.jpg", "000000000632.jpg", "messi5.jpg"]
    alone = {n: service.detect("cam-0", [np.ascontiguousarray(photo(n))], 0.3)[0] for n in names}
    got: dict[str, list] = {}
    errors: list[BaseException] = []

    def camera(i: int, name: str) -> None:
        try:
            for _ in range(3):
                got[name] = service.detect(f"cam-{i}", [np.ascontiguousarray(photo(name))], 0.3)[0]
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=camera, args=(i, n)) for i, n in enumerate(names)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        service.stop()
    assert not errors
    for name in names:  # every camera got the answer for its own picture
        assert [(d.label, round(d.score, 3)) for d in got[name]] == [
            (d.label, round(d.score, 3)) for d in alone[name]
        ]
    assert service.queue_depth() == 0 and service.inferences == 4 + 12


def test_a_camera_with_many_crops_does_not_hold_up_the_others(shared_models: Path) -> None:
    """Two inference workers share the one model: while one works through a camera's eight
    crops, another camera's single frame is answered by the other worker."""
    service = DetectorService.from_settings("yolox_nano", [shared_models], threads=1, workers=2)
    service.start()
    busy = [np.ascontiguousarray(photo("coco_fastestdet_0.jpg"))] * 8
    try:
        many = service.submit("cam-busy", busy, 0.3)
        one = service.submit("cam-quiet", [np.ascontiguousarray(photo("messi5.jpg"))], 0.3)
        (dets,) = one.result(30)
        assert not many.done(), "the quiet camera waited for the busy one"
        assert "person" in [d.label for d in dets]
        assert len(many.result(30)) == 8
    finally:
        service.stop()
    assert service.inferences == 9 and service.workers == 2


def test_per_class_thresholds_looked_up_at_once_keep_the_same_boxes(yolox: DetectorService) -> None:
    """The calibration's thresholds by class id (an array) against one lookup per candidate."""
    from edge.video.detector.adapters import Prepared, _finish, class_thresholds

    assert yolox.detector is not None
    spec = yolox.detector.spec
    calibration, classes = spec.calibration, list(spec.classes)
    table = class_thresholds(calibration, classes)
    assert table[classes.index("person")] == np.float32(calibration.threshold("person"))
    rng = np.random.default_rng(7)
    prep = Prepared(np.zeros((1, 3, 4, 4), np.float32), 0.5, 0.5, 832, 468)
    kept = 0
    for _ in range(50):
        n = int(rng.integers(1, 120))
        xy = rng.uniform(0, 380, (n, 2)).astype(np.float32)
        boxes = np.concatenate((xy, xy + rng.uniform(5, 120, (n, 2)).astype(np.float32)), axis=1)
        scores = rng.uniform(0.25, 0.6, n).astype(np.float32)  # around person's 0.3 and bed's 0.4
        ids = rng.choice([0, 0, 0, classes.index("bed"), 2, 56], n)
        slow = _finish(boxes, scores, ids, classes, prep, calibration, None)
        fast = _finish(boxes, scores, ids, classes, prep, calibration, None, table)
        assert fast == slow
        kept += len(fast)
    assert kept > 100
