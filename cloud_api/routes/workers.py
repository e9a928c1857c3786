"""Grid workers: who they are, where they are, what they have to do — within the caller's reach
(an operator's areas; a worker sees only themselves)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from cloud_api.auth import Access, Perm, allow
from cloud_api.auth.guard import GuardedRoute
from cloud_api.auth.places import worker_place
from cloud_api.deps import CtxDep, ReadSessionDep
from cloud_api.params import Limit
from contracts.site import Site
from contracts.site.models import GridLevel
from contracts.site.schedule import any_active
from gateway.cases.models import Case
from gateway.cases.queries import worker_tasks_with_cases
from gateway.dispatch.models import ACTIVE_TASK_STATUSES, Task
from gateway.dispatch.queries import active_task_counts, tasks_for_worker
from gateway.dispatch.schemas import TaskView
from gateway.workers import queries

router = APIRouter(prefix="/api/v1/workers", tags=["workers"], route_class=GuardedRoute)
WorkerReader = Annotated[Access, Depends(allow(Perm.READ_WORKERS))]


class WorkerView(BaseModel):
    id: str
    name: str
    role: str
    home_grid: str
    phone: str
    duty: list[str]
    on_duty: bool
    lon: float | None
    lat: float | None
    fixed_at: datetime | None
    fix_fresh: bool = False  # the fix is newer than the site's dispatch.stale_fix_s (dispatch uses it)
    active_tasks: int


class TaskList(BaseModel):
    worker_id: str
    items: list[TaskView]
    count: int


def worker_in_reach(site: Site, access: Access, worker_id: str) -> None:
    """404 for a worker the site does not know, 403 for one outside the caller's reach."""
    if worker_id not in site.workers:
        raise HTTPException(404, f"no worker {worker_id!r} in site {site.settings.site.id!r}")
    access.require(worker_place(site, worker_id), f"worker {worker_id}")


@router.get("", response_model=list[WorkerView], summary="Workers in the caller's reach, with live state")
def list_workers(session: ReadSessionDep, ctx: CtxDep, access: WorkerReader) -> list[WorkerView]:
    site = ctx.site
    now = ctx.now()
    shown = [w for w in site.workers.values() if access.allows(worker_place(site, w.id))]
    ids = [w.id for w in shown]
    positions = queries.positions(session, ids)
    load = active_task_counts(session, ids)
    stale_s = site.settings.dispatch.stale_fix_s
    out = []
    for w in shown:
        fix = positions.get(w.id)
        out.append(
            WorkerView(
                id=w.id,
                name=w.name,
                role=w.role.value,
                home_grid=w.home_grid,
                phone=w.phone,
                duty=[str(d) for d in w.duty],
                on_duty=any_active(w.duty, now, site.settings.site.tz),
                lon=fix.lon if fix else None,
                lat=fix.lat if fix else None,
                fixed_at=fix.fixed_at if fix else None,
                fix_fresh=fix is not None and (now - fix.fixed_at).total_seconds() <= stale_s,
                active_tasks=load.get(w.id, 0),
            )
        )
    return out


@router.get("/{worker_id}/tasks", response_model=TaskList, summary="A worker's tasks, newest first")
def worker_tasks(
    worker_id: str,
    session: ReadSessionDep,
    ctx: CtxDep,
    access: Annotated[Access, Depends(allow(Perm.READ_TASKS))],
    active: bool = Query(default=False, description="Only offered, accepted or on-site tasks."),
    limit: Limit = 100,
) -> TaskList:
    worker_in_reach(ctx.site, access, worker_id)
    items = tasks_for_worker(session, worker_id, active, limit)
    return TaskList(worker_id=worker_id, items=items, count=len(items))


class CaseBrief(BaseModel):
    """What the phone shows of a task's case."""

    id: str
    title: str
    hazard_type: str
    severity: str
    status: str
    grid_id: str | None
    grid_name: str
    address: str  # community · grid · the place (device, zone or report)
    lon: float | None
    lat: float | None
    evidence_ids: list[str]
    opened_at: datetime


class TaskCard(TaskView):
    accepted_at: datetime | None
    on_site_at: datetime | None
    resolved_at: datetime | None
    ended_at: datetime | None
    active: bool
    due: datetime | None  # the next deadline: accept_by while offered, on_site_by once accepted
    case: CaseBrief


class TaskCards(BaseModel):
    worker_id: str
    items: list[TaskCard]
    count: int


_ACTIVE = {s.value for s in ACTIVE_TASK_STATUSES}


def _address(site: Site, case: Case) -> tuple[str, str]:
    grid = site.areas.get(case.grid_id) if case.grid_id else None
    community = site.ancestor(case.grid_id, GridLevel.COMMUNITY) if case.grid_id else None
    place = case.title.split(" · ", 1)[-1]
    parts = [p for p in (community.name if community else "", grid.name if grid else "", place) if p]
    return (grid.name if grid else ""), " · ".join(parts)


def _card(site: Site, task: Task, case: Case) -> TaskCard:
    grid_name, address = _address(site, case)
    active = task.status in _ACTIVE
    due = (
        task.accept_by if task.status == "offered" else task.on_site_by if task.status == "accepted" else None
    )
    return TaskCard(
        **TaskView.model_validate(task).model_dump(),
        accepted_at=task.accepted_at,
        on_site_at=task.on_site_at,
        resolved_at=task.resolved_at,
        ended_at=task.ended_at,
        active=active,
        due=due if active else None,
        case=CaseBrief(
            id=case.id,
            title=case.title,
            hazard_type=case.hazard_type,
            severity=case.severity,
            status=case.status,
            grid_id=case.grid_id,
            grid_name=grid_name,
            address=address,
            lon=case.lon,
            lat=case.lat,
            evidence_ids=list(case.evidence_ids),
            opened_at=case.opened_at,
        ),
    )


def _order(card: TaskCard) -> tuple[object, ...]:
    """Active first; of those the urgent, then the nearest deadline; then the latest finished."""
    if card.active:
        due = card.due.timestamp() if card.due else float("inf")
        return (0, not card.urgent, due, -card.offered_at.timestamp())
    return (1, 0, 0.0, -card.updated_at.timestamp())


@router.get(
    "/{worker_id}/task-cards",
    response_model=TaskCards,
    summary="A worker's phone list: active tasks first (urgent, then the nearest deadline), with their cases",
)
def worker_task_cards(
    worker_id: str,
    session: ReadSessionDep,
    ctx: CtxDep,
    access: Annotated[Access, Depends(allow(Perm.READ_TASKS))],
    finished: Annotated[int, Query(ge=0, le=500, description="How many finished tasks to add.")] = 30,
) -> TaskCards:
    worker_in_reach(ctx.site, access, worker_id)
    cards = sorted(
        (_card(ctx.site, t, c) for t, c in worker_tasks_with_cases(session, worker_id, finished)), key=_order
    )
    return TaskCards(worker_id=worker_id, items=cards, count=len(cards))
