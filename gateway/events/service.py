"""The ingest ledger and the dead-letter store."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contracts import Envelope, HazardEvent
from gateway.events.models import DeadLetter, EventRecord

MAX_KEPT_PAYLOAD = 64 * 1024  # a dead letter keeps this much of the raw payload
_TOPIC_OWNER = re.compile(r"^gridwatch/v1/[^/]+/([^/]{1,64})/")


def already_seen(session: Session, message_id: str) -> bool:
    return session.get(EventRecord, message_id) is not None


def record(
    session: Session, message: Envelope, topic: str, now: datetime, case_id: str | None = None
) -> EventRecord:
    hazard = message if isinstance(message, HazardEvent) else None
    row = EventRecord(
        id=message.id,
        kind=message.kind,
        source=message.source,
        seq=message.seq,  # type: ignore[attr-defined]
        ts=message.ts,
        received_at=now,
        topic=topic,
        device_id=getattr(message, "device_id", None),
        hazard_type=hazard.hazard_type.value if hazard else None,
        severity=hazard.severity.value if hazard else None,
        state=hazard.state.value if hazard else None,
        case_id=case_id,
        payload=message.model_dump_json(exclude_none=True),
    )
    session.add(row)
    return row


def dead_letter(
    session: Session, topic: str, payload: bytes, reason: str, detail: str, now: datetime
) -> DeadLetter:
    match = _TOPIC_OWNER.match(topic)
    row = DeadLetter(
        received_at=now,
        topic=topic[:512],
        source=match.group(1) if match else None,
        reason=reason[:32],
        detail=detail[:4000],
        payload=payload[:MAX_KEPT_PAYLOAD],
        payload_size=len(payload),
    )
    session.add(row)
    return row


def count_dead_letters(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(DeadLetter)) or 0)
