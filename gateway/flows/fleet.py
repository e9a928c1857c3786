"""Fleet health: what the nodes and devices say about themselves, kept in the registry, and the
one maintenance case for the installers of its area when an edge node stays offline.

1. a batch's messages are noted (:class:`FleetBatch`): who was heard from, retained node and
   device statuses (the broker publishes a node's last will when it drops), EdgeHealth;
2. :func:`apply` writes them to the registry in the batch's transaction: last seen (at most
   every ``SEEN_EVERY`` per device: the ingest path stays one write per batch, not per message),
   first valid message → commissioned, online / offline with the reason, a camera's or
   sensor's health from its node; a node back online closes its offline case;
3. :func:`open_offline_cases` (a timer in ``duties.py``): a node that says it is online but has
   been silent that long is offline since it was last heard; a node offline longer than
   ``fleet.node_offline_after_s`` (site.yaml) opens ONE ``device_offline`` maintenance case on
   the node, placed in its grid: the centre's wall hears of it and the installers of that area
   see it (``GET /api/v1/maintenance``); grid workers are never sent (maintenance is not
   dispatched, flows/hazard_events.py). Cameras and sensors raise their own maintenance
   events at the edge (camera offline or blocked, sensor silent past its heartbeat); a clear
   closes those cases the same way (flows/hazard_events.py, ``close_recovered``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts import DeviceStatus, EdgeHealth, EventState, HazardEvent, NodeStatus
from contracts.geo import GeoPoint
from contracts.hazards import HazardType
from gateway.cases.correlation import CaseBook
from gateway.cases.lifecycle import OPEN_STATUSES
from gateway.cases.models import Case
from gateway.cases.service import Place
from gateway.context import GatewayContext
from gateway.devices import registry
from gateway.devices.models import Device, DeviceKind, Lifecycle
from gateway.flows.hazard_events import close_recovered, take_hazard
from gateway.store import sqlite_rows

log = logging.getLogger(__name__)

SEEN_EVERY = timedelta(seconds=30)  # last_seen_at is written at most this often per device
_CAMERA_DOWN = {"offline", "error", "reconnecting"}
_SENSOR_DOWN = {"offline", "silent"}
_OPEN = sorted(s.value for s in OPEN_STATUSES)
_SETTLED = {Lifecycle.ONLINE.value, Lifecycle.COMMISSIONED.value}
_OFFLINE_TROUBLES = {HazardType.CAMERA_OFFLINE, HazardType.DEVICE_OFFLINE}


@dataclass
class FleetBatch:
    """What one ingest batch said about the fleet."""

    heard: dict[str, datetime] = field(default_factory=dict)  # node or device id -> latest ts
    availability: list[tuple[str, bool, str, str]] = field(default_factory=list)  # id, online, why, version
    health: dict[str, EdgeHealth] = field(default_factory=dict)  # node id -> its latest health

    def hear(self, ident: str, ts: datetime) -> None:
        if ident not in self.heard or self.heard[ident] < ts:
            self.heard[ident] = ts

    def status(self, message: NodeStatus | DeviceStatus) -> None:
        if isinstance(message, NodeStatus):
            self.availability.append(
                (message.source, message.state == "online", message.reason, message.version)
            )
            if message.state == "online":  # its birth message; a retained will is the broker's word
                self.hear(message.source, message.ts)
        else:
            reason = message.reason or message.state.value
            self.availability.append((message.device_id, message.state.value != "offline", reason, ""))
            if message.state.value != "offline":
                self.hear(message.device_id, message.ts)

    def trouble(self, event: HazardEvent) -> None:
        """The edge's own maintenance event: a camera offline, a sensor silent past its heartbeat."""
        if event.hazard_type in _OFFLINE_TROUBLES:
            back = event.state is EventState.CLEAR
            reason = event.summary or f"{event.hazard_type.value} ({event.rule or 'edge'})"
            self.availability.append((event.device_id, back, "back" if back else reason, ""))

    def edge_health(self, message: EdgeHealth) -> None:
        self.hear(message.source, message.ts)
        held = self.health.get(message.source)
        if held is None or held.ts <= message.ts:
            self.health[message.source] = message

    def __bool__(self) -> bool:
        return bool(self.heard or self.availability or self.health)


