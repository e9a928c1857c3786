"""GridWatch wire contracts: the message models, the topic scheme and the
site-configuration schema that every component imports. Nothing in here does
I/O beyond reading configuration files."""

from contracts.codec import ALL_MESSAGES, ContractError, Message, decode, encode
from contracts.delivery import DeliveryReceipt
from contracts.devices import (
    Availability,
    CameraHealth,
    ConfigPush,
    DetectorHealth,
    DeviceFlag,
    DeviceStatus,
    EdgeHealth,
    NodeStatus,
    OutboxHealth,
    SensorHealth,
    SensorReading,
)
from contracts.envelope import SCHEMA_VERSION, Envelope, utcnow
from contracts.geo import GeoPoint
from contracts.hazards import (
    Box,
    Detection,
    EventState,
    EvidenceRef,
    EvidenceSnapshot,
    HazardCategory,
    HazardEvent,
    HazardType,
    Measurement,
    Severity,
    Unit,
    category_of,
)
from contracts.ids import new_id, uuid7
from contracts.tasks import (
    CaseNotice,
    LocationFix,
    NoticeEvent,
    TaskAction,
    TaskOffer,
    TaskResult,
    TaskUpdate,
)

__all__ = [
    "ALL_MESSAGES",
    "SCHEMA_VERSION",
    "Availability",
    "Box",
    "CameraHealth",
    "CaseNotice",
    "ConfigPush",
    "ContractError",
    "DeliveryReceipt",
    "Detection",
    "DetectorHealth",
    "DeviceFlag",
    "DeviceStatus",
    "EdgeHealth",
    "Envelope",
    "EventState",
    "EvidenceRef",
    "EvidenceSnapshot",
    "GeoPoint",
    "HazardCategory",
    "HazardEvent",
    "HazardType",
    "LocationFix",
    "Measurement",
    "Message",
    "NodeStatus",
    "NoticeEvent",
    "OutboxHealth",
    "SensorHealth",
    "SensorReading",
    "Severity",
    "TaskAction",
    "TaskOffer",
    "TaskResult",
    "TaskUpdate",
    "Unit",
    "category_of",
    "decode",
    "encode",
    "new_id",
    "utcnow",
    "uuid7",
]
