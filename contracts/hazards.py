"""What edge nodes see: hazard and maintenance events, and their evidence."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from contracts.envelope import (
    Count,
    Envelope,
    Identifier,
    MessageId,
    Model,
    StrictFloat,
    StrictInt,
    Text,
    UtcDatetime,
)
from contracts.geo import GeoPoint


class HazardType(StrEnum):
    """Everything that can open a case. Emergencies go to grid workers,
    maintenance troubles go to installers."""

    # emergencies
    OCCUPIED_FACTORY_DORM = "occupied_factory_dorm"  # 厂房住人: people living in a factory building
    ILLEGAL_WORKSHOP = "illegal_workshop"  # production at night in a no-production site
    FIRE_SMOKE = "fire_smoke"  # flames or smoke seen by a camera
    SMOKE_ALARM = "smoke_alarm"  # smoke detector in alarm
    GAS_LEAK = "gas_leak"  # combustible or toxic gas above threshold
    SIGHTING = "sighting"  # 协查线索: a worker saw whom or what a broadcast (协查通报) asks for
    # maintenance
    CAMERA_OFFLINE = "camera_offline"
    CAMERA_BLOCKED = "camera_blocked"  # view dark/uniform or the scene changed at once
    DEVICE_OFFLINE = "device_offline"  # a sensor went silent or its availability says offline
    LOW_BATTERY = "low_battery"
    TAMPER = "tamper"
    DEVICE_FAULT = "device_fault"  # trouble flag, warm-up that never ends, register map mismatch


class HazardCategory(StrEnum):
    EMERGENCY = "emergency"
    MAINTENANCE = "maintenance"


MAINTENANCE_TYPES = frozenset(
    {
        HazardType.CAMERA_OFFLINE,
        HazardType.CAMERA_BLOCKED,
        HazardType.DEVICE_OFFLINE,
        HazardType.LOW_BATTERY,
        HazardType.TAMPER,
        HazardType.DEVICE_FAULT,
    }
)


def category_of(hazard: HazardType) -> HazardCategory:
    if hazard in MAINTENANCE_TYPES:
        return HazardCategory.MAINTENANCE
    return HazardCategory.EMERGENCY


class Severity(StrEnum):
    INFO = "info"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    @classmethod
    def highest(cls, *values: Severity) -> Severity:
        return max(values, key=lambda s: s.rank)


_SEVERITY_RANK = {Severity.INFO: 0, Severity.MINOR: 1, Severity.MAJOR: 2, Severity.CRITICAL: 3}


class EventState(StrEnum):
    """Life of one situation at the source: one ``new``, any ``update``s, one ``clear``."""

    NEW = "new"
    UPDATE = "update"
    CLEAR = "clear"


UnitInterval = Annotated[StrictFloat, Field(ge=0.0, le=1.0)]


class Box(Model):
    """A box in normalised image coordinates (0..1, origin top-left)."""

    x1: UnitInterval
    y1: UnitInterval
    x2: UnitInterval
    y2: UnitInterval

    @model_validator(mode="after")
    def _ordered(self) -> Box:
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise ValueError("box corners must be ordered: x1 <= x2 and y1 <= y2")
        return self


class Detection(Model):
    """One tracked object behind an event."""

    label: Text = Field(max_length=64, description="Class name, e.g. 'person', 'bed', 'flame'.")
    score: UnitInterval = Field(description="Detector confidence.")
    box: Box
    track_id: Count | None = Field(default=None, description="Tracker id at the source.")
    dwell_s: StrictFloat | None = Field(default=None, ge=0, description="Seconds the track was seen.")


class Unit(StrEnum):
    PPM = "ppm"
    PERCENT_LEL = "%LEL"
    PERCENT_VOL = "%VOL"
    DB_PER_M = "dB/m"  # smoke obscuration
    PERCENT = "%"
    CELSIUS = "°C"
    BOOL = "bool"  # 1.0 true / 0.0 false, for detectors that only say alarm or not
    LQI = "lqi"
    NONE = ""


class Measurement(Model):
    quantity: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="What was measured: smoke, smoke_density, gas, gas_density, co, "
        "temperature, humidity, battery, linkquality, ...",
    )
    value: StrictFloat
    unit: Unit = Unit.NONE


class EvidenceRef(Model):
    """Points at an :class:`EvidenceSnapshot` published separately."""

    evidence_id: Text = Field(max_length=64)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_type: Literal["image/jpeg"] = "image/jpeg"
    size_bytes: StrictInt = Field(ge=0, le=200_000)


class HazardEvent(Envelope):
    """Something a device saw that a person should look at (or a device trouble)."""

    kind: Literal["hazard_event"] = "hazard_event"
    hazard_type: HazardType
    severity: Severity
    confidence: UnitInterval = Field(description="How sure the rule is, 0..1.")
    state: EventState = Field(description="new, update or clear of one situation (episode).")
    episode_id: Text = Field(
        max_length=64,
        description="Source-made id tying the new/update/clear of one situation together.",
    )
    device_id: Identifier = Field(description="Camera or sensor that saw it.")
    zone_id: Identifier | None = Field(default=None, description="Camera zone, if any.")
    location: GeoPoint | None = Field(
        default=None, description="Where it is; the gateway falls back to the device's site position."
    )
    rule: Text = Field(default="", max_length=64, description="Name of the rule that fired.")
    summary: Text = Field(default="", max_length=500, description="One line for people.")
    detections: list[Detection] = Field(default_factory=list, max_length=100)
    readings: list[Measurement] = Field(default_factory=list, max_length=50)
    evidence: EvidenceRef | None = None
    started_at: UtcDatetime | None = Field(default=None, description="When the situation began.")

    @property
    def category(self) -> HazardCategory:
        return category_of(self.hazard_type)


class EvidenceSnapshot(Envelope):
    """A JPEG (≤ 200 kB) with boxes and zone outlines drawn, base64 in JSON."""

    kind: Literal["evidence"] = "evidence"
    evidence_id: Text = Field(max_length=64)
    event_id: MessageId | None = Field(default=None, description="HazardEvent id it belongs to.")
    device_id: Identifier
    width: StrictInt = Field(gt=0, le=8192)
    height: StrictInt = Field(gt=0, le=8192)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    jpeg_b64: str = Field(
        max_length=270_000, pattern=r"^[A-Za-z0-9+/]*={0,2}$", description="Base64 of the JPEG bytes."
    )
