"""Read-side queries over the dead-letter store and the ledger of applied events."""

from __future__ import annotations

import json
from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.events.models import DeadLetter, EventRecord
from gateway.events.schemas import DeadLetterView, Reading, ReadingEvent

PREVIEW_BYTES = 2000
# The ledger's topic of a worker's 随手拍 report (they come over the API, not MQTT): what the
# assessment counts as reports raised.
WORKER_REPORT_TOPIC = "http:POST /api/v1/reports"


def list_dead_letters(
    session: Session,
    reason: str | None = None,
    source: str | None = None,
    limit: int = 100,
    offset: int = 0,
    sources: Collection[str] | None = None,
) -> list[DeadLetterView]:
    """``sources``: only from these (e.g. the caller's areas); None = from anywhere."""
    query = select(DeadLetter).order_by(DeadLetter.id.desc())
    if sources is not None:
        query = query.where(DeadLetter.source.in_(sorted(sources)))
    if reason:
        query = query.where(DeadLetter.reason == reason)
    if source:
        query = query.where(DeadLetter.source == source)
    return [
        DeadLetterView(
            id=d.id,
            received_at=d.received_at,
            topic=d.topic,
            source=d.source,
            reason=d.reason,
            detail=d.detail,
            payload_size=d.payload_size,
            payload_preview=d.payload[:PREVIEW_BYTES].decode("utf-8", errors="replace"),
            replayed_at=d.replayed_at,
            replay_result=d.replay_result,
        )
        for d in session.scalars(query.limit(limit).offset(offset))
    ]


def dead_letter_counts(session: Session, sources: Collection[str] | None = None) -> dict[str, int]:
    query = select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason)
    if sources is not None:
        query = query.where(DeadLetter.source.in_(sorted(sources)))
    rows = session.execute(query)
    return {reason: int(n) for reason, n in rows}


HAZARD_EVENT = "hazard_event"


def hazard_events_of_case(session: Session, case_id: str, limit: int = 500) -> list[ReadingEvent]:
    """The hazard events folded into the case, oldest first, with the readings each carried."""
    rows = session.scalars(
        select(EventRecord)
        .where(EventRecord.case_id == case_id, EventRecord.kind == HAZARD_EVENT)
        .order_by(EventRecord.ts, EventRecord.id)
        .limit(limit)
    )
    return [_reading_event(r) for r in rows]


def _reading_event(row: EventRecord) -> ReadingEvent:
    try:
        body = json.loads(row.payload)
    except ValueError:
        body = {}  # the ledger keeps what was applied; an unreadable payload still shows its row
    body = body if isinstance(body, dict) else {}
    readings = [
        Reading(quantity=str(m.get("quantity", "")), value=float(m["value"]), unit=str(m.get("unit", "")))
        for m in body.get("readings") or []
        if isinstance(m, dict) and isinstance(m.get("value"), int | float)
    ]
    detections = [
        f"{d.get('label', '?')} {float(d.get('confidence', 0)):.2f}"
        for d in body.get("detections") or []
        if isinstance(d, dict)
    ]
    confidence = body.get("confidence")
    return ReadingEvent(
        id=row.id,
        at=row.ts,
        received_at=row.received_at,
        state=row.state,
        severity=row.severity,
        device_id=row.device_id,
        zone_id=body.get("zone_id"),
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        rule=str(body.get("rule") or ""),
        summary=str(body.get("summary") or ""),
        readings=readings,
        detections=detections,
    )
