"""Write this gateway's heartbeat; read everyone's (stale ones are reported as such)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.heartbeat.models import GatewayHeartbeat

STALE_AFTER = timedelta(seconds=30)
_table = GatewayHeartbeat.__table__


def beat(
    session: Session,
    gateway_id: str,
    started_at: datetime,
    now: datetime,
    messages_total: int,
    mqtt_connected: bool,
    warnings: list[str],
    telemetry: dict[str, Any],
) -> None:
    values = {
        "gateway_id": gateway_id,
        "started_at": started_at,
        "seen_at": now,
        "messages_total": messages_total,
        "mqtt_connected": mqtt_connected,
        "warnings": warnings,
        "telemetry": telemetry,
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(_table).values(values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["gateway_id"], set_={k: stmt.excluded[k] for k in values if k != "gateway_id"}
        )
    )


class GatewayView(BaseModel):
    gateway_id: str
    started_at: datetime
    seen_at: datetime
    alive: bool
    messages_total: int
    mqtt_connected: bool
    warnings: list[str]
    telemetry: dict[str, Any]


def gateways(session: Session, now: datetime) -> list[GatewayView]:
    out = []
    for row in session.scalars(select(GatewayHeartbeat).order_by(GatewayHeartbeat.gateway_id)):
        alive = now - row.seen_at <= STALE_AFTER
        warnings = list(row.warnings)
        if not alive:
            warnings.insert(0, f"no heartbeat since {row.seen_at.isoformat()} (stopped or stuck)")
        out.append(
            GatewayView(
                gateway_id=row.gateway_id,
                started_at=row.started_at,
                seen_at=row.seen_at,
                alive=alive,
                messages_total=row.messages_total,
                mqtt_connected=row.mqtt_connected,
                warnings=warnings,
                telemetry=dict(row.telemetry),
            )
        )
    return out
