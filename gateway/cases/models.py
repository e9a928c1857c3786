"""Cases (one situation in one place) and their append-only audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.cases.lifecycle import OPEN_STATUSES
from gateway.store.base import Base, UtcDateTime
from gateway.store.change_log import ChangeFeed

_OPEN_SQL = "status IN (" + ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATUSES)) + ")"


class Case(Base):
    __tablename__ = "cases"
    # What the console shows; a repeat event that only bumps the count is not a change.
    __change_feed__ = ChangeFeed(
        entity="case",
        case_id="id",
        watch=(
            "status",
            "severity",
            "urgent",
            "grid_id",
            "title",
            "warnings",
            "evidence_ids",
            "assigned_worker_id",
            "confirmed_at",
            "source_cleared_at",
            "corroborated_by",
            "merged_into",
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hazard_type: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # What "the same place" means for correlation: the camera zone or the sensor.
    place_key: Mapped[str] = mapped_column(String(160))
    node_id: Mapped[str | None] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(64), index=True)
    zone_id: Mapped[str | None] = mapped_column(String(64))
    grid_id: Mapped[str | None] = mapped_column(String(64), index=True)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    title: Mapped[str] = mapped_column(String(300))
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    evidence_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    event_count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source_cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    assigned_worker_id: Mapped[str | None] = mapped_column(String(64), index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    confirmed_by: Mapped[str | None] = mapped_column(String(100))
    # The case of the other kind (camera vs sensor) that saw the same thing nearby.
    corroborated_by: Mapped[str | None] = mapped_column(String(36))
    # A duplicate merged into another case: that case's id (status "merged").
    merged_into: Mapped[str | None] = mapped_column(String(36))

    __table_args__ = (
        # One open case per (hazard, place), enforced by the database: two gateways
        # racing on the same place cannot both insert (the ThingsBoard duplicate bug).
        Index(
            "uq_cases_open_place",
            "hazard_type",
            "place_key",
            unique=True,
            sqlite_where=text(_OPEN_SQL),
            postgresql_where=text(_OPEN_SQL),
        ),
    )


class CaseTransition(Base):
    """Append-only: who moved the case from what to what, when and why.

    ``change`` is ``status`` for a move along the transition table; other
    changes to a case (severity raised, cleared at the source, confirmed by
    an operator, corroborated) are recorded here too, with the status
    unchanged, so that one trail tells the whole story.
    """

    __tablename__ = "case_transitions"
    __change_feed__ = ChangeFeed(entity="trail", case_id="case_id")

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100), doc="gateway id, worker:<id> or operator:<id>")
    reason: Mapped[str] = mapped_column(Text, default="")
    event_id: Mapped[str | None] = mapped_column(String(36))
    change: Mapped[str] = mapped_column(String(16), default="status", server_default="status")


class FalseAlarmFeedback(Base):
    """A case judged a false alarm, kept per device and zone for tuning the edge rules."""

    __tablename__ = "false_alarm_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    hazard_type: Mapped[str] = mapped_column(String(32))
    node_id: Mapped[str | None] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(64), index=True)
    zone_id: Mapped[str | None] = mapped_column(String(64))
    grid_id: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100), doc="operator:<id> or worker:<id>")
    reason: Mapped[str] = mapped_column(Text)
    reason_code: Mapped[str | None] = mapped_column(
        String(32), doc="the centre's pick from gateway.cases.feedback.FalseAlarmReason"
    )
