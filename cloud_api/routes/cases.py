"""Cases: the command centre's list and the detail of one case."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from cloud_api.deps import ReadSessionDep
from gateway.cases import queries
from gateway.cases.schemas import CaseDetail, CaseView
from gateway.dispatch.queries import tasks_for_case
from gateway.dispatch.schemas import TaskView

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


class CaseWithTasks(CaseDetail):
    tasks: list[TaskView]


class CaseList(BaseModel):
    items: list[CaseView]
    count: int


@router.get("", response_model=CaseList, summary="List cases, newest first")
def list_cases(
    session: ReadSessionDep,
    status: str | None = Query(default=None, description="Exact status, e.g. 'dispatched'."),
    open: bool = Query(default=False, description="Only cases that still need someone."),
    hazard_type: str | None = None,
    grid_id: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0),
) -> CaseList:
    items = queries.list_cases(session, status, open, hazard_type, grid_id, limit, offset)
    return CaseList(items=items, count=len(items))


@router.get("/{case_id}", response_model=CaseWithTasks, summary="One case with its audit trail and tasks")
def get_case(case_id: str, session: ReadSessionDep) -> CaseWithTasks:
    case = queries.get_case(session, case_id)
    if case is None:
        raise HTTPException(404, f"no case {case_id!r}")
    return CaseWithTasks(**case.model_dump(), tasks=tasks_for_case(session, case_id))
