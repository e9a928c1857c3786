"""随手拍: a grid worker reports what they see; it opens (or joins) a case like a device's event.

The phone uploads the photos first (``PUT /api/v1/photos/{id}`` without a task), then sends the
report naming them, under an id it made: a retry answers as the first did and opens nothing
more (cloud_api/idempotency.py; the report's id is also its event's id in the ingest ledger).
The case goes through the same flow as a device's (gateway/flows/worker_reports.py): grid,
correlation, the centre's notice, SLA clock and dispatch to the nearest on-duty worker.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, Field, StringConstraints

from cloud_api.auth import Access, Perm, allow, same_person
from cloud_api.auth.guard import GuardedRoute
from cloud_api.deps import CtxDep, SessionDep
from cloud_api.idempotency import Conflict, OnceDep
from cloud_api.params import AwareTime
from contracts import GeoPoint, HazardCategory, HazardType, Severity, category_of
from contracts.envelope import Envelope
from gateway.cases.service import outside_by
from gateway.flows.worker_photos import PhotoNotTaken
from gateway.flows.worker_reports import Report, take_report

router = APIRouter(prefix="/api/v1/reports", tags=["reports"], route_class=GuardedRoute)

MAX_PHOTOS = 6
# What a worker on the spot reports unless they say otherwise: fire and gas cannot wait.
DEFAULT_SEVERITY = {HazardType.FIRE_SMOKE: Severity.CRITICAL, HazardType.GAS_LEAK: Severity.CRITICAL}


class ReportRequest(BaseModel):
    model_config = {"extra": "forbid"}

    id: str = Field(description="Made on the phone (a UUID): the report's id and its retry key.")
    hazard_type: HazardType = Field(description="What the worker sees (an emergency kind).")
    severity: Severity | None = Field(
        default=None, description="Default: critical for fire and gas, else major."
    )
    location: GeoPoint = Field(description="Where (the phone's position, WGS-84).")
    accuracy_m: float | None = Field(default=None, ge=0, le=10_000)
    note: str = Field(default="", max_length=2000)
    photos: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        default_factory=list, max_length=MAX_PHOTOS
    )
    taken_at: AwareTime | None = Field(
        default=None, description="When the worker made the report on the phone."
    )


class ReportAnswer(BaseModel):
    report_id: str
    case_id: str
    opened: bool  # False: it joined an open case of its kind nearby
    grid_id: str | None
    status: str
    title: str
    assigned_worker_id: str | None
    dispatch_reason: str
    photos: list[str]


@router.post(
    "",
    response_model=ReportAnswer,
    status_code=201,
    summary="随手拍: report a hazard seen on patrol (opens or joins a case, dispatched like a device's)",
)
def report(
    body: ReportRequest,
    session: SessionDep,
    ctx: CtxDep,
    access: Annotated[Access, Depends(allow(Perm.REPORT_CASES))],
    once: OnceDep,
) -> Response:
    worker_id = same_person(access, None, "worker_id")
    if category_of(body.hazard_type) is not HazardCategory.EMERGENCY:
        raise HTTPException(
            422, f"{body.hazard_type.value} is a device trouble: the installers' app reports those"
        )
    try:
        Envelope.model_validate({"id": body.id, "source": worker_id, "seq": 0})
    except ValueError:
        raise HTTPException(422, "id must be a UUID made on the phone") from None
    if worker_id not in ctx.site.workers:
        raise HTTPException(409, f"{worker_id} is not in this site's workers.yaml")
    far = outside_by(ctx, body.location)
    if far is not None:  # a stale fix, not a hazard across the border: nobody is sent there
        raise HTTPException(
            422,
            f"this position is {far / 1000:.0f} km outside every grid of {ctx.site.settings.site.name}: "
            "check the phone's position (wait for a fresh fix, or pick the place on the map)",
        )
    once.key = once.key or body.id
    now = ctx.now()
    report = Report(
        id=body.id,
        worker_id=worker_id,
        hazard_type=body.hazard_type,
        severity=body.severity or DEFAULT_SEVERITY.get(body.hazard_type, Severity.MAJOR),
        location=body.location,
        note=body.note,
        taken_at=min(body.taken_at or now, now),
        photos=tuple(body.photos),
    )

    def work() -> ReportAnswer:
        try:
            taken = take_report(session, ctx, report, now)
        except PhotoNotTaken as exc:
            raise Conflict(str(exc)) from None
        if taken.case is None:  # sent before under another key: the ledger knows its id
            raise Conflict(f"report {body.id} was already received")
        decision = taken.decision
        return ReportAnswer(
            report_id=body.id,
            case_id=taken.case.id,
            opened=taken.opened,
            grid_id=taken.case.grid_id,
            status=taken.case.status,
            title=taken.case.title,
            assigned_worker_id=taken.case.assigned_worker_id,
            dispatch_reason=decision.reason if decision is not None else "",
            photos=list(dict.fromkeys(body.photos)),
        )

    return once.run(session, now, work, status=201)
