"""Reads of the registry for pages: one device, a list narrowed to grids, the fleet view."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    String,
    Text,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from contracts.hazards import MAINTENANCE_TYPES
from gateway.cases.lifecycle import OPEN_STATUSES
from gateway.cases.models import Case
from gateway.devices.models import Device, Lifecycle


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


_OFFLINE_TROUBLES = frozenset({"camera_offline", "device_offline"})


def device_state(status: str, node_status: str, troubles: list[str]) -> str:
    """A camera's or sensor's registry status in the map's three words: offline (it says so, its
    node is offline, or an offline case is open), online (heard and not since lost), unknown
    (never heard: provisioned)."""
    if status == Lifecycle.OFFLINE.value or node_status == Lifecycle.OFFLINE.value:
        return "offline"
    if _OFFLINE_TROUBLES.intersection(troubles):
        return "offline"
    if status in (Lifecycle.ONLINE.value, Lifecycle.COMMISSIONED.value):
        return "online"
    return "unknown"


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
    installed_grid_id: str | None  # where the installer put it, when that is another grid
    last_seen_at: datetime | None
    config_version: str | None  # what the node runs: a push's version; empty/None = its own file
    config_desired: str | None  # the last version the centre pushed (None: never pushed)
    software: str
    health: dict[str, Any]  # a node's: warnings, outbox, config_error ...; a camera's or sensor's state
    troubles: list[Trouble] = []  # its open maintenance cases: what the installers are to fix


class FleetView(BaseModel):
    counts: dict[str, int]  # status -> devices in the area, kind and search (not narrowed by status,
    # troubled or problems: the bar of counts over the list)
    total: int  # devices matching every filter (what the pages page through)
    troubled: int  # in the area, kind, search and status: devices with an open maintenance case
    problems: int  # the same: devices with a problem (offline, a maintenance case, a refused push)
    items: list[FleetItem]  # a page of them, by id


@dataclass(frozen=True)
class FleetFilter:
    """What the fleet view is narrowed to (every field optional)."""

    grids: frozenset[str] | None = None  # the caller's reach and the chosen area, intersected
    status: tuple[str, ...] = ()
    kind: str | None = None
    text: str = ""  # part of the id, serial or name
    only_troubled: bool = False  # an open maintenance case
    only_problems: bool = False  # offline, an open maintenance case, or a refused configuration push


_MAINTENANCE = sorted(h.value for h in MAINTENANCE_TYPES)
_OPEN = sorted(s.value for s in OPEN_STATUSES)


def _open_troubles() -> Any:
    """Device ids with an open maintenance case (a subquery: the case table stays in SQL)."""
    return (
        select(Case.device_id)
        .where(Case.hazard_type.in_(_MAINTENANCE), Case.status.in_(_OPEN), Case.device_id.is_not(None))
        .distinct()
    )


def _problem() -> ColumnElement[bool]:
    return or_(
        Device.status == Lifecycle.OFFLINE.value,
        Device.id.in_(_open_troubles()),
        func.coalesce(Device.health["config_error"].as_string(), "") != "",
    )


def _where(f: FleetFilter, *, with_status: bool = True) -> list[Any]:
    where = [grids_filter(f.grids)]
    if with_status and f.status:
        where.append(Device.status.in_(sorted(set(f.status))))
    if f.kind:
        where.append(Device.kind == f.kind)
    if f.text:
        # LIKE with the user's text as a literal (its % and _ escaped), case-blind on both stores
        pattern = "%" + f.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            or_(
                func.lower(Device.id).like(pattern, escape="\\"),
                func.lower(func.coalesce(Device.serial, "")).like(pattern, escape="\\"),
                func.lower(Device.name).like(pattern, escape="\\"),
            )
        )
    if f.only_troubled:
        where.append(Device.id.in_(_open_troubles()))
    if f.only_problems:
        where.append(_problem())
    return where


def _iso(column: Any, dialect: str) -> Any:
    """An aware UTC timestamp column as RFC 3339 text, made by the database (no per-row Python)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    # SQLite keeps UTC as 'YYYY-MM-DD HH:MM:SS.ffffff' (gateway.store.base.UtcDateTime)
    return func.replace(type_coerce(column, String), " ", "T").op("||")(literal_column("'Z'"))


def _json_object(dialect: str, pairs: list[tuple[str, Any]]) -> Any:
    args: list[Any] = []
    for key, value in pairs:
        args += [literal_column(f"'{key}'"), value]
    return (func.json_build_object if dialect == "postgresql" else func.json_object)(*args)


def _troubles(dialect: str) -> Any:
    """device id -> the JSON array of its open maintenance cases, oldest first (a subquery)."""
    open_cases = (
        select(Case.device_id, Case.id, Case.hazard_type, Case.severity, Case.status, Case.opened_at)
        .where(Case.hazard_type.in_(_MAINTENANCE), Case.status.in_(_OPEN), Case.device_id.is_not(None))
        .order_by(Case.device_id, Case.opened_at)  # SQLite's json_group_array keeps the rows' order
        .subquery("open_cases")
    )
    c = open_cases.c
    trouble = _json_object(
        dialect,
        [
            ("case_id", c.id),
            ("hazard_type", c.hazard_type),
            ("severity", c.severity),
            ("status", c.status),
            ("opened_at", _iso(c.opened_at, dialect)),
        ],
    )
    cases = (
        func.json_agg(aggregate_order_by(trouble, c.opened_at))
        if dialect == "postgresql"
        else func.json_group_array(trouble)
    )
    return select(c.device_id, cases.label("cases")).group_by(c.device_id).subquery("troubles")


