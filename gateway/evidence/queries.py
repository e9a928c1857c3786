"""Read-side queries over evidence: every snapshot of a case, with what took it."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from contracts.site import Site
from contracts.site.models import Camera
from gateway.cases.models import Case
from gateway.events.models import EventRecord
from gateway.evidence.models import Evidence
from gateway.evidence.schemas import EvidenceView


def of_case(session: Session, site: Site, case: Case) -> list[EvidenceView]:
    """The case's snapshots, oldest first: those it lists and those taken for its events."""
    event_ids = select(EventRecord.id).where(EventRecord.case_id == case.id)  # events of the case
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
