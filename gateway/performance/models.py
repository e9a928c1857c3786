"""Reports kept: the weekly report (周报) as HTML and PDF, with the figures it was made from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UtcDateTime


class Report(Base):
    """One report of one area over one period. Scheduled ones carry ``key`` (kind, area, period),
    unique, so two timers racing on the same week make it once; on-demand ones have none."""

    __tablename__ = "reports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), doc="weekly")
    key: Mapped[str | None] = mapped_column(String(160), unique=True, doc="weekly:<area>:<period start>")
    area: Mapped[str] = mapped_column(String(64), doc="the area id it covers; '*' the whole site")
    title: Mapped[str] = mapped_column(String(300))
    period_start: Mapped[datetime] = mapped_column(UtcDateTime)
    period_end: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100), doc="schedule, or who asked for it")
    figures: Mapped[dict] = mapped_column(JSON, doc="the headline figures, for lists and messages")
    html: Mapped[str] = mapped_column(Text)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    # A link that opens the report without signing in (for a group chat), until share_until.
    share_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    share_until: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_reports_area_created", "area", "created_at"),)