def fleet_page(
    session: Session, f: FleetFilter, *, limit: int = 10_000, offset: int = 0
) -> tuple[dict[str, Any], str]:
    """The fleet view: ``(head, items)``: ``head`` the counts of a :class:`FleetView`, ``items``
    the JSON array of its page of :class:`FleetItem`, written by the database.

    10,000 devices as ORM rows or dicts cost about a second in Python (datetimes parsed, the
    health JSON decoded, all encoded again); here each row leaves the database as one JSON text,
    its health embedded as stored and its open maintenance cases joined: Python joins texts."""
    pg = session.get_bind().dialect.name == "postgresql"
    # One pass for every figure: per status, how many, how many troubled, how many with a problem,
    # over the scope (area, kind, search) only: the bar at the top counts every status and the
    # problems while one of them is chosen.
    scope = FleetFilter(grids=f.grids, kind=f.kind, text=f.text)
    counts: dict[str, int] = {}
    total = troubled = problems = 0
    for status, n, n_troubled, n_problems in session.execute(
        select(
            Device.status,
            func.count(),
            func.sum(case((Device.id.in_(_open_troubles()), 1), else_=0)),
            func.sum(case((_problem(), 1), else_=0)),
        )
        .where(*_where(scope))
        .group_by(Device.status)
    ):
        counts[status] = n
        if f.status and status not in f.status:
            continue
        n_troubled, n_problems = int(n_troubled), int(n_problems)
        troubled += n_troubled
        problems += n_problems
        # a troubled device always has a problem (an open maintenance case is one)
        total += n_troubled if f.only_troubled else n_problems if f.only_problems else n
    items = _items_pg(session, f, limit, offset) if pg else _items_sqlite(f, limit, offset, session)
    head = {"counts": counts, "total": total, "troubled": troubled, "problems": problems}
    return head, "[" + items + "]"


_FIELDS = (
    "id",
    "kind",
    "node_id",
    "type",
    "name",
    "serial",
    "status",
    "status_reason",
    "status_since",
    "grid_id",
    "installed_grid_id",
    "last_seen_at",
    "config_version",
    "config_desired",
    "software",
)


def _items_sqlite(f: FleetFilter, limit: int, offset: int, session: Session) -> str:
    """SQLite: ``json_object`` per row, the page joined by ``group_concat`` (one text fetched)."""
    troubles = _troubles("sqlite")
    values: dict[str, Any] = {name: getattr(Device, name) for name in _FIELDS}
    values["status_since"] = _iso(Device.status_since, "sqlite")
    values["last_seen_at"] = _iso(Device.last_seen_at, "sqlite")
    # JSON text read back from a column or a subquery is plain text to SQLite: json() marks it JSON
    values["health"] = func.json(Device.health)
    values["troubles"] = func.json(func.coalesce(troubles.c.cases, "[]"))
    page = (
        select(Device.id, _json_object("sqlite", list(values.items())).label("item"))
        .outerjoin(troubles, troubles.c.device_id == Device.id)
        .where(*_where(f))
        .order_by(Device.id)
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    # the page as one text (in the subquery's order, by id): 10,000 rows fetched one by one cost
    # more than writing them
    return session.scalar(select(func.group_concat(page.c.item, ","))) or ""


def _items_pg(session: Session, f: FleetFilter, limit: int, offset: int) -> str:
    """PostgreSQL: ``row_to_json`` of each row (json_build_object with 17 pairs costs twice as
    much), the maintenance cases of each device from its index (a correlated ``json_agg``: no
    plan that depends on the case table's statistics), the page joined by ``string_agg``.
    Timestamps come out as RFC 3339 in UTC: the transaction's time zone is set to UTC."""
    session.execute(text("SET LOCAL TIME ZONE 'UTC'"))
    cases = (
        select(Case.id.label("case_id"), Case.hazard_type, Case.severity, Case.status, Case.opened_at)
        .where(
            Case.device_id == Device.id,
            Case.hazard_type.in_(_MAINTENANCE),
            Case.status.in_(_OPEN),
        )
        .correlate(Device)
        .subquery("t")
    )
    troubles = (
        select(
            func.coalesce(
                func.json_agg(aggregate_order_by(cases.table_valued(), cases.c.opened_at)),
                literal_column("'[]'::json"),
            )
        )
        .select_from(cases)
        .scalar_subquery()
    )
    page = (
        select(*(getattr(Device, name) for name in _FIELDS), Device.health, troubles.label("troubles"))
        .where(*_where(f))
        .order_by(Device.id)
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    joined = func.string_agg(
        cast(func.row_to_json(page.table_valued()), Text),
        aggregate_order_by(literal_column("','"), page.c.id),
    )
    return session.scalar(select(joined)) or ""
