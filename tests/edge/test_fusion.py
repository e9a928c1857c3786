"""Sensors meet video in one node: a smoke alarm near a camera brings a snapshot attached to
the alarm's event, through the outbox and a real Mosquitto."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts import EvidenceSnapshot, HazardEvent, HazardType
from edge.video.settings import VideoSettings
from gridwatch.broker import Mosquitto
from tests.support.brokers.edge_mqtt import DurableSubscriber
from tests.support.brokers.mqtt import publisher
from tests.support.processes.edge_node import HERE, edge_settings, node_config
from tests.support.video.media import MODELS, PEDESTRIANS
from tests.support.waiting import wait_until


def test_smoke_alarm_near_a_camera_attaches_a_snapshot_to_the_alarm(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    if not (MODELS / "yolox_nano" / "yolox_nano.onnx").is_file():
        pytest.fail(f"detector weights are missing under {MODELS}")
    from edge.node import EdgeNode

    config = node_config(
        "node-v",
        [
            {
                "id": "smk-v",
                "kind": "smoke",
                "source": {"protocol": "zigbee2mqtt", "friendly_name": "workshop_smoke"},
                "near_cameras": ["cam-v"],
                "report_interval_s": 3600,
            }
        ],
        cameras=[
            {"id": "cam-v", "source": str(PEDESTRIANS), "resolution": [384, 288], "fps": 5, "location": HERE}
        ],
    )
    video = VideoSettings(detector={"model_path": [MODELS], "threads": 1})  # type: ignore[arg-type]
    sub = DurableSubscriber(mosquitto, "gridwatch/v1/node/node-v/#")
    z2m = publisher(mosquitto, "z2m")
    node = EdgeNode(config, edge_settings(mosquitto, tmp_path), video_settings=video)
    node.start()
    try:
        assert node.video is not None
        wait_until(lambda: node.video.health()[0].frames_analysed > 2, timeout=20, what="camera analysing")
        assert node.bus.connected.wait(10)
        z2m.publish("zigbee2mqtt/workshop_smoke", b'{"smoke": true, "battery": 90}', qos=1).wait_for_publish(
            5
        )
        wait_until(lambda: sub.messages(EvidenceSnapshot), timeout=20, what="the snapshot")
        (alarm,) = [r.message for r in sub.messages(HazardEvent)]
        assert alarm.hazard_type is HazardType.SMOKE_ALARM
        (snap,) = [r.message for r in sub.messages(EvidenceSnapshot)]
        assert snap.device_id == "cam-v" and snap.event_id == alarm.id
        health = node.health()
        assert [c.camera_id for c in health.cameras] == ["cam-v"] and health.detector is not None
    finally:
        node.stop()
        z2m.disconnect()
        z2m.loop_stop()
        sub.close()
