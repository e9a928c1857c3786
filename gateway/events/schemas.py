"""Read models of the dead-letter store and of the device reports on a case."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class DeadLetterView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    received_at: datetime
    topic: str
    source: str | None
    reason: str
    detail: str
    payload_size: int
    payload_preview: str
    replayed_at: datetime | None
    replay_result: str | None


class Reading(BaseModel):
    quantity: str
    value: float
    unit: str


class ReadingEvent(BaseModel):
    """One device report on a case (the alarm, its updates, the clear) and what it measured."""

    id: str
    at: datetime
    received_at: datetime
    state: str | None
    severity: str | None
    device_id: str | None
    zone_id: str | None
    confidence: float | None
    rule: str
    summary: str
    readings: list[Reading]
    detections: list[str]  # what a camera saw: label and confidence
