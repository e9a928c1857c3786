"""Transactional outbox for what the gateway publishes.

A task offer is written in the same transaction as the task, then published;
a crash between commit and publish cannot lose it (it is sent at start-up).
With several gateways on one store each pending row is claimed by one of them
for a lease (``claimed_by``/``claimed_until``) before it is published, so it is
published by exactly one; a crashed gateway's claims are taken over when the
lease runs out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UtcDateTime


class OutboundMessage(Base):
    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(36), unique=True, insert_sentinel=True)
    topic: Mapped[str] = mapped_column(String(256))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    qos: Mapped[int] = mapped_column(Integer, default=1)
    retain: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    claimed_by: Mapped[str | None] = mapped_column(
        String(64), doc="the gateway publishing (or that published) it"
    )
    claimed_until: Mapped[datetime | None] = mapped_column(
        UtcDateTime, doc="others may take it over after this"
    )


class SourceCounter(Base):
    """Per-source sequence numbers for messages the gateway itself publishes."""

    __tablename__ = "source_counters"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
