"""Read models of notification deliveries."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, field_validator


class DeliveryView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: str
    escalation_id: int | None
    event: str
    tier: str
    channel: str
    target: str
    format: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    created_at: datetime
    sent_at: datetime | None

    @field_validator("target")
    @classmethod
    def _hide_keys(cls, value: str) -> str:
        # Robot URLs carry their key in the query (?key=..., ?access_token=...): never show it.
        parts = urlsplit(value)
        return urlunsplit(parts._replace(query="…")) if parts.query else value
