"""Reads of the registry for pages: one device, a list narrowed to grids, the fleet view."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.devices.models import Device


class RegistryView(BaseModel):
    id: str
    kind: str  # node, camera or sensor
    node_id: str | None
    type: str  # camera, edge_node, or the sensor's kind
    name: str
    serial: str | None
    model: str
    status: str  # planned, provisioned, commissioned, online, offline, retired
    status_reason: str
    status_since: datetime
    lon: float | None  # where the site files put it
    lat: float | None
    grid_id: str | None
    installed_lon: float | None  # where the installer said it was put
    installed_lat: float | None
    installed_grid_id: str | None
    installer: str | None
    installed_at: datetime | None
    commissioned_at: datetime | None
    last_seen_at: datetime | None
    config_version: str | None
    software: str
    health: dict[str, Any]

    @classmethod
    def of(cls, row: Device) -> RegistryView:
        return cls.model_validate(row, from_attributes=True)


def grids_filter(grids: frozenset[str] | None) -> Any:
    """Rows whose configured or installed grid is one of ``grids`` (None: no filter)."""
    if grids is None:
        return True
    if not grids:
        return False
    return or_(Device.grid_id.in_(sorted(grids)), Device.installed_grid_id.in_(sorted(grids)))


def listing(
    session: Session,
    grids: frozenset[str] | None,
    *,
    serial: str | None = None,
    status: Iterable[str] = (),
    kind: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[Device]:
    query = select(Device).where(grids_filter(grids))
    if serial:
        query = query.where(Device.serial == serial)
    statuses = sorted(set(status))
    if statuses:
        query = query.where(Device.status.in_(statuses))
    if kind:
        query = query.where(Device.kind == kind)
    return list(session.scalars(query.order_by(Device.id).limit(limit).offset(offset)))
