"""Grid workers: who they are, where they are, what they have to do."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from cloud_api.deps import ReadSessionDep, SiteDep
from contracts import utcnow
from contracts.site.schedule import any_active
from gateway.dispatch.queries import active_task_counts, tasks_for_worker
from gateway.dispatch.schemas import TaskView
from gateway.workers import queries

router = APIRouter(prefix="/api/v1/workers", tags=["workers"])


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
    active_tasks: int


class TaskList(BaseModel):
    worker_id: str
    items: list[TaskView]
    count: int


@router.get("", response_model=list[WorkerView], summary="All workers with live state")
def list_workers(session: ReadSessionDep, site: SiteDep) -> list[WorkerView]:
    now = utcnow()
    positions = queries.positions(session)
    load = active_task_counts(session)
    out = []
    for w in site.workers.values():
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
                active_tasks=load.get(w.id, 0),
            )
        )
    return out


@router.get("/{worker_id}/tasks", response_model=TaskList, summary="A worker's tasks, newest first")
def worker_tasks(
    worker_id: str,
    session: ReadSessionDep,
    site: SiteDep,
    active: bool = Query(default=False, description="Only offered, accepted or on-site tasks."),
    limit: int = Query(default=100, ge=1, le=1000),
) -> TaskList:
    if worker_id not in site.workers:
        raise HTTPException(404, f"no worker {worker_id!r} in site {site.settings.site.id!r}")
    items = tasks_for_worker(session, worker_id, active, limit)
    return TaskList(worker_id=worker_id, items=items, count=len(items))
