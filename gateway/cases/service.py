"""Turn hazard events into cases: place, grid, correlation, transitions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts import EventState, GeoPoint, HazardEvent, Severity, category_of, new_id
from contracts.site.models import Camera
from gateway.cases.audit import note
from gateway.cases.correlation import CaseBook
from gateway.cases.corroboration import corroborate
from gateway.cases.labels import hazard_label
from gateway.cases.lifecycle import CaseStatus, check_transition
from gateway.cases.models import Case, CaseTransition
from gateway.context import GatewayContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Place:
    """Where an event happened, as far as the site configuration knows."""

    key: str  # correlation key: "<device>/<zone>" or "<device>"
    node_id: str | None
    device_id: str
    zone_id: str | None
    label: str
    location: GeoPoint | None
    grid_id: str | None
    warnings: tuple[str, ...] = field(default=())


def resolve_place(ctx: GatewayContext, event: HazardEvent, node_id: str | None) -> Place:
    warnings: list[str] = []
    known = ctx.site.device(event.device_id)
    device = known[1] if known else None
    if known is None:
        warnings.append(f"device {event.device_id!r} is not in the site configuration")
    elif node_id and known[0] != node_id:
        warnings.append(
            f"device {event.device_id!r} belongs to node {known[0]!r}, but node {node_id!r} reported it"
        )
    location = event.location or (device.location if device else None)
    label = (device.name or device.id) if device else event.device_id
    if event.zone_id and isinstance(device, Camera):
        zone = next((z for z in device.zones if z.id == event.zone_id), None)
        label = f"{label} / {(zone.name or zone.id) if zone else event.zone_id}"
    grid_id = None
    if location is None:
        warnings.append("no location: the event has none and the device has no position")
    else:
        grid_id = grid_of(ctx, location, warnings)
    key = f"{event.device_id}/{event.zone_id}" if event.zone_id else event.device_id
    return Place(key, node_id, event.device_id, event.zone_id, label, location, grid_id, tuple(warnings))


# A position further than this from every grid is not "just across a border" but a wrong fix
# (a phone's last known position, another city): a person's report from there is refused.
OUTSIDE_MAX_M = 2000.0


def outside_by(ctx: GatewayContext, location: GeoPoint) -> float | None:
    """How far (m) ``location`` lies outside every grid of the site when that is more than
    OUTSIDE_MAX_M; None when it is inside a grid or near enough to the nearest one."""
    if ctx.grids.locate(location) is not None:
        return None
    nearest = ctx.grids.nearest(location)
    if nearest is None or nearest[1] <= OUTSIDE_MAX_M:
        return None
    return nearest[1]


def grid_of(ctx: GatewayContext, location: GeoPoint, warnings: list[str]) -> str | None:
    """The grid a position lies in; outside every grid, the nearest one (and a warning says so)."""
    grid = ctx.grids.locate(location)
    if grid is None:
        nearest = ctx.grids.nearest(location)
        if nearest is not None:
            grid, distance = nearest
            warnings.append(
                f"location is outside every grid; assigned to the nearest grid "
                f"{grid.id!r} ({distance:.0f} m away)"
            )
    return grid.id if grid else None


def transition(
    session: Session,
    case: Case,
    target: CaseStatus,
    actor: str,
    reason: str,
    now: datetime,
    event_id: str | None = None,
) -> CaseTransition:
    """Move a case along the transition table and record it (append-only)."""
    current = CaseStatus(case.status)
    check_transition(case.id, current, target)
    case.status = target.value
    case.updated_at = now
    record = CaseTransition(
        case_id=case.id,
        at=now,
        from_status=current.value,
        to_status=target.value,
        actor=actor,
        reason=reason,
        event_id=event_id,
    )
    session.add(record)
    log.info(
        "case %s: %s -> %s by %s (%s)",
        case.id,
        current.value,
        target.value,
        actor,
        reason,
        extra={"case_id": case.id, "actor": actor},
    )
    return record


def _absorb(session: Session, ctx: GatewayContext, case: Case, event: HazardEvent, now: datetime) -> None:
    # Every repeat of an open case's place comes here (most of a busy stream): an attribute is
    # set only when its value changes, and the severity is ranked only when it differs — an ORM
    # attribute set and an enum lookup each cost about a microsecond. Same values as before.
    case.event_count += 1
    if event.ts > case.last_seen_at:
        case.last_seen_at = event.ts
    if case.updated_at != now:
        case.updated_at = now
    before = after = event.severity
    if event.severity != case.severity:
        before = Severity(case.severity)
        after = Severity.highest(before, event.severity)
    if after is not before:
        case.severity = after.value
        note(
            session,
            case,
            "severity",
            ctx.gateway_id,
            f"severity {before.value} → {after.value} ({event.device_id})",
            now,
            event.id,
        )
    if event.evidence and event.evidence.evidence_id not in case.evidence_ids:
        case.evidence_ids = [*case.evidence_ids, event.evidence.evidence_id]
    if event.state is EventState.CLEAR:
        if case.source_cleared_at is None:
            note(
                session,
                case,
                "cleared",
                ctx.gateway_id,
                f"cleared at the source ({event.device_id})",
                now,
                event.id,
            )
        case.source_cleared_at = max(case.source_cleared_at or event.ts, event.ts)
    elif case.source_cleared_at is not None and event.ts > case.source_cleared_at:
        case.source_cleared_at = None  # it came back
        note(
            session,
            case,
            "returned",
            ctx.gateway_id,
            f"active again after the clear ({event.device_id})",
            now,
            event.id,
        )


def record_hazard(
    session: Session,
    ctx: GatewayContext,
    event: HazardEvent,
    node_id: str | None,
    now: datetime,
    book: CaseBook | None = None,
    place: Place | None = None,
) -> tuple[Case | None, bool]:
    """Fold an event into its open case or open a new one. Returns (case, created).

    A ``clear`` with no open case is only noted in the ledger (returns None).
    """
    book = book or CaseBook(session, ctx)
    place = place or resolve_place(ctx, event, node_id)
    key = (event.hazard_type.value, place.key)
    case = book.same_place(key)
    if case is None and place.location is not None:
        case = book.nearest(event.hazard_type.value, place.location, now)
        if case is not None:
            book.remember(key, case)
    if case is not None:
        _absorb(session, ctx, case, event, now)
        return case, False
    if event.state is EventState.CLEAR:
        return None, False
    policy = ctx.site.escalation.policy(event.hazard_type)
    case = Case(
        # The gateway's own id: event ids are unique per source only (two sources may share one).
        id=new_id(),
        hazard_type=event.hazard_type.value,
        category=category_of(event.hazard_type).value,
        severity=event.severity.value,
        status=CaseStatus.NEW.value,
        urgent=policy.urgent,
        place_key=place.key,
        node_id=node_id,
        device_id=place.device_id,
        zone_id=place.zone_id,
        grid_id=place.grid_id,
        lon=place.location.lon if place.location else None,
        lat=place.location.lat if place.location else None,
        title=f"{hazard_label(event.hazard_type)} · {place.label}",
        warnings=list(place.warnings),
        evidence_ids=[event.evidence.evidence_id] if event.evidence else [],
        event_count=1,
        first_seen_at=event.ts,
        last_seen_at=event.ts,
        opened_at=now,
        updated_at=now,
    )
    if book.batched:
        # Inserted with the batch's other rows in one flush; if another gateway opened the same
        # place's case meanwhile, the partial unique index fails the batch and its driver retries it.
        session.add(case)
    else:
        try:
            # A savepoint: if another gateway opened the same place's case a moment ago,
            # the partial unique index refuses ours and we fold into theirs instead.
            with session.begin_nested():
                session.add(case)
                session.flush()
        except IntegrityError:
            book.forget(key)
            existing = book.same_place(key)
            if existing is None:
                raise
            _absorb(session, ctx, existing, event, now)
            return existing, False
    book.remember(key, case)
    session.add(
        CaseTransition(
            case_id=case.id,
            at=now,
            from_status=None,
            to_status=CaseStatus.NEW.value,
            actor=ctx.gateway_id,
            reason=f"opened by {event.rule or event.hazard_type.value} on {event.device_id}",
            event_id=event.id,
        )
    )
    log.info(
        "case %s opened: %s at %s (grid %s)",
        case.id,
        event.hazard_type.value,
        place.key,
        place.grid_id,
        extra={"case_id": case.id, "device_id": event.device_id, "event_id": event.id},
    )
    corroborate(session, ctx, book, case, now)
    return case, True


def mark_cleared(
    session: Session, ctx: GatewayContext, case: Case, cleared_at: datetime, event_id: str, now: datetime
) -> None:
    """Note a clear that arrived before the alarm it ends (out-of-order delivery)."""
    case.source_cleared_at = cleared_at
    case.updated_at = now
    note(
        session,
        case,
        "cleared",
        ctx.gateway_id,
        "cleared at the source (the clear arrived first)",
        now,
        event_id,
    )
