"""Device-side messages: sensor readings, statuses, edge health, config push."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from contracts.envelope import Count, Envelope, Identifier, Model, StrictBool, StrictFloat, Text, UtcDatetime
from contracts.hazards import Measurement


class DeviceFlag(StrEnum):
    ALARM = "alarm"  # the device itself says alarm
    TEST = "test"  # self-test in progress: never an emergency
    TAMPER = "tamper"
    BATTERY_LOW = "battery_low"
    FAULT = "fault"
    WARMUP = "warmup"


class SensorReading(Envelope):
    """Telemetry from one sensor at one moment."""

    kind: Literal["sensor_reading"] = "sensor_reading"
    device_id: Identifier
    measurements: list[Measurement] = Field(default_factory=list, max_length=50)
    flags: list[DeviceFlag] = Field(default_factory=list, max_length=10)


class Availability(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    DEGRADED = "degraded"


class DeviceStatus(Envelope):
    """Retained availability of one camera or sensor."""

    kind: Literal["device_status"] = "device_status"
    device_id: Identifier
    state: Availability
    reason: Text = Field(default="", max_length=200)
    battery: StrictFloat | None = Field(default=None, ge=0, le=100, description="Percent.")


class NodeStatus(Envelope):
    """Retained availability of an edge node; the broker publishes the last will
    (state offline) when the node drops without saying goodbye."""

    kind: Literal["node_status"] = "node_status"
    state: Literal["online", "offline"]
    reason: Text = Field(default="", max_length=200)
    version: Text = Field(default="", max_length=40)
    started_at: UtcDatetime | None = None


class CameraHealth(Model):
    camera_id: Identifier
    state: Literal["starting", "streaming", "reconnecting", "offline", "blocked", "error"]
    frames_in: Count
    frames_analysed: Count
    frames_dropped: Count
    decode_ms: StrictFloat = Field(ge=0)
    inference_ms: StrictFloat = Field(ge=0)
    queue_depth: Count
    error: Text = Field(default="", max_length=300)


class SensorHealth(Model):
    device_id: Identifier
    state: Literal["ok", "alarm", "silent", "offline", "fault", "warmup", "test"]
    last_seen: UtcDatetime | None = None
    error: Text = Field(default="", max_length=300)


class OutboxHealth(Model):
    """The node's store-and-forward outbox. Events, statuses and evidence stay in it until a
    gateway's receipt covers them; telemetry and health leave on the broker's PUBACK."""

    depth: Count = Field(description="Messages in the outbox: to send, and sent awaiting a receipt.")
    capacity: Count
    oldest_unsent_age_s: StrictFloat = Field(ge=0, description="Age of the oldest message in the outbox.")
    evicted_total: Count = Field(description="Telemetry dropped to make room.")
    awaiting_receipt: Count = Field(
        default=0, description="Sent and acknowledged by the broker, waiting for a gateway's receipt."
    )
    oldest_unreceipted_age_s: StrictFloat = Field(
        default=0, ge=0, description="Age of the oldest event, status or evidence no receipt covers yet."
    )
    resent_total: Count = Field(default=0, description="Messages sent again for want of a receipt.")
    no_subscriber_total: Count = Field(
        default=0,
        description="Events the broker acknowledged with 'no matching subscribers' (no gateway listening).",
    )
    last_seq: Count = Field(
        default=0, description="Highest sequence number the node has handed out (tail-loss check)."
    )
    dropped_seqs: list[tuple[Count, Count]] = Field(
        default_factory=list,
        max_length=32,
        description="Recent [first, last] sequence ranges the node dropped itself (outbox full), so the "
        "gateway can tell a loss at the source from one at the broker.",
    )


class DetectorHealth(Model):
    model: Text = Field(default="", max_length=64)
    loaded: StrictBool
    reason: Text = Field(default="", max_length=300, description="Why not loaded, if not.")


class EdgeHealth(Envelope):
    """Periodic health of an edge node."""

    kind: Literal["edge_health"] = "edge_health"
    uptime_s: StrictFloat = Field(ge=0)
    cameras: list[CameraHealth] = Field(default_factory=list, max_length=256)
    sensors: list[SensorHealth] = Field(default_factory=list, max_length=1024)
    outbox: OutboxHealth | None = None
    detector: DetectorHealth | None = None
    warnings: list[Annotated[Text, Field(max_length=500)]] = Field(default_factory=list, max_length=50)
    config_version: Text = Field(
        default="", max_length=64, description="The ConfigPush version the node applied; '' = its own file."
    )
    config_error: Text = Field(
        default="",
        max_length=300,
        description="Why the last ConfigPush was refused (the node keeps running the one before).",
    )


class ConfigPush(Envelope):
    """New configuration for one edge node (sent by the centre, retained).

    ``node_config`` follows :class:`contracts.site.models.EdgeNodeConfig`; it is
    carried as a mapping so that a node validates it with its own loader and can
    report every problem instead of the broker dropping the message.
    """

    kind: Literal["config_push"] = "config_push"
    node_id: Identifier
    config_version: Text = Field(max_length=64, description="Opaque version, e.g. a hash.")
    node_config: dict[str, Any]
