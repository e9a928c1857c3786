"""Read models of escalations."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class EscalationView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    tier: str
    level: int
    trigger: str
    reason: str
    target: str
    skipped: bool
    at: datetime
    actor: str