@dataclass
class FleetMemo:
    """Per gateway process: when each device's last_seen_at was last written (and its status then)."""

    written: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    def fresh(self, ident: str, now: datetime) -> bool:
        held = self.written.get(ident)
        return held is not None and now - held[0] < SEEN_EVERY and held[1] in _SETTLED


def apply(session: Session, ctx: GatewayContext, batch: FleetBatch, now: datetime, memo: FleetMemo) -> None:
    health_ids = {
        d
        for h in batch.health.values()
        for d in (*(c.camera_id for c in h.cameras), *(s.device_id for s in h.sensors))
    }
    wanted = {i for i in batch.heard if not memo.fresh(i, now)}
    wanted |= {a[0] for a in batch.availability} | set(batch.health) | health_ids
    if not wanted:
        return
    registered = _registered(session, wanted)
    query = select(Device).where(Device.id.in_(registered))
    rows = {d.id: d for d in session.scalars(query)} if registered else {}
    for ident in batch.heard:
        row = rows.get(ident)
        if row is not None and row.status != Lifecycle.RETIRED.value:
            # when the gateway heard it, not what the device's clock says (silence is judged on ours)
            registry.heard(row, now, now)
            if row.status in (Lifecycle.COMMISSIONED.value, Lifecycle.OFFLINE.value) and row.kind == "node":
                # a node that speaks is online, whatever its retained status said
                _availability(session, ctx, row, True, "heard from", now)
    for ident, online, reason, version in batch.availability:
        row = rows.get(ident)
        if row is None:
            continue
        if version:
            row.software = version[:40]
        _availability(session, ctx, row, online, reason or ("online" if online else "offline"), now)
    for health in batch.health.values():
        _health(rows, health, now)
    for ident, row in rows.items():
        memo.written[ident] = (now, row.status)


def _registered(session: Session, ids: set[str]) -> list[str]:
    """Which of ``ids`` the registry holds. On SQLite asked through the driver first: a busy stream
    names the same devices the registry does not hold (sensors a node reports but the site does not
    list) in every batch, and loading none of them through the ORM cost ~5 % of the batch loop
    (issue 19); the ORM then loads only the rows that exist."""
    wanted = sorted(ids)
    if not sqlite_rows.is_sqlite(session):
        return wanted
    session.flush()  # what the ORM query's autoflush would have done before reading
    return [r[0] for r in sqlite_rows.select_in(session, "SELECT id FROM devices WHERE id IN ({})", wanted)]


def _availability(
    session: Session, ctx: GatewayContext, row: Device, online: bool, reason: str, now: datetime
) -> None:
    changed = registry.set_availability(row, online, reason, now)
    if changed:
        log.info(
            "%s %s is %s (%s)",
            row.kind,
            row.id,
            "online" if online else "offline",
            reason,
            extra={"device_id": row.id},
        )
    if online and row.kind == DeviceKind.NODE.value:
        case = _open_offline_case(session, row.id)
        if case is not None:
            close_recovered(session, ctx, case, f"node {row.id} back online", now)


def _health(rows: dict[str, Device], health: EdgeHealth, now: datetime) -> None:
    for camera in health.cameras:
        row = rows.get(camera.camera_id)
        if row is None:
            continue
        row.health = {
            "state": camera.state,
            "error": camera.error,
            "frames_in": camera.frames_in,
            "at": _iso(health.ts),
        }
        down = camera.state in _CAMERA_DOWN
        if camera.state == "streaming":
            registry.heard(row, now, now)  # streaming as of this health, heard now
        if down or camera.state == "streaming":
            registry.set_availability(row, not down, camera.error or camera.state, now)
    for sensor in health.sensors:
        row = rows.get(sensor.device_id)
        if row is None:
            continue
        row.health = {"state": sensor.state, "error": sensor.error, "at": _iso(health.ts)}
        if sensor.last_seen is not None:
            registry.heard(row, now, min(sensor.last_seen, now))
        down = sensor.state in _SENSOR_DOWN
        if down or sensor.last_seen is not None:
            registry.set_availability(row, not down, sensor.error or sensor.state, now)
    node = rows.get(health.source)
    if node is not None:
        node.config_version = health.config_version or None  # what it runs: a push's, or its file's
        node.health = {
            "uptime_s": round(health.uptime_s),
            "warnings": list(health.warnings[:10]),
            "detector": health.detector.model_dump(mode="json") if health.detector else None,
            "outbox_depth": health.outbox.depth if health.outbox else None,
            "config_error": health.config_error,
            "at": _iso(health.ts),
        }


