"""Queue messages for publication inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from contracts import Envelope, encode
from gateway.outbound.models import OutboundMessage, SourceCounter


def next_seq(session: Session, source: str) -> int:
    """Next per-source sequence number, atomically in the current transaction."""
    result = session.execute(
        update(SourceCounter)
        .where(SourceCounter.source == source)
        .values(last_seq=SourceCounter.last_seq + 1)
        .returning(SourceCounter.last_seq)
    ).scalar_one_or_none()
    if result is not None:
        return int(result)
    session.add(SourceCounter(source=source, last_seq=1))
    session.flush()
    return 1


def enqueue(
    session: Session, topic: str, message: Envelope, now: datetime, retain: bool = False, qos: int = 1
) -> None:
    session.add(
        OutboundMessage(
            message_id=message.id,
            topic=topic,
            payload=encode(message),
            qos=qos,
            retain=retain,
            created_at=now,
        )
    )


def pending(session: Session, limit: int = 500) -> list[OutboundMessage]:
    return list(
        session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.sent_at.is_(None))
            .order_by(OutboundMessage.id)
            .limit(limit)
        )
    )


def mark_sent(session: Session, ids: list[int], now: datetime) -> None:
    if ids:
        session.execute(update(OutboundMessage).where(OutboundMessage.id.in_(ids)).values(sent_at=now))
