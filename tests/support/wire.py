"""Wire helpers for tests: the topic a message travels on."""

from __future__ import annotations

from contracts import topics


def topic_for(message: object) -> str:
    kind = message.kind  # type: ignore[attr-defined]
    source = message.source  # type: ignore[attr-defined]
    by_kind = {
        "hazard_event": topics.node_event,
        "evidence": topics.node_evidence,
        "sensor_reading": topics.node_reading,
        "edge_health": topics.node_health,
        "node_status": topics.node_status,
        "location_fix": topics.worker_location,
        "task_update": topics.worker_task_update,
    }
    fields = message.__dict__  # type: ignore[attr-defined]
    if kind == "device_status":
        return topics.node_device_status(source, fields["device_id"])
    if kind in ("task_offer", "case_notice"):  # a channel of three kinds: the careful path only
        return topics.worker_task(fields.get("worker_id") or "w-ma-li")
    if kind == "config_push":
        return topics.node_config("node-gongye-1")
    if kind == "delivery_receipt":
        return topics.node_receipt(fields["stream"])
    return by_kind[kind](source)
