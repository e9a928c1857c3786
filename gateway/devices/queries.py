"""Reads of the registry for pages: one device, a list narrowed to grids, the fleet view."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, or_, select
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


class Trouble(BaseModel):
    case_id: str
    hazard_type: str  # device_offline, camera_offline, camera_blocked, low_battery, tamper, device_fault
    severity: str
    status: str
    opened_at: datetime


class FleetItem(BaseModel):
    id: str
    kind: str
    node_id: str | None
    type: str
    name: str
    serial: str | None
    status: str
    status_reason: str
    status_since: datetime
    grid_id: str | None
    last_seen_at: datetime | None
    config_version: str | None
    software: str
    health: dict[str, Any]
    troubles: list[Trouble] = []  # its open maintenance cases: what the installers are to fix


class FleetView(BaseModel):
    counts: dict[str, int]  # status -> devices (all that match, not only this page)
    troubled: int  # of those, devices with an open maintenance case
    items: list[FleetItem]  # a page of them, by id


def fleet(
    session: Session,
    grids: frozenset[str] | None,
    troubles: dict[str, list[dict[str, Any]]],
    *,
    status: Iterable[str] = (),
    only_troubled: bool = False,
    limit: int = 10_000,
    offset: int = 0,
) -> dict[str, Any]:
    """A :class:`FleetView` as plain data (10,000 pydantic objects cost half a second; pages
    serialise this with ``pydantic_core.to_json``): devices in ``grids`` with last seen,
    configuration version, health and open troubles; the counts are over all that match (one
    GROUP BY), the items a page of them."""
    where = [grids_filter(grids)]
    statuses = sorted(set(status))
    if statuses:
        where.append(Device.status.in_(statuses))
    if only_troubled:
        where.append(Device.id.in_(sorted(troubles)))
    counts = dict(
        session.execute(select(Device.status, func.count()).where(*where).group_by(Device.status)).all()
    )
    columns = [getattr(Device, name) for name in FleetItem.model_fields if name != "troubles"]
    names = [c.key for c in columns]
    query = select(*columns).where(*where).order_by(Device.id).limit(limit).offset(offset)
    items = []
    for values in session.execute(query):
        row = dict(zip(names, values, strict=True))
        row["troubles"] = troubles.get(row["id"], [])
        items.append(row)
    troubled = (
        session.scalar(select(func.count()).where(*where, Device.id.in_(sorted(troubles)))) if troubles else 0
    )
    return {"counts": counts, "troubled": troubled or 0, "items": items}
