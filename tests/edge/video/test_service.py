"""VideoService end to end: real sources (files, an HTTP camera), the real detector,
events through a real Mosquitto, health and Prometheus metrics, and bad input
that is reported while the other cameras keep working."""

from __future__ import annotations

import base64
import hashlib
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest

from contracts import (
    EdgeHealth,
    EventState,
    EvidenceSnapshot,
    HazardEvent,
    HazardType,
    Severity,
    decode,
    topics,
)
from contracts.site import load_node_config
from contracts.site.models import EdgeNodeConfig
from edge.emit import ListEmitter
from edge.fusion import FusionHub, SensorSignal
from edge.video.service import VideoService
from edge.video.settings import VideoSettings
from gridwatch.broker import Mosquitto, free_port
from tests.support.brokers.mqtt import Collector
from tests.support.paths import DEMO_SITE
from tests.support.video.drive import SHANGHAI
from tests.support.video.media import PEDESTRIANS
from tests.support.video.streams import MjpegCamera
from tests.support.video.uplink import MqttEmitter, ShiftedClock
from tests.support.waiting import wait_until

NIGHT = datetime(2025, 3, 5, 23, 0, tzinfo=SHANGHAI)
QUICK = {
    "dorm": {"person_dwell_s": 3, "update_interval_s": 2, "clear_after_s": 5},
    "camera": {"offline_after_s": 1.5, "recover_after_s": 1.0, "blocked_after_s": 30},
    "sources": {"backoff_initial_s": 0.1, "backoff_max_s": 0.5, "open_timeout_s": 2, "read_timeout_s": 1},
}


def settings(models: Path, **overrides: object) -> VideoSettings:
    data: dict = {**QUICK, "detector": {"model_path": [models], "threads": 1}}
    data.update(overrides)
    return VideoSettings(**data)


def node(*cameras: dict) -> EdgeNodeConfig:
    return EdgeNodeConfig.model_validate(
        {
            "node": {"id": "node-test", "location": {"lon": 120.3, "lat": 31.5}},
            "cameras": [
                {"resolution": [384, 288], "location": {"lon": 120.3, "lat": 31.5}, "fps": 5, **c}
                for c in cameras
            ],
        }
    )


@contextmanager
def running(service: VideoService) -> Iterator[VideoService]:
    service.start()
    try:
        yield service
    finally:
        service.stop()


def sent(emitter: ListEmitter, hazard: HazardType, camera: str | None = None) -> list[HazardEvent]:
    return [
        m
        for _, m, _ in emitter.sent
        if isinstance(m, HazardEvent)
        and m.hazard_type is hazard
        and (camera is None or m.device_id == camera)
    ]


def test_the_demo_node_sends_its_hazards_through_mosquitto(
    mosquitto: Mosquitto, media_env: Path, shared_models: Path
) -> None:
    """The demo's industrial-park node at 23:00: cam-factory-a (people on the factory floor)
    and cam-workshop-b (the fire) reach a subscriber as valid contract messages."""
    config = load_node_config(DEMO_SITE / "nodes" / "node-gongye-1.yaml")
    collector = Collector(mosquitto, f"{topics.ROOT}/node/node-gongye-1/#")
    emitter = MqttEmitter(mosquitto, "node-gongye-1")
    service = VideoService(config, emitter, FusionHub(), ShiftedClock(NIGHT), settings(shared_models))
    try:
        with running(service):

            def received() -> list:
                return [decode(m.topic, m.payload) for m in list(collector.messages)]

            def hazards(kind: HazardType) -> list[HazardEvent]:
                return [m for m in received() if isinstance(m, HazardEvent) and m.hazard_type is kind]

            wait_until(
                lambda: hazards(HazardType.FIRE_SMOKE), timeout=30, what="fire_smoke from cam-workshop-b"
            )
            wait_until(
                lambda: hazards(HazardType.OCCUPIED_FACTORY_DORM), timeout=45, what="the factory floor event"
            )
            health = service.health()
    finally:
        emitter.close()
        collector.close()

    messages = received()
    fire = hazards(HazardType.FIRE_SMOKE)[0]
    assert fire.state is EventState.NEW and fire.severity is Severity.CRITICAL
    assert fire.device_id == "cam-workshop-b" and fire.zone_id == "sealed" and fire.source == "node-gongye-1"
    dorm = hazards(HazardType.OCCUPIED_FACTORY_DORM)[0]
    assert dorm.state is EventState.NEW and dorm.device_id == "cam-factory-a" and dorm.zone_id == "floor"
    assert dorm.location == config.cameras[0].location
    snaps = {m.evidence_id: m for m in messages if isinstance(m, EvidenceSnapshot)}
    for event in (fire, dorm):
        assert event.evidence is not None
        snap = snaps[event.evidence.evidence_id]
        jpeg = base64.b64decode(snap.jpeg_b64)
        assert hashlib.sha256(jpeg).hexdigest() == event.evidence.sha256 and len(jpeg) <= 200_000
        assert snap.event_id == event.id
    seqs = [m.seq for m in messages]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "the uplink numbers messages in order"
    assert not [
        m for m in messages if isinstance(m, HazardEvent) and m.hazard_type is HazardType.CAMERA_BLOCKED
    ]
    EdgeHealth(source="node-gongye-1", seq=1, uptime_s=1, cameras=health, detector=service.detector_health())
    assert {h.camera_id: h.state for h in health} == {
        "cam-factory-a": "streaming",
        "cam-workshop-b": "streaming",
    }
    assert all(h.frames_in > 0 and h.frames_analysed > 0 and h.decode_ms > 0 for h in health)
    assert next(h for h in health if h.camera_id == "cam-factory-a").inference_ms > 0