def _iso(at: datetime) -> str:
    return at.isoformat()


def _open_offline_case(session: Session, node_id: str) -> Case | None:
    return session.scalar(
        select(Case).where(
            Case.hazard_type == HazardType.DEVICE_OFFLINE.value,
            Case.place_key == node_id,
            Case.status.in_(_OPEN),
        )
    )


def _silent_nodes(session: Session, now: datetime, silence: timedelta) -> None:
    """A node that says it is online but has sent nothing for ``silence`` is offline since it was
    last heard (its broker went away with its will, or a stale retained "online")."""
    rows = session.scalars(
        select(Device).where(
            Device.kind == DeviceKind.NODE.value,
            Device.status.in_([Lifecycle.ONLINE.value, Lifecycle.COMMISSIONED.value]),
            Device.last_seen_at <= now - silence,
        )
    ).all()
    for row in rows:
        if row.last_seen_at is None:  # never: the query compares it
            continue
        registry.set_availability(row, False, f"silent since {row.last_seen_at.isoformat()}", now)
        row.status_since = row.last_seen_at
        log.warning(
            "edge node %s silent since %s", row.id, row.last_seen_at.isoformat(), extra={"device_id": row.id}
        )


class _OwnPlaceOnly(CaseBook):
    """A node's offline case is the node's own: never folded into a nearby sensor's case."""

    def nearest(self, hazard_type: str, at: GeoPoint, now: datetime) -> Case | None:
        return None


def open_offline_cases(session: Session, ctx: GatewayContext, now: datetime) -> list[Case]:
    """One maintenance case per edge node offline longer than ``fleet.node_offline_after_s``."""
    after = timedelta(seconds=ctx.site.settings.fleet.node_offline_after_s)
    _silent_nodes(session, now, max(after, 2 * SEEN_EVERY))
    rows = session.scalars(
        select(Device).where(
            Device.kind == DeviceKind.NODE.value,
            Device.status == Lifecycle.OFFLINE.value,
            Device.status_since <= now - after,
        )
    ).all()
    opened = []
    book = _OwnPlaceOnly(session, ctx)
    for row in rows:
        if _open_offline_case(session, row.id) is not None:
            continue
        config = ctx.site.nodes.get(row.id)
        if config is None:
            continue
        location = config.node.location
        grid = ctx.grids.locate(location)
        event = HazardEvent(
            source=ctx.gateway_id,
            seq=1,
            ts=now,
            hazard_type=HazardType.DEVICE_OFFLINE,
            severity="major",  # type: ignore[arg-type]
            confidence=1.0,
            state="new",  # type: ignore[arg-type]
            episode_id=f"{row.id}-offline-{row.status_since.isoformat()}",
            device_id=row.id,
            location=location,
            rule="node_offline",
            summary=f"edge node offline since {row.status_since.isoformat()}: {row.status_reason}"[:500],
        )
        place = Place(
            row.id, row.id, row.id, None, config.node.name or row.id, location, grid.id if grid else None
        )
        taken = take_hazard(session, ctx, event, place, now, book)
        if taken.opened is not None:
            opened.append(taken.opened)
            log.warning(
                "edge node %s offline since %s: maintenance case %s for the installers of grid %s",
                row.id,
                row.status_since.isoformat(),
                taken.opened.id,
                taken.opened.grid_id,
                extra={"device_id": row.id, "case_id": taken.opened.id},
            )
    return opened
