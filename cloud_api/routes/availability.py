"""Mark a worker unavailable beyond their duty schedule (leave, sick, held at another incident)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from cloud_api.auth import Access, Perm, allow, same_person
from cloud_api.auth.guard import GuardedRoute
from cloud_api.deps import CtxDep, ReadSessionDep, SessionDep
from cloud_api.params import AwareTime
from cloud_api.routes.workers import WorkerReader, worker_in_reach
from contracts.envelope import Identifier
from gateway.workers.models import WorkerAvailability

router = APIRouter(prefix="/api/v1/workers", tags=["workers"], route_class=GuardedRoute)


class AvailabilityRequest(BaseModel):
    model_config = {"extra": "forbid"}

    available: bool
    until: AwareTime | None = Field(
        default=None, description="Unavailable until then; empty = until changed."
    )
    reason: str = Field(default="", max_length=500)
    by: Identifier | None = Field(
        default=None, description="Who says so: the caller, an operator or the worker (must match)."
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
    access: Annotated[Access, Depends(allow(Perm.SET_AVAILABILITY))],
) -> AvailabilityView:
    """An operator for the workers in their areas; a worker only for themselves."""
    worker_in_reach(ctx.site, access, worker_id)
    by = same_person(access, body.by, "by")
    now = ctx.now()
    if body.until is not None and body.until <= now:
        raise HTTPException(422, "'until' is in the past")
    with session.begin():
        row = session.get(WorkerAvailability, worker_id) or WorkerAvailability(worker_id=worker_id)
        row.available, row.until, row.reason = body.available, body.until, body.reason
        row.updated_at, row.updated_by = now, by
        session.add(row)
    return _view(worker_id, session, ctx)


@router.get("/{worker_id}/availability", response_model=AvailabilityView, summary="A worker's availability")
def get_availability(
    worker_id: str, session: ReadSessionDep, ctx: CtxDep, access: WorkerReader
) -> AvailabilityView:
    worker_in_reach(ctx.site, access, worker_id)
    return _view(worker_id, session, ctx)


def _view(worker_id: str, session: ReadSessionDep, ctx: CtxDep) -> AvailabilityView:
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
