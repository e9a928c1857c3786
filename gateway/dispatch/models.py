"""Inspection tasks offered to grid workers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UtcDateTime
from gateway.store.change_log import ChangeFeed


class TaskStatus(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"  # no answer before the accept deadline
    ON_SITE = "on_site"
    RESOLVED = "resolved"
    VERIFIED = "verified"
    CANCELLED = "cancelled"


ACTIVE_TASK_STATUSES = frozenset({TaskStatus.OFFERED, TaskStatus.ACCEPTED, TaskStatus.ON_SITE})
_ACTIVE_SQL = "status IN (" + ", ".join(f"'{s.value}'" for s in sorted(ACTIVE_TASK_STATUSES)) + ")"


class Task(Base):
    __tablename__ = "tasks"
    __change_feed__ = ChangeFeed(entity="task", case_id="case_id", watch=("status", "worker_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    worker_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    offered_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)  # performance periods
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    accept_by: Mapped[datetime | None] = mapped_column(UtcDateTime)
    on_site_by: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason_code: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text, default="")
    shortlist: Mapped[list[dict]] = mapped_column(JSON, default=list)
    result: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    # When each step happened (performance records: accept, arrival and resolve times).
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    on_site_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sent_back_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime, doc="the centre sent the result back for rework (返工) instead of verifying it"
    )
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, doc="declined, expired or cancelled")

    __table_args__ = (
        # At most one live task per case: a re-dispatch must end the old one first.
        Index(
            "uq_tasks_active_case",
            "case_id",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
    )
