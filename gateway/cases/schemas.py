"""Read models of cases, as the API and CLI show them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class TransitionView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    from_status: str | None
    to_status: str
    actor: str
    reason: str
    event_id: str | None
    change: str = "status"  # status, or: severity, cleared, returned, corroborated, confirmed


class CaseView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    hazard_type: str
    category: str
    severity: str
    status: str
    urgent: bool
    grid_id: str | None
    device_id: str | None
    zone_id: str | None
    node_id: str | None
    lon: float | None
    lat: float | None
    event_count: int
    first_seen_at: datetime
    last_seen_at: datetime
    source_cleared_at: datetime | None
    opened_at: datetime
    updated_at: datetime
    assigned_worker_id: str | None
    warnings: list[str]
    evidence_ids: list[str]
    confirmed_at: datetime | None = None
    confirmed_by: str | None = None
    corroborated_by: str | None = None
    merged_into: str | None = None


class CaseDetail(CaseView):
    transitions: list[TransitionView]
