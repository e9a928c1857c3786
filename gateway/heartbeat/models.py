"""One row per gateway process, refreshed every few seconds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UtcDateTime


class GatewayHeartbeat(Base):
    __tablename__ = "gateway_heartbeats"

    gateway_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    messages_total: Mapped[int] = mapped_column(BigInteger, default=0)
    mqtt_connected: Mapped[bool] = mapped_column(default=False)
    # Warnings an operator should see (telemetry store down, drops, ...).
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    telemetry: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
