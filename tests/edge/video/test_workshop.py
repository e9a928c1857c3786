"""illegal_workshop: people and motion in a no-production zone at night,
sustained; a gas alarm near the camera (sensor fusion) makes it critical."""

from __future__ import annotations

from contracts import EventState, HazardType, Measurement, Severity, Unit
from edge.fusion import FusionHub, SensorSignal
from edge.video.detector.engine import DetectorService
from edge.video.pipeline import CameraPipeline
from edge.video.settings import VideoSettings
from tests.support.video.drive import at, camera, full_zone, play
from tests.support.video.media import PEDESTRIANS, clip

SETTINGS = VideoSettings(workshop={"sustain_s": 12, "update_interval_s": 600})
STEP = 0.2


def workshop(detector: DetectorService, fusion: FusionHub) -> CameraPipeline:
    zone = full_zone(384, 288, "no_production_site", "daily 20:00-07:00", "sealed")
    return CameraPipeline(camera(384, 288, [zone]), "node-gongye-1", detector, SETTINGS, fusion)


def test_sustained_night_activity_then_a_gas_alarm_nearby(yolox: DetectorService) -> None:
    fusion = FusionHub()
    p = workshop(yolox, fusion)
    clock = at(23, 15)
    run = play(p, clip(PEDESTRIANS, every=2, limit=100), clock, STEP)  # 20 s of people moving about
    shop = run.of(HazardType.ILLEGAL_WORKSHOP)
    assert [e.state for e in shop] == [EventState.NEW]
    assert shop[0].severity is Severity.MAJOR and shop[0].zone_id == "sealed"
    assert any(d.label == "person" for d in shop[0].detections) and shop[0].evidence is not None

    gas = Measurement(quantity="gas", value=38.0, unit=Unit.PERCENT_LEL)
    fusion.publish(
        SensorSignal("gas-workshop-b1", "combustible_gas", clock.now(), ("cam-test",), Severity.MAJOR, (gas,))
    )
    run = play(p, clip(PEDESTRIANS, every=2)[100:110], clock, STEP, run)
    shop = run.of(HazardType.ILLEGAL_WORKSHOP)
    assert [e.state for e in shop] == [EventState.NEW, EventState.UPDATE]
    update = shop[1]
    assert update.severity is Severity.CRITICAL and "gas-workshop-b1" in update.summary
    assert update.readings == [gas] and update.evidence is not None


def test_the_same_activity_by_day_is_normal_work(yolox: DetectorService) -> None:
    p = workshop(yolox, FusionHub())
    run = play(p, clip(PEDESTRIANS, every=2, limit=100), at(10), STEP)
    assert run.of(HazardType.ILLEGAL_WORKSHOP) == []
    assert p.stats.detector_passes == 0, "nothing armed by day: the detector is not even asked"
