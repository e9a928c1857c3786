"""Escalations: which tier of the policy was told about a case, when, and why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UtcDateTime
from gateway.store.change_log import ChangeFeed

# What makes an escalation moot, per trigger: the climb timer stops once the case gets there.
CLEARED_BY_ACCEPT = "accepted"
CLEARED_BY_ARRIVAL = "on_site"
CLEARED_BY_RESOLUTION = "resolved"


class Escalation(Base):
    """Append-only. A case reaches each tier's contact at most once (unique), so two gateways
    racing on the same trigger cannot notify a tier twice; an operator's whistle (吹哨) may tell
    several departments of one case, each once."""

    __tablename__ = "escalations"
    __change_feed__ = ChangeFeed(entity="escalation", case_id="case_id")

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    tier: Mapped[str] = mapped_column(String(24))
    level: Mapped[int] = mapped_column(Integer, doc="position of the tier in the policy, 0 first")
    trigger: Mapped[str] = mapped_column(
        String(40), doc="sla_breach:<phase>, redispatches, cannot_handle ..."
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    target: Mapped[str] = mapped_column(String(200), default="", doc="who was told: contact or worker")
    skipped: Mapped[bool] = mapped_column(Boolean, default=False, doc="nobody configured for this tier")
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("case_id", "tier", "target", name="uq_escalations_case_tier_target"),)
