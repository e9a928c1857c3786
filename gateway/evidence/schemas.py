"""Read models of evidence."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class EvidenceView(BaseModel):
    """One snapshot of a case: a camera's frame, a worker's photo, or another device's picture."""

    id: str
    kind: str  # camera, worker or device
    device_id: str
    device_name: str
    worker_id: str | None
    event_id: str | None
    taken_at: datetime
    received_at: datetime
    width: int
    height: int
    url: str
