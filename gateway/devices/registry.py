"""The registry's rules: filled from the site files, serials from a CSV, positions from phones.

Every function takes the caller's session and never commits (docs/architecture.md).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts.envelope import ID_PATTERN
from contracts.geo import GeoPoint
from contracts.site import Site
from contracts.site.models import Camera, Sensor
from gateway.devices.models import Device, DeviceKind, Lifecycle
from gateway.grids.index import GridIndex

log = logging.getLogger(__name__)

SERIAL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"
# Heard from: the device moves on from planned/provisioned; retired stays retired.
_BEFORE_COMMISSIONING = {Lifecycle.PLANNED.value, Lifecycle.PROVISIONED.value}


class RegistryRefused(ValueError):
    """What the registry will not do, and why (the route answers 409 with it)."""


@dataclass(frozen=True)
class Configured:
    """A device as the site files describe it."""

    id: str
    kind: DeviceKind
    node_id: str | None
    type: str
    name: str
    location: GeoPoint


def configured(site: Site) -> Iterator[Configured]:
    for node_id, node in site.nodes.items():
        info = node.node
        yield Configured(info.id, DeviceKind.NODE, None, "edge_node", info.name, info.location)
        for device in (*node.cameras, *node.sensors):
            yield _configured_device(node_id, device)


def _configured_device(node_id: str, device: Camera | Sensor) -> Configured:
    if isinstance(device, Sensor):
        return Configured(
            device.id, DeviceKind.SENSOR, node_id, device.kind.value, device.name, device.location
        )
    return Configured(device.id, DeviceKind.CAMERA, node_id, "camera", device.name, device.location)


def grid_at(grids: GridIndex, point: GeoPoint) -> str | None:
    grid = grids.locate(point)
    return grid.id if grid is not None else None


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)


def sync_from_site(session: Session, site: Site, grids: GridIndex, now: datetime) -> SyncReport:
    """Make the registry agree with the site files (they are the truth for what exists and where
    it is configured): add what is new, follow moves and renames, retire what was taken out.
    Lifecycle, serials and installed positions are the registry's own and stay."""
    report = SyncReport()
    rows = {d.id: d for d in session.scalars(select(Device))}
    seen: set[str] = set()
    for c in configured(site):
        seen.add(c.id)
        grid = grid_at(grids, c.location)
        row = rows.get(c.id)
        if row is None:
            session.add(
                Device(
                    id=c.id,
                    kind=c.kind.value,
                    node_id=c.node_id,
                    type=c.type,
                    name=c.name,
                    lon=c.location.lon,
                    lat=c.location.lat,
                    grid_id=grid,
                    status=Lifecycle.PROVISIONED.value,
                    status_since=now,
                    provisioned_at=now,
                    health={},
                    updated_at=now,
                )
            )
            report.added.append(c.id)
            continue
        wanted = {
            "kind": c.kind.value,
            "node_id": c.node_id,
            "type": c.type,
            "name": c.name,
            "lon": c.location.lon,
            "lat": c.location.lat,
            "grid_id": grid,
        }
        if any(getattr(row, k) != v for k, v in wanted.items()):
            for k, v in wanted.items():
                setattr(row, k, v)
            row.updated_at = now
            report.changed.append(c.id)
        if row.status in (Lifecycle.PLANNED.value, Lifecycle.RETIRED.value):
            # a planned serial's device reached the site files, or a retired one came back
            _set_status(row, Lifecycle.PROVISIONED, "in the site files", now)
            row.provisioned_at = now
            report.changed.append(c.id)
    for device_id, row in rows.items():
        if device_id in seen or row.status in (Lifecycle.PLANNED.value, Lifecycle.RETIRED.value):
            continue
        _set_status(row, Lifecycle.RETIRED, "no longer in the site files", now)
        row.retired_at = now
        report.retired.append(device_id)
    if report.added or report.changed or report.retired:
        log.info(
            "device registry from the site files: %d added, %d changed, %d retired",
            len(report.added),
            len(report.changed),
            len(report.retired),
        )
    return report


def _set_status(row: Device, status: Lifecycle, reason: str, now: datetime) -> bool:
    if row.status == status.value and row.status_reason == reason:
        return False
    if row.status != status.value:
        row.status_since = now
    row.status = status.value
    row.status_reason = reason
    row.updated_at = now
    return True


# ---------------------------------------------------------------- CSV of pre-registered serials
CSV_COLUMNS = ("serial", "device_id", "model", "kind", "node_id")


@dataclass
class ImportReport:
    bound: list[str] = field(default_factory=list)  # serial given to a device of the site files
    planned: list[str] = field(default_factory=list)  # a device the site files do not have yet
    unchanged: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "line 4: ..." — those lines changed nothing


