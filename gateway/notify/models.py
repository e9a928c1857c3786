"""Notification deliveries and their attempts, kept apart from the case's own status."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UtcDateTime


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENT = "sent"  # the receiver accepted it
    FAILED = "failed"  # gave up: attempts used up, or the receiver refused it for good
    QUEUED = "queued"  # MQTT: in the outbound table (its sent_at says when the broker took it)


class Delivery(Base):
    """One notification to one receiver (a webhook URL, or an MQTT topic through the outbox).

    Written in the transaction that decided to notify; the webhook sender works
    through the pending rows in the background, so a slow or dead receiver never
    holds up case handling.
    """

    __tablename__ = "notification_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str | None] = mapped_column(
        ForeignKey("cases.id"), index=True, doc="none for a report's link (the weekly report)"
    )
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id"), index=True)
    event: Mapped[str] = mapped_column(String(24), doc="escalated, sla_breach ...")
    tier: Mapped[str] = mapped_column(String(24), default="")
    channel: Mapped[str] = mapped_column(String(16), doc="webhook or mqtt")
    target: Mapped[str] = mapped_column(String(1000), doc="URL or MQTT topic")
    format: Mapped[str] = mapped_column(String(16), doc="json, wecom, dingtalk; mqtt: case_notice")
    body: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(String(200), doc="DingTalk signing secret")
    message_id: Mapped[str | None] = mapped_column(String(36), doc="mqtt: the outbound message id")
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DeliveryAttempt(Base):
    """Append-only: every HTTP post we made and what came back."""

    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("notification_deliveries.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[float] = mapped_column()
