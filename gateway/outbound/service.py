"""Queue messages for publication inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from contracts import Envelope, encode
from gateway.outbound.models import OutboundMessage, SourceCounter


def next_seq(session: Session, source: str) -> int:
    """Next per-source sequence number, atomically in the current transaction.

    The counter's row is read and locked (``FOR UPDATE``; SQLite's writer holds the database
    lock) at the transaction's first message and counted on in memory: the row is written with
    the transaction's other rows, not one UPDATE per message (a batch opening many cases sends
    a notice and an offer for each). Another writer waits for our commit, then reads past us.
    """
    transaction = session.get_transaction()
    held: dict[str, tuple[object, SourceCounter]] = session.info.setdefault(_COUNTERS, {})
    entry = held.get(source)
    if entry is None or entry[0] is not transaction:
        counter = session.get(SourceCounter, source, with_for_update=True)
        if counter is None:
            counter = SourceCounter(source=source, last_seq=0)
            session.add(counter)
            session.flush()
        entry = held[source] = (transaction, counter)
    counter = entry[1]
    counter.last_seq += 1
    return counter.last_seq


_COUNTERS = "outbound.counters"  # session.info: (root transaction, counter row) per source


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


class Claimed(NamedTuple):
    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


def pending(session: Session, limit: int = 500) -> list[OutboundMessage]:
    """Rows not yet acknowledged by the broker, oldest first (whoever holds them)."""
    return list(
        session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.sent_at.is_(None))
            .order_by(OutboundMessage.id)
            .limit(limit)
        )
    )


def _claimable(gateway_id: str, now: datetime) -> ColumnElement[bool]:
    return and_(
        OutboundMessage.sent_at.is_(None),
        or_(
            OutboundMessage.claimed_by == gateway_id,
            OutboundMessage.claimed_until.is_(None),
            OutboundMessage.claimed_until < now,
        ),
    )


def anything_to_claim(session: Session, gateway_id: str, now: datetime) -> bool:
    """Whether :func:`claim` would find a row (its own in flight included): one read, no lock."""
    return (
        session.execute(select(OutboundMessage.id).where(_claimable(gateway_id, now)).limit(1)).first()
        is not None
    )


def claim(
    session: Session, gateway_id: str, now: datetime, lease: timedelta, limit: int = 500
) -> list[Claimed]:
    """Claim unsent rows for ``gateway_id`` until ``now + lease`` and return them, oldest first.

    Takes rows nobody holds, rows whose lease ran out (their gateway died or lost the
    broker), and renews this gateway's own claims (in flight, or left from before a
    restart under the same id). One UPDATE: on SQLite the transaction holds the write
    lock (BEGIN IMMEDIATE); on PostgreSQL the candidate rows are locked with SKIP LOCKED
    and the claim condition is checked again on the row being updated, so two gateways
    never both come away with one row.
    """
    claimable = _claimable(gateway_id, now)
    candidates = (
        select(OutboundMessage.id)
        .where(claimable)
        .order_by(OutboundMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id.in_(candidates), claimable)
        .values(claimed_by=gateway_id, claimed_until=now + lease)
        .returning(
            OutboundMessage.id,
            OutboundMessage.topic,
            OutboundMessage.payload,
            OutboundMessage.qos,
            OutboundMessage.retain,
        )
        .execution_options(synchronize_session=False)
    ).all()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


def mark_sent(session: Session, ids: list[int], now: datetime) -> None:
    if ids:
        session.execute(update(OutboundMessage).where(OutboundMessage.id.in_(ids)).values(sent_at=now))
