"""Mark a worker unavailable beyond their duty schedule (leave, sick, held at another incident)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from pydantic import AwareDatetime, BaseModel, Field

from cloud_api.auth import PrincipalDep, forbid, same_person
from cloud_api.deps import CtxDep, ReadSessionDep, SessionDep
from contracts.envelope import Identifier
from contracts.site.access import Role
from gateway.workers.models import WorkerAvailability

router = APIRouter(prefix="/api/v1/workers", tags=["workers"])


class AvailabilityRequest(BaseModel):
    model_config = {"extra": "forbid"}

    available: bool
    until: AwareDatetime | None = Field(
        default=None, description="Unavailable until then; empty = until changed."
    )
    reason: str = Field(default="", max_length=500)
    by: Identifier | None = Field(
        default=None, description="Who says so: the token's holder, an operator or the worker (must match)."
    )


class AvailabilityView(BaseModel):
    worker_id: str
    available: bool
    until: datetime | None
    reason: str
    updated_at: datetime | None
    updated_by: str


@router.put(
    "/{worker_id}/availability", response_model=AvailabilityView, summary="Set a worker's availability"
)
def set_availability(
    worker_id: str,
    body: AvailabilityRequest,
    session: SessionDep,
    ctx: CtxDep,
    who: PrincipalDep,
    request: Request,
) -> AvailabilityView:
    """An operator for anyone; a worker only for themselves."""
    if worker_id not in ctx.site.workers:
        raise HTTPException(404, f"no worker {worker_id!r} in site {ctx.site.settings.site.id!r}")
    by = same_person(who, request, body.by, "by")
    if who.role is Role.WORKER and worker_id != who.id:
        raise forbid(who, request, f"a worker sets only their own availability, not {worker_id}'s")
    now = ctx.now()
    if body.until is not None and body.until <= now:
        raise HTTPException(422, "'until' is in the past")
    with session.begin():
        row = session.get(WorkerAvailability, worker_id) or WorkerAvailability(worker_id=worker_id)
        row.available, row.until, row.reason = body.available, body.until, body.reason
        row.updated_at, row.updated_by = now, by
        session.add(row)
    return get_availability(worker_id, session, ctx)


@router.get("/{worker_id}/availability", response_model=AvailabilityView, summary="A worker's availability")
def get_availability(worker_id: str, session: ReadSessionDep, ctx: CtxDep) -> AvailabilityView:
    if worker_id not in ctx.site.workers:
        raise HTTPException(404, f"no worker {worker_id!r} in site {ctx.site.settings.site.id!r}")
    row = session.get(WorkerAvailability, worker_id)
    if row is None:
        return AvailabilityView(
            worker_id=worker_id, available=True, until=None, reason="", updated_at=None, updated_by=""
        )
    expired = row.until is not None and row.until <= ctx.now()
    return AvailabilityView(
        worker_id=worker_id,
        available=row.available or expired,
        until=None if expired else row.until,
        reason="" if expired else row.reason,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )
