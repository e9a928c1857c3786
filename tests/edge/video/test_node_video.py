"""Video inside the real edge node: hazard events and their evidence leave through the node's
own outbox to a real Mosquitto and validate against the contracts; every camera's health is in
the node's periodic EdgeHealth messages and on the node's Prometheus endpoint."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from contracts import EdgeHealth, EvidenceSnapshot, HazardEvent, HazardType, Severity
from edge.node import EdgeNode
from edge.video.settings import VideoSettings
from gridwatch.broker import Mosquitto, free_port
from tests.support.brokers.edge_mqtt import DurableSubscriber
from tests.support.processes.edge_node import HERE, edge_settings, node_config
from tests.support.video.media import FIRE
from tests.support.waiting import wait_until


def camera_health(sub: DurableSubscriber) -> dict[str, dict]:
    """Camera id -> its entry in the newest EdgeHealth message."""
    messages = sub.messages(EdgeHealth)
    if not messages:
        return {}
    health: EdgeHealth = messages[-1].message  # type: ignore[assignment]
    return {c.camera_id: c.model_dump() for c in health.cameras}


def test_the_node_publishes_video_events_and_camera_health(
    mosquitto: Mosquitto, tmp_path: Path, shared_models: Path
) -> None:
    fire_zone = {
        "id": "sealed",
        "type": "no_production_site",
        "polygon": [[0, 0], [258, 0], [258, 246], [0, 246]],
        "schedules": ["always"],
    }
    cameras = [
        {"id": "cam-fire", "source": str(FIRE), "resolution": [258, 246], "fps": 5, "zones": [fire_zone]},
        {"id": "cam-gone", "source": f"http://127.0.0.1:{free_port()}/stream.mjpg", "fps": 5},
    ]
    config = node_config("node-v", [], [{"location": HERE, "resolution": [384, 288], **c} for c in cameras])
    port = free_port()
    settings = edge_settings(mosquitto, tmp_path).model_copy(
        update={"health_interval_s": 0.5, "metrics_port": port}
    )
    video = VideoSettings(
        detector={"model_path": [shared_models], "threads": 1},
        camera={"offline_after_s": 1.5},
        sources={"backoff_initial_s": 0.1, "backoff_max_s": 0.5, "open_timeout_s": 2},
    )
    sub = DurableSubscriber(mosquitto, "gridwatch/v1/node/node-v/#", client_id="test-node-video")
    node = EdgeNode(config, settings, video_settings=video)
    try:
        node.start()

        def fire() -> list[HazardEvent]:
            return [
                r.message  # type: ignore[misc]
                for r in sub.messages(HazardEvent)
                if r.message.hazard_type is HazardType.FIRE_SMOKE  # type: ignore[attr-defined]
            ]

        wait_until(lambda: fire(), timeout=40, what="fire_smoke through the node's outbox")

        def reported() -> bool:
            cams = camera_health(sub)
            return (
                cams.get("cam-fire", {}).get("frames_analysed", 0) > 10
                and cams.get("cam-gone", {}).get("state") == "offline"
            )

        wait_until(reported, timeout=20, what="both cameras in an EdgeHealth message")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            metrics = resp.read().decode()
    finally:
        node.stop()
        sub.close()

    assert sub.bad == [], "every message validates against the contracts"
    event = fire()[0]
    assert event.source == "node-v" and event.seq > 0 and event.severity is Severity.CRITICAL
    assert event.device_id == "cam-fire" and event.evidence is not None
    snaps = [r.message for r in sub.messages(EvidenceSnapshot)]
    assert any(s.evidence_id == event.evidence.evidence_id for s in snaps), "the picture arrived too"
    offline = [
        r.message for r in sub.messages(HazardEvent) if r.message.hazard_type is HazardType.CAMERA_OFFLINE
    ]
    assert {e.device_id for e in offline} == {"cam-gone"}  # type: ignore[attr-defined]

    cams = camera_health(sub)
    good, gone = cams["cam-fire"], cams["cam-gone"]
    assert good["state"] == "streaming" and good["frames_in"] >= good["frames_analysed"] > 10
    assert good["decode_ms"] > 0 and good["inference_ms"] > 0, "the zone is armed: the detector runs"
    assert {"queue_depth", "frames_dropped"} <= good.keys()
    assert gone["frames_in"] == 0 and "cannot be opened" in gone["error"]
    health: EdgeHealth = sub.messages(EdgeHealth)[-1].message  # type: ignore[assignment]
    assert health.detector is not None and health.detector.loaded and health.detector.model == "yolox_nano"

    assert 'gridwatch_video_frames_analysed_total{camera="cam-fire"}' in metrics
    assert 'gridwatch_video_camera_state{camera="cam-gone",state="offline"} 1.0' in metrics
    assert 'gridwatch_video_events_total{camera="cam-fire",hazard="fire_smoke",state="new"}' in metrics


def test_an_operator_marked_object_reaches_the_node_live_and_a_bad_push_changes_nothing(
    mosquitto: Mosquitto, tmp_path: Path, shared_models: Path
) -> None:
    """The console's "this is not a person" path: a retained ConfigPush on the node's config
    topic carries the camera with an ignore_objects entry made from an event's detection; the
    running node applies it without a restart. A push that fails the contract is refused and
    said so in the node's health, and the camera keeps its configuration."""
    import cv2

    from contracts import ConfigPush, Detection, encode, topics
    from contracts.site.models import IgnoreObject
    from tests.support.brokers.mqtt import publisher
    from tests.support.video.media import photo
    from tests.support.video.synthetic import ROOM, with_cutout

    scene = with_cutout(photo(ROOM))
    h, w = scene.shape[:2]
    clip_path = tmp_path / "room.mp4"
    writer = cv2.VideoWriter(str(clip_path), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (w, h))
    for _ in range(10):
        writer.write(scene)
    writer.release()
    zone = {"id": "floor", "type": "factory_floor", "polygon": [[0, 0], [w, 0], [w, h], [0, h]]}
    cam = {"id": "cam-room", "source": str(clip_path), "resolution": [w, h], "fps": 2, "zones": [zone]}
    config = node_config("node-mark", [], [{"location": HERE, **cam}])
    video = VideoSettings(detector={"model_path": [shared_models], "threads": 1, "workers": 1})
    node = EdgeNode(config, edge_settings(mosquitto, tmp_path), video_settings=video)
    client = publisher(mosquitto, "test-console")
    try:
        node.start()
        assert node.video is not None
        pipeline = node.video.runners["cam-room"].pipeline
        wait_until(lambda: pipeline.stats.detector_passes > 0, timeout=30, what="the camera analysing")
        poster = next(d for d in pipeline.detect_full_frame(scene) if d.label == "person" and d.x1 < 200)
        seen = Detection(
            label="person",
            score=0.66,
            box={"x1": poster.x1 / w, "y1": poster.y1 / h, "x2": poster.x2 / w, "y2": poster.y2 / h},
        )
        mark = IgnoreObject.from_detection(seen, (w, h), note="poster", marked_by="op-zhang", event_id="e1")
        marked = config.model_copy(deep=True)
        marked.cameras[0].ignore_objects.append(mark)

        def push(node_config: dict, version: str) -> None:
            msg = ConfigPush(
                source="gateway-1",
                seq=1,
                ts=node.clock.now(),
                node_id="node-mark",
                config_version=version,
                node_config=node_config,
            )
            client.publish(topics.node_config("node-mark"), encode(msg), qos=1, retain=True).wait_for_publish(
                5
            )

        push({"node": {"id": "node-mark"}, "cameras": "not a list"}, "v-bad")
        wait_until(lambda: any("refused" in n for n in node.config_notes), timeout=10, what="refusal")
        assert any("refused" in warning for warning in node.health().warnings)
        assert pipeline.camera.ignore_objects == []

        push(marked.model_dump(mode="json"), "v2")
        wait_until(
            lambda: pipeline.geometry is not None and pipeline.geometry.ignore_objects,
            timeout=15,
            what="the mark applied at the camera",
        )
        left = [d for d in pipeline.detect_full_frame(scene) if d.label == "person"]
        assert left and all(d.x1 > 300 for d in left), "the poster is dropped, the people stay"
        assert node.config_notes == [], "applied live: nothing waits for a restart"
    finally:
        client.publish(topics.node_config("node-mark"), b"", qos=1, retain=True).wait_for_publish(5)
        client.disconnect()
        client.loop_stop()
        node.stop()
