"""One valid example of every message: for the AsyncAPI document, the docs and tests."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.delivery import DeliveryReceipt
from contracts.devices import (
    CameraHealth,
    ConfigPush,
    DetectorHealth,
    DeviceStatus,
    EdgeHealth,
    NodeStatus,
    OutboxHealth,
    SensorHealth,
    SensorReading,
)
from contracts.envelope import Envelope
from contracts.geo import GeoPoint
from contracts.hazards import (
    Box,
    Detection,
    EventState,
    EvidenceRef,
    EvidenceSnapshot,
    HazardEvent,
    HazardType,
    Measurement,
    Severity,
    Unit,
)
from contracts.tasks import CaseNotice, LocationFix, TaskAction, TaskOffer, TaskResult, TaskUpdate

TS = datetime(2026, 11, 21, 15, 12, 30, tzinfo=UTC)  # 23:12:30 in Asia/Shanghai
SITE = GeoPoint(lon=120.3121, lat=31.4955)
JPEG_1PX = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q=="  # noqa: E501
EVIDENCE = EvidenceRef(
    evidence_id="ev-01a2-cam-factory-a",
    sha256="9a4b1b0b1b8a4f0c0d2a4c1e8f2b6d3a5c7e9f1a3b5d7f9e1c3a5b7d9f1e3c5a",
    size_bytes=48213,
)


def examples() -> dict[str, Envelope]:
    """Keyed by message kind."""
    node = "node-gongye-1"
    common = {"source": node, "ts": TS}
    return {
        "hazard_event": HazardEvent(
            id="01a2023a-5c00-7000-8000-000000000001",
            seq=4182,
            **common,
            hazard_type=HazardType.OCCUPIED_FACTORY_DORM,
            severity=Severity.MAJOR,
            confidence=0.86,
            state=EventState.NEW,
            episode_id="ep-cam-factory-a-floor-0412",
            device_id="cam-factory-a",
            zone_id="floor",
            location=SITE,
            rule="occupied_factory_dorm",
            summary="2 people on the factory floor for 14 min after 21:00; a bed detected",
            detections=[
                Detection(
                    label="person",
                    score=0.91,
                    box=Box(x1=0.41, y1=0.52, x2=0.49, y2=0.88),
                    track_id=17,
                    dwell_s=842,
                ),
                Detection(label="bed", score=0.77, box=Box(x1=0.10, y1=0.60, x2=0.38, y2=0.95)),
            ],
            evidence=EVIDENCE,
            started_at=datetime(2026, 11, 21, 14, 58, 10, tzinfo=UTC),
        ),
        "evidence": EvidenceSnapshot(
            id="01a2023a-5c00-7000-8000-000000000002",
            seq=4183,
            **common,
            evidence_id="ev-01a2-cam-factory-a",
            event_id="01a2023a-5c00-7000-8000-000000000001",
            device_id="cam-factory-a",
            width=1,
            height=1,
            sha256="0" * 64,
            jpeg_b64=JPEG_1PX,
        ),
        "sensor_reading": SensorReading(
            id="01a2023a-5c00-7000-8000-000000000003",
            seq=4184,
            **common,
            device_id="gas-workshop-b1",
            measurements=[
                Measurement(quantity="gas", value=27.5, unit=Unit.PERCENT_LEL),
                Measurement(quantity="linkquality", value=112, unit=Unit.LQI),
            ],
            flags=[],
        ),
        "device_status": DeviceStatus(
            id="01a2023a-5c00-7000-8000-000000000004",
            seq=4185,
            **common,
            device_id="smk-factory-a1",
            state="online",
            battery=87,
        ),
        "node_status": NodeStatus(
            id="01a2023a-5c00-7000-8000-000000000005",
            seq=1,
            **common,
            state="online",
            version="0.1.0",
            started_at=TS,
        ),
        "edge_health": EdgeHealth(
            id="01a2023a-5c00-7000-8000-000000000006",
            seq=4186,
            **common,
            uptime_s=86400,
            cameras=[
                CameraHealth(
                    camera_id="cam-factory-a",
                    state="streaming",
                    frames_in=432000,
                    frames_analysed=86400,
                    frames_dropped=12,
                    decode_ms=3.1,
                    inference_ms=11.8,
                    queue_depth=0,
                )
            ],
            sensors=[SensorHealth(device_id="smk-factory-a1", state="ok", last_seen=TS)],
            outbox=OutboxHealth(depth=0, capacity=100000, oldest_unsent_age_s=0, evicted_total=0),
            detector=DetectorHealth(model="yolox_nano", loaded=True),
        ),
        "config_push": ConfigPush(
            id="01a2023a-5c00-7000-8000-000000000007",
            seq=88,
            source="gateway-1",
            ts=TS,
            node_id=node,
            config_version="sha256:5f1c",
            node_config={"node": {"id": node, "location": {"lon": 120.3118, "lat": 31.4958}}},
        ),
        "task_offer": TaskOffer(
            id="01a2023a-5c00-7000-8000-000000000008",
            seq=89,
            source="gateway-1",
            ts=TS,
            task_id="01a2023a-5c00-7000-8000-0000000000a1",
            case_id="01a2023a-5c00-7000-8000-000000000001",
            worker_id="w-ma-li",
            hazard_type=HazardType.SMOKE_ALARM,
            severity=Severity.CRITICAL,
            urgent=True,
            location=SITE,
            grid_id="g-gongye-01",
            title="烟感报警 Smoke alarm · 车间烟感 1",
            accept_by=datetime(2026, 11, 21, 15, 13, 30, tzinfo=UTC),
            on_site_by=datetime(2026, 11, 21, 15, 17, 30, tzinfo=UTC),
            reason="nearest on-duty full-time worker in own grid: 245 m from live fix",
            evidence=EVIDENCE,
        ),
        "task_update": TaskUpdate(
            id="01a2023a-5c00-7000-8000-000000000009",
            seq=311,
            source="w-ma-li",
            ts=TS,
            task_id="01a2023a-5c00-7000-8000-0000000000a1",
            worker_id="w-ma-li",
            action=TaskAction.RESOLVE,
            result=TaskResult.HANDLED,
            note="burnt pan in the canteen; ventilated, detector reset",
            location=SITE,
        ),
        "location_fix": LocationFix(
            id="01a2023a-5c00-7000-8000-00000000000a",
            seq=312,
            source="w-ma-li",
            ts=TS,
            worker_id="w-ma-li",
            location=GeoPoint(lon=120.3109, lat=31.4961),
            accuracy_m=6,
            on_patrol=True,
        ),
        "case_notice": CaseNotice(
            id="01a2023a-5c00-7000-8000-00000000000b",
            seq=90,
            source="gateway-1",
            ts=TS,
            case_id="01a2023a-5c00-7000-8000-000000000001",
            event="escalated",
            hazard_type=HazardType.SMOKE_ALARM,
            severity=Severity.CRITICAL,
            status="escalated",
            grid_id="g-gongye-01",
            location=SITE,
            tier="grid_leader",
            worker_id="w-zhao-lei",
            text="escalated to grid_leader: 赵磊 (leader of 工业园一网格) — SLA breach: 300 s passed waiting "
            "for the worker to be on site (w-ma-li)",
        ),
        "delivery_receipt": DeliveryReceipt(
            id="01a2023a-5c00-7000-8000-00000000000c",
            seq=0,
            source="gateway-1",
            ts=TS,
            stream=node,
            since=1,
            through=4183,
            also=[(4185, 4186)],
        ),
    }