def test_a_stream_that_disappears_is_offline_until_it_returns(shared_models: Path) -> None:
    camera = MjpegCamera(PEDESTRIANS, fps=10, limit=40).start()
    emitter = ListEmitter("node-test")
    service = VideoService(
        node({"id": "cam-net", "source": camera.url}), emitter, settings=settings(shared_models)
    )
    try:
        with running(service):
            wait_until(
                lambda: service.health()[0].frames_analysed > 3, timeout=15, what="frames from the stream"
            )
            camera.stop()
            wait_until(lambda: sent(emitter, HazardType.CAMERA_OFFLINE), timeout=15, what="camera_offline")
            health = service.health()[0]
            assert health.state == "offline" and "cannot be opened" in health.error
            camera.start()  # the same address comes back
            wait_until(
                lambda: len(sent(emitter, HazardType.CAMERA_OFFLINE)) == 2,
                timeout=15,
                what="the offline clear",
            )
            wait_until(lambda: service.health()[0].state == "streaming", timeout=5, what="streaming again")
    finally:
        camera.stop()
    offline = sent(emitter, HazardType.CAMERA_OFFLINE)
    assert [e.state for e in offline] == [EventState.NEW, EventState.CLEAR]
    assert offline[0].episode_id == offline[1].episode_id and offline[0].device_id == "cam-net"


