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
from tests.edge.mqtt_helpers import DurableSubscriber
from tests.edge.node_helpers import HERE, edge_settings, node_config
from tests.edge.video.media import FIRE
from tests.helpers import wait_until


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
