"""随手拍 — a grid worker reports what they see: the same case-opening flow as a device's event.

Most cases start on patrol, not at a camera. A worker's report is a hazard event whose source
is the worker (the reporter), made on the phone with its own id, and it goes where a device's
event goes (flows.hazard_events.take_hazard):

1. the report is claimed in the ingest ledger under its id, so a report sent twice (a phone
   retrying after a lost answer) opens one case;
2. its position places it in a grid (the nearest grid when it lies outside every grid);
3. it joins the open case of its kind nearby (a camera may have seen the same fire) or opens
   one — the centre's notice, the SLA clock and the first offer to the nearest on-duty worker
   of the grid follow, exactly as for a device;
4. its photos (uploaded before, flows.worker_photos) are listed on the case, and the trail
   says who reported it.

Workers cannot publish hazard events over MQTT (the broker and the gateway refuse a worker's
event topic): this runs in the API, with the signed-in worker as the reporter.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
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
from gateway.events.queries import WORKER_REPORT_TOPIC
from gateway.evidence.models import Evidence
from gateway.evidence.service import attach
from gateway.flows.hazard_events import take_hazard
from gateway.flows.worker_photos import PhotoNotTaken

log = logging.getLogger(__name__)

RULE = "worker_report"
LEDGER_TOPIC = WORKER_REPORT_TOPIC  # not an MQTT topic: reports come over the API only


@dataclass(frozen=True)
class Report:
    id: str  # made on the phone (UUID): the event's id in the ledger (with the worker as its source)
    worker_id: str
    hazard_type: HazardType
    severity: Severity
    location: GeoPoint
    note: str
    taken_at: datetime  # when the worker reported it on the phone (capped at now)
    photos: Sequence[str] = ()


@dataclass(frozen=True)
class Reported:
    case: Case | None  # None: the same report was taken before (a retry)
    opened: bool
    decision: Decision | None


def take_report(session: Session, ctx: GatewayContext, report: Report, now: datetime) -> Reported:
    worker = ctx.site.workers[report.worker_id]
    label = f"随手拍 {worker.name}" + (f": {report.note.splitlines()[0][:60]}" if report.note.strip() else "")
    event = HazardEvent(
        id=report.id,
        source=report.worker_id,
        seq=0,
        ts=min(report.taken_at, now),
        hazard_type=report.hazard_type,
        severity=report.severity,
        confidence=1.0,  # a person on the spot
        state=EventState.NEW,
        episode_id=report.id,
        device_id=report.worker_id,
        location=report.location,
        rule=RULE,
        summary=report.note[:500],
    )
    photos = _photos(session, report)
    claimed = ledger.claim(
        session, [ledger.Claim(event, LEDGER_TOPIC, event.model_dump_json())], now, ctx.gateway_id
    )
    key = ledger.key_of(event)
    if key not in claimed:
        return Reported(None, False, None)
    warnings: list[str] = []
    grid_id = grid_of(ctx, report.location, warnings)
    # Its own place: two reports by one worker are two places unless they lie close together
    # (then the correlation radius joins them, as it joins a camera's case nearby).
    place = Place(
        f"report/{report.id}", None, report.worker_id, None, label, report.location, grid_id, tuple(warnings)
    )
    taken = take_hazard(session, ctx, event, place, now, CaseBook(session, ctx))
    case_id = taken.case_of_event[key]
    case = session.get(Case, case_id)
    assert case is not None
    for row in photos:
        row.event_id = event.id
        attach(case, row.id)
    ledger.attach_cases(session, taken.case_of_event)
    what = "opened the case" if taken.opened is not None else "joined the open case"
    reason = f"随手拍 by {worker.name} ({report.worker_id}) {what}" + (
        f": {report.note}" if report.note else ""
    )
    if photos:
        reason += f" ({len(photos)} photo{'s' if len(photos) > 1 else ''})"
    note(session, case, "reported", f"worker:{report.worker_id}", reason[:2000], now, event.id)
    log.info(
        "worker report %s %s %s in grid %s",
        report.id,
        what,
        case.id,
        case.grid_id,
        extra={"worker_id": report.worker_id, "case_id": case.id, "event_id": report.id},
    )
    return Reported(case, taken.opened is not None, taken.decision)


def _photos(session: Session, report: Report) -> list[Evidence]:
    rows = []
    for photo_id in dict.fromkeys(report.photos):
        row = session.get(Evidence, photo_id)
        if row is None:
            raise PhotoNotTaken(
                f"photo {photo_id} has not arrived: upload it first (PUT /api/v1/photos/{photo_id})"
            )
        if row.device_id != report.worker_id:
            raise PhotoNotTaken(f"photo {photo_id} is not {report.worker_id}'s")
        if row.event_id is not None and row.event_id != report.id:
            raise PhotoNotTaken(f"photo {photo_id} belongs to another report")
        rows.append(row)
    return rows
