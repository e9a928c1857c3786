"""Read models of the dead-letter store."""

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