def import_serials(session: Session, text: str, now: datetime) -> ImportReport:
    """``serial,device_id,model[,kind,node_id]`` lines (a header line first). A device the site
    files have gets its serial; one they do not is *planned* until they do. A line that would
    give a serial to two devices, or a device two serials, is refused and changes nothing."""
    import re

    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in CSV_COLUMNS[:3] if c not in (reader.fieldnames or [])]
    if missing:
        raise RegistryRefused(
            f"the CSV's first line must name the columns {', '.join(CSV_COLUMNS)} "
            f"(kind and node_id optional); missing: {', '.join(missing)}"
        )
    ident = re.compile(ID_PATTERN)
    serial_ok = re.compile(SERIAL_PATTERN)
    for n, line in enumerate(reader, start=2):
        serial = (line.get("serial") or "").strip()
        device_id = (line.get("device_id") or "").strip()
        model = (line.get("model") or "").strip()[:100]
        kind = (line.get("kind") or "").strip() or None
        node_id = (line.get("node_id") or "").strip() or None
        if not serial_ok.match(serial):
            report.problems.append(f"line {n}: serial {serial!r}: letters, digits and . _ : / - only")
            continue
        if not ident.match(device_id):
            report.problems.append(f"line {n}: device_id {device_id!r} is not an id")
            continue
        if kind is not None and kind not in {k.value for k in DeviceKind}:
            report.problems.append(f"line {n}: kind {kind!r} is not one of node, camera, sensor")
            continue
        holder = session.scalar(select(Device).where(Device.serial == serial))
        if holder is not None and holder.id != device_id:
            report.problems.append(f"line {n}: serial {serial} already belongs to {holder.id}")
            continue
        row = session.get(Device, device_id)
        if row is not None and row.serial not in (None, serial):
            report.problems.append(
                f"line {n}: {device_id} already has serial {row.serial}; retire it or correct the CSV"
            )
            continue
        if row is None:
            session.add(
                Device(
                    id=device_id,
                    kind=kind or DeviceKind.SENSOR.value,
                    node_id=node_id,
                    type="",
                    name="",
                    serial=serial,
                    model=model,
                    status=Lifecycle.PLANNED.value,
                    status_reason="not in the site files yet",
                    status_since=now,
                    planned_at=now,
                    health={},
                    updated_at=now,
                )
            )
            report.planned.append(device_id)
        elif row.serial == serial and (not model or row.model == model):
            report.unchanged.append(device_id)
        else:
            row.serial = serial
            row.model = model or row.model
            row.updated_at = now
            report.bound.append(device_id)
        session.flush()
    return report


# ---------------------------------------------------------------- the installer on site
def by_serial(session: Session, serial: str) -> Device | None:
    return session.scalar(select(Device).where(Device.serial == serial))


def install(
    session: Session,
    grids: GridIndex,
    row: Device,
    serial: str,
    position: GeoPoint,
    installer: str,
    now: datetime,
    model: str = "",
) -> Device:
    """The installer put the device with this serial up at ``position``."""
    if row.status == Lifecycle.RETIRED.value:
        raise RegistryRefused(f"{row.id} is retired ({row.status_reason}); it cannot be installed")
    if row.status == Lifecycle.PLANNED.value:
        raise RegistryRefused(
            f"{row.id} is planned but not in the site files yet: the site's planner adds it to "
            f"nodes/{row.node_id or '<node>'}.yaml (then `gridwatch devices sync`)"
        )
    holder = by_serial(session, serial)
    if holder is not None and holder.id != row.id:
        raise RegistryRefused(f"serial {serial} belongs to {holder.id}, not to {row.id}")
    if row.serial not in (None, serial):
        raise RegistryRefused(f"{row.id} has serial {row.serial} on record, not {serial}")
    row.serial = serial
    if model:
        row.model = model[:100]
    row.installed_lon = position.lon
    row.installed_lat = position.lat
    row.installed_grid_id = grid_at(grids, position)
    row.installer = installer
    row.installed_at = now
    row.updated_at = now
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # another phone took the serial a moment ago
        raise RegistryRefused(f"serial {serial} was just given to another device") from exc
    log.info(
        "device %s (serial %s) installed by %s in grid %s",
        row.id,
        serial,
        installer,
        row.installed_grid_id,
        extra={"device_id": row.id},
    )
    return row


def heard(row: Device, now: datetime, at: datetime | None = None) -> None:
    """A valid message of the device (or, for a node, from it) arrived."""
    seen = at or now
    row.last_seen_at = seen if row.last_seen_at is None else max(row.last_seen_at, seen)
    if row.status in _BEFORE_COMMISSIONING:
        row.commissioned_at = now
        _set_status(row, Lifecycle.COMMISSIONED, "first valid message", now)
    row.updated_at = now


def set_availability(row: Device, online: bool, reason: str, now: datetime) -> bool:
    """Online or offline as the device (or its node) says; True if that changed its status."""
    if row.status == Lifecycle.RETIRED.value:
        return False
    if row.status in _BEFORE_COMMISSIONING and online:
        row.commissioned_at = now
    return _set_status(row, Lifecycle.ONLINE if online else Lifecycle.OFFLINE, reason, now)


def retire(row: Device, reason: str, now: datetime) -> None:
    _set_status(row, Lifecycle.RETIRED, reason, now)
    row.retired_at = now
