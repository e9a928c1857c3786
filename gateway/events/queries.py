"""Read-side queries over the dead-letter store."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.events.models import DeadLetter
from gateway.events.schemas import DeadLetterView

PREVIEW_BYTES = 2000


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