def test_bad_input_is_reported_and_the_other_cameras_keep_working(
    tmp_path: Path, shared_models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRIDWATCH_NOT_SET", raising=False)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64)
    good_zones = [
        {"id": "floor", "type": "factory_floor", "polygon": [[0, 60], [384, 60], [384, 288], [0, 288]]},
        {"id": "yard", "type": "storage", "polygon": [[300, 200], [700, 200], [700, 500], [300, 500]]},
    ]
    config = node(
        {"id": "cam-good", "source": str(PEDESTRIANS), "zones": good_zones},
        {"id": "cam-unreachable", "source": f"http://127.0.0.1:{free_port()}/stream.mjpg"},
        {"id": "cam-corrupt", "source": str(corrupt)},
        {"id": "cam-unset", "source": "${GRIDWATCH_NOT_SET}/clip.mp4"},
    )
    emitter = ListEmitter("node-test")
    service = VideoService(config, emitter, settings=settings(shared_models))
    with running(service):
        wait_until(
            lambda: len(sent(emitter, HazardType.CAMERA_OFFLINE)) >= 3, timeout=20, what="three offline"
        )
        wait_until(
            lambda: service.health()[0].frames_analysed > 10, timeout=20, what="the good camera working"
        )
        health = {h.camera_id: h for h in service.health()}
        warnings = service.warnings()
    good = health["cam-good"]
    assert good.state == "streaming" and good.frames_analysed > 10
    assert "zone 'yard'" in good.error and "clipped" in good.error
    assert (
        health["cam-unreachable"].state == "offline" and "cannot be opened" in health["cam-unreachable"].error
    )
    assert health["cam-corrupt"].state == "offline" and "cannot be decoded" in health["cam-corrupt"].error
    assert health["cam-unset"].state == "error" and "GRIDWATCH_NOT_SET" in health["cam-unset"].error
    offline = {e.device_id for e in sent(emitter, HazardType.CAMERA_OFFLINE)}
    assert offline == {"cam-unreachable", "cam-corrupt", "cam-unset"}
    assert any("cam-good" in w and "yard" in w for w in warnings)


def test_without_a_model_the_node_still_watches_for_fire_and_says_why(
    tmp_path: Path, media_env: Path
) -> None:
    config = node(
        {
            "id": "cam-fire",
            "source": "${GRIDWATCH_MEDIA}/clips/fire_fuel_bed.mp4",
            "resolution": [258, 246],
            "zones": [
                {"id": "sealed", "type": "no_production_site", "polygon": [[0, 0], [258, 0], [258, 246]]}
            ],
        }
    )
    emitter = ListEmitter("node-test")
    service = VideoService(config, emitter, settings=settings(tmp_path / "no-models"))
    detector = service.detector_health()
    assert not detector.loaded and "not found" in detector.reason
    assert any("detector not loaded" in w for w in service.warnings())
    with running(service):
        wait_until(lambda: sent(emitter, HazardType.FIRE_SMOKE), timeout=30, what="fire without a detector")
    assert service.health()[0].inference_ms == 0


def test_prometheus_metrics_and_a_snapshot_when_a_smoke_alarm_goes_off(shared_models: Path) -> None:
    port = free_port()
    fusion = FusionHub()
    emitter = ListEmitter("node-test")
    config = node({"id": "cam-a", "source": str(PEDESTRIANS)}, {"id": "cam-b", "source": str(PEDESTRIANS)})
    service = VideoService(config, emitter, fusion, settings=settings(shared_models, metrics_port=port))
    with running(service):
        wait_until(lambda: all(h.frames_analysed > 2 for h in service.health()), timeout=15, what="analysis")
        fusion.publish(SensorSignal("smk-1", "smoke", datetime.now(SHANGHAI), ("cam-b",), Severity.CRITICAL))
        wait_until(
            lambda: [m for _, m, _ in emitter.sent if isinstance(m, EvidenceSnapshot)],
            timeout=10,
            what="snapshot",
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    (snap,) = [m for _, m, _ in emitter.sent if isinstance(m, EvidenceSnapshot)]
    assert snap.device_id == "cam-b" and snap.event_id is None
    assert 'gridwatch_video_frames_analysed_total{camera="cam-a"}' in text
    assert 'gridwatch_video_camera_state{camera="cam-b",state="streaming"} 1.0' in text
    assert 'gridwatch_video_detector_loaded{node="node-test"} 1.0' in text
    assert "gridwatch_video_detector_inferences_total" in text


def test_python_switch_interval_and_opencv_threads_are_set_while_cameras_run_and_restored() -> None:
    import sys

    import cv2

    before_interval, before_threads = sys.getswitchinterval(), cv2.getNumThreads()
    service = VideoService(
        node({"id": "cam-a", "source": str(PEDESTRIANS)}),
        ListEmitter("node-test"),
        settings=VideoSettings(
            detector={"model_path": ["/nonexistent"]}, switch_interval_ms=2, opencv_threads=1
        ),
    )
    with running(service):
        assert sys.getswitchinterval() == pytest.approx(0.002)
        assert cv2.getNumThreads() == 1
    assert sys.getswitchinterval() == before_interval
    assert cv2.getNumThreads() == before_threads


def test_a_fire_the_outbox_cannot_write_yet_waits_in_the_node_and_is_sent_once_it_can(
    shared_models: Path, tmp_path: Path
) -> None:
    """An edge box's card turns read-only or fills while a camera sees fire: the event and its
    picture used to be logged and dropped. They wait in the node, in order, said in the camera's
    health and the node's warnings, and are queued as soon as the outbox writes again."""
    from edge.outbox import Outbox
    from edge.settings import BrokerSettings
    from tests.support.video.media import FIRE

    outbox = Outbox("node-test", tmp_path / "outbox.db", BrokerSettings())  # never started: no broker
    store = outbox.store
    with store._lock:  # the node's own SQLite outbox, made read-only as a failing card is
        store._db.execute("PRAGMA query_only=ON")
    service = VideoService(
        node({"id": "cam-fire", "source": str(FIRE)}), outbox, settings=settings(shared_models)
    )

    def waiting() -> str:
        (health,) = service.health()
        return health.error if "not queued yet" in health.error else ""

    try:
        with running(service):
            wait_until(lambda: "1 event(s)" in waiting(), timeout=30, what="the fire to wait in the node")
            assert any("cam-fire" in w and "not queued yet" in w for w in service.warnings())
            assert store.pending(0, 100) == []
            with store._lock:
                store._db.execute("PRAGMA query_only=OFF")
            wait_until(lambda: not waiting(), timeout=10, what="what waited to be queued")
            queued = [decode(m.topic, m.payload) for m in store.pending(0, 1000)]
    finally:
        outbox.stop()
    fires = [m for m in queued if isinstance(m, HazardEvent) and m.hazard_type is HazardType.FIRE_SMOKE]
    assert fires and fires[0].state is EventState.NEW
    pictures = [m for m in queued if isinstance(m, EvidenceSnapshot) and m.event_id == fires[0].id]
    assert pictures, "the fire's picture went with it"
    assert queued.index(fires[0]) < queued.index(pictures[0])  # the event before its picture
    assert not any("not queued yet" in w for w in service.warnings())
