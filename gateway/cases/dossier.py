"""What the command centre reads about one case besides its trail: every snapshot, the device
reports with their readings, and the other cases at the same place."""

from __future__ import annotations

import json
import math

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from contracts.geo import haversine_m, metres_per_degree
from contracts.site import Site
from contracts.site.models import Camera
from gateway.cases.models import Case
from gateway.cases.schemas import CaseView, EvidenceView, Reading, ReadingEvent
from gateway.events.models import EventRecord
from gateway.evidence.models import Evidence

HAZARD_EVENT = "hazard_event"


def evidence(session: Session, site: Site, case: Case) -> list[EvidenceView]:
    """The case's snapshots, oldest first: those it lists and those taken for its events."""
    event_ids = select(EventRecord.id).where(EventRecord.case_id == case.id)
    rows = session.scalars(
        select(Evidence)
        .where(or_(Evidence.id.in_(list(case.evidence_ids)), Evidence.event_id.in_(event_ids)))
        .order_by(Evidence.taken_at, Evidence.id)
    )
    return [_evidence_view(site, e) for e in rows]


def _evidence_view(site: Site, row: Evidence) -> EvidenceView:
    worker_id = next((w for w in (row.device_id, row.source) if w in site.workers), None)
    known = site.device(row.device_id)
    if worker_id is not None:
        kind, name = "worker", site.workers[worker_id].name
    elif known is not None:
        device = known[1]
        kind = "camera" if isinstance(device, Camera) else "device"
        name = device.name or device.id
    else:
        kind, name = "device", row.device_id
    return EvidenceView(
        id=row.id,
        kind=kind,
        device_id=row.device_id,
        device_name=name,
        worker_id=worker_id,
        event_id=row.event_id,
        taken_at=row.taken_at,
        received_at=row.received_at,
        width=row.width,
        height=row.height,
        url=f"/api/v1/evidence/{row.id}.jpg",
    )


def events(session: Session, case: Case, limit: int = 500) -> list[ReadingEvent]:
    """The hazard events folded into the case, oldest first, with the readings each carried."""
    rows = session.scalars(
        select(EventRecord)
        .where(EventRecord.case_id == case.id, EventRecord.kind == HAZARD_EVENT)
        .order_by(EventRecord.ts, EventRecord.id)
        .limit(limit)
    )
    return [_reading_event(r) for r in rows]


def _reading_event(row: EventRecord) -> ReadingEvent:
    try:
        body = json.loads(row.payload)
    except ValueError:
        body = {}  # the ledger keeps what was applied; an unreadable payload still shows its row
    body = body if isinstance(body, dict) else {}
    readings = [
        Reading(quantity=str(m.get("quantity", "")), value=float(m["value"]), unit=str(m.get("unit", "")))
        for m in body.get("readings") or []
        if isinstance(m, dict) and isinstance(m.get("value"), int | float)
    ]
    detections = [
        f"{d.get('label', '?')} {float(d.get('confidence', 0)):.2f}"
        for d in body.get("detections") or []
        if isinstance(d, dict)
    ]
    confidence = body.get("confidence")
    return ReadingEvent(
        id=row.id,
        at=row.ts,
        received_at=row.received_at,
        state=row.state,
        severity=row.severity,
        device_id=row.device_id,
        zone_id=body.get("zone_id"),
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        rule=str(body.get("rule") or ""),
        summary=str(body.get("summary") or ""),
        readings=readings,
        detections=detections,
    )


def related(
    session: Session, site: Site, case: Case, where: ColumnElement[bool] | None, limit: int = 20
) -> list[CaseView]:
    """Other cases at the same place — the same device or camera zone, or within the site's
    correlation radius — newest first. ``where``: the caller's reach."""
    same_place = [Case.place_key == case.place_key]
    if case.device_id:
        same_place.append(Case.device_id == case.device_id)
    radius = site.settings.correlation.radius_m
    if case.lon is not None and case.lat is not None:
        per_lon, per_lat = metres_per_degree(case.lat)
        dlon, dlat = radius / per_lon, radius / per_lat
        same_place.append(
            and_(
                Case.lon.between(case.lon - dlon, case.lon + dlon),
                Case.lat.between(case.lat - dlat, case.lat + dlat),
            )
        )
    query = select(Case).where(Case.id != case.id, or_(*same_place))
    if where is not None:
        query = query.where(where)
    out = []
    for other in session.scalars(query.order_by(Case.opened_at.desc(), Case.id.desc()).limit(limit * 4)):
        elsewhere = other.place_key != case.place_key and other.device_id != case.device_id
        if elsewhere and _apart(case, other) > radius:
            continue  # in the box, outside the circle
        out.append(CaseView.model_validate(other))
        if len(out) == limit:
            break
    return out


def _apart(a: Case, b: Case) -> float:
    if a.lon is None or a.lat is None or b.lon is None or b.lat is None:
        return math.inf
    return haversine_m(a.lon, a.lat, b.lon, b.lat)
