"""群众吹哨 — a resident reports a hazard from the public page: the same case-opening flow as a
worker's 随手拍 and a device's event.

The route has checked, before this runs, what an anonymous sender must prove (the proof of work,
the per-address limit, the photo's bytes, a position inside the site). Here, in the caller's
transaction:

1. the report is claimed in the ingest ledger under its id, with ``resident`` as its source, so
   a report sent twice (the page's offline queue retrying) opens one case;
2. its position places it in the grid that covers it;
3. it joins the open case of its kind nearby or opens one — the centre's notice, the SLA clock
   and the offer to the nearest on-duty worker of the grid follow as for any case; the case's
   device is ``resident`` (the console filters residents' reports by it) and its title says so;
4. the photo, already cleaned, is kept as the case's evidence; the report itself is kept beside
   the case (gateway.residents): its phone number for the centre only (never on the trail, which
   the grid's workers read), its status link for the resident, which shows the case's progress
   and nothing personal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from contracts import EventState, GeoPoint, HazardEvent, HazardType, Severity
from gateway.cases.audit import note
from gateway.cases.correlation import CaseBook
from gateway.cases.models import Case
from gateway.cases.service import Place, grid_of
from gateway.context import GatewayContext
from gateway.dispatch.choice import Decision
from gateway.events import service as ledger
from gateway.evidence.photos import Photo
from gateway.evidence.service import attach, store_photo
from gateway.flows.hazard_events import take_hazard
from gateway.residents.models import ResidentReport

log = logging.getLogger(__name__)

SOURCE = "resident"  # the event's source and the case's device: every resident is one source
RULE = "resident_report"
LEDGER_TOPIC = "http:POST /api/v1/public/reports"  # not an MQTT topic: reports come over the API


@dataclass(frozen=True)
class ResidentReportIn:
    id: str  # made on the phone (UUID)
    hazard_type: HazardType
    severity: Severity
    location: GeoPoint
    picked_on_map: bool
    note: str
    phone: str
    address_hash: str
    pow_bits: int
    photo: Photo | None = None


@dataclass(frozen=True)
class ResidentReported:
    case: Case | None  # None: the same report was taken before (a retry)
    opened: bool
    decision: Decision | None


def take_resident_report(
    session: Session, ctx: GatewayContext, report: ResidentReportIn, now: datetime
) -> ResidentReported:
    first_line = report.note.strip().splitlines()[0][:60] if report.note.strip() else ""
    label = "群众吹哨" + (f": {first_line}" if first_line else "")  # the title adds the hazard
    event = HazardEvent(
        id=report.id,
        source=SOURCE,
        seq=0,
        ts=now,
        hazard_type=report.hazard_type,
        severity=report.severity,
        confidence=0.7,  # a person on the spot, not yet seen by anyone of ours
        state=EventState.NEW,
        episode_id=report.id,
        device_id=SOURCE,
        location=report.location,
        rule=RULE,
        summary=report.note[:500],
    )
    claimed = ledger.claim(
        session, [ledger.Claim(event, LEDGER_TOPIC, event.model_dump_json())], now, ctx.gateway_id
    )
    key = ledger.key_of(event)
    if key not in claimed:
        return ResidentReported(None, False, None)
    warnings: list[str] = []
    grid_id = grid_of(ctx, report.location, warnings)
    place = Place(
        f"resident/{report.id}", None, SOURCE, None, label, report.location, grid_id, tuple(warnings)
    )
    taken = take_hazard(session, ctx, event, place, now, CaseBook(session, ctx))
    case = session.get(Case, taken.case_of_event[key])
    assert case is not None
    photo_id = None
    if report.photo is not None:
        photo_id = report.id  # one photo a report: it shares the report's id
        row = store_photo(
            session,
            photo_id,
            SOURCE,
            report.photo,
            now,
            now,
            None,
            (report.location.lon, report.location.lat),
        )
        row.event_id = event.id
        attach(case, photo_id)
    ledger.attach_cases(session, taken.case_of_event)
    session.add(
        ResidentReport(
            id=report.id,
            case_id=case.id,
            hazard_type=report.hazard_type.value,
            grid_id=grid_id,
            lon=report.location.lon,
            lat=report.location.lat,
            picked_on_map=report.picked_on_map,
            note=report.note,
            phone=report.phone,
            photo_id=photo_id,
            address_hash=report.address_hash,
            pow_bits=report.pow_bits,
            received_at=now,
        )
    )
    what = "opened the case" if taken.opened is not None else "joined the open case"
    where = "picked on the map" if report.picked_on_map else "the phone's position"
    reason = f"群众吹哨: a resident's report {what} ({where})"
    if report.phone:
        # Not the number itself: the trail is read by the grid's workers too (GET /cases/{id});
        # the centre reads it from the report (gateway.residents.queries.call_backs).
        reason += "; left a phone number for a call back"
    if report.note:
        reason += f": {report.note}"
    if photo_id:
        reason += " (1 photo)"
    note(session, case, "reported", SOURCE, reason[:2000], now, event.id)
    log.info(
        "resident report %s %s %s in grid %s",
        report.id,
        what,
        case.id,
        case.grid_id,
        extra={"report_id": report.id, "case_id": case.id, "grid_id": case.grid_id},
    )
    return ResidentReported(case, taken.opened is not None, taken.decision)
