"""Read side of ingest bookkeeping: how far each source got, what went missing."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.events.models import SourceProgress


class SourceView(BaseModel):
    source: str
    max_seq: int
    messages_total: int
    open_gaps: list[tuple[int, int]]
    open_gap_count: int
    lost_total: int
    lost_at_source_total: int  # the source says it dropped them itself (outbox full)
    lost_at_broker_total: int  # sent and acknowledged by the broker, never delivered to a gateway
    recovered_total: int  # counted lost, then arrived after all (sent again)
    late_total: int
    resets_total: int
    declared_seq: int | None  # the last number the source says it handed out (its health)
    first_seen_at: datetime
    last_seen_at: datetime


def source_ids(session: Session) -> list[str]:
    return list(session.scalars(select(SourceProgress.source)))


def sources(
    session: Session, with_gaps_only: bool = False, limit: int = 1000, only: Collection[str] | None = None
) -> list[SourceView]:
    """``only``: these sources (e.g. the caller's areas); None = all."""
    query = select(SourceProgress).order_by(SourceProgress.source).limit(limit)
    if only is not None:
        query = query.where(SourceProgress.source.in_(sorted(only)))
    if with_gaps_only:
        query = query.where((SourceProgress.open_gap_count > 0) | (SourceProgress.lost_total > 0))
    return [
        SourceView(
            source=r.source,
            max_seq=r.max_seq,
            messages_total=r.messages_total,
            open_gaps=[(int(g[0]), int(g[1])) for g in r.open_gaps],
            open_gap_count=r.open_gap_count,
            lost_total=r.lost_total,
            lost_at_source_total=r.lost_at_source_total,
            lost_at_broker_total=r.lost_at_broker_total,
            recovered_total=r.recovered_total,
            late_total=r.late_total,
            resets_total=r.resets_total,
            declared_seq=r.declared_seq,
            first_seen_at=r.first_seen_at,
            last_seen_at=r.last_seen_at,
        )
        for r in session.scalars(query)
    ]
