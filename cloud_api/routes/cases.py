"""Cases: the command centre's list and the detail of one case, each within the caller's reach."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from cloud_api.auth import Access, Perm, allow
from cloud_api.auth.guard import GuardedRoute
from cloud_api.auth.places import case_filter, case_place
from cloud_api.deps import ReadSessionDep, SiteDep
from cloud_api.params import Limit, Offset
from contracts.site import Site
from gateway.cases import queries
from gateway.cases.models import Case
from gateway.cases.schemas import CaseDetail, CaseView
from gateway.dispatch.queries import tasks_for_case
from gateway.dispatch.schemas import TaskView

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], route_class=GuardedRoute)
CaseReader = Annotated[Access, Depends(allow(Perm.READ_CASES))]


class CaseWithTasks(CaseDetail):
    tasks: list[TaskView]


class CaseList(BaseModel):
    items: list[CaseView]
    count: int


def case_in_reach(session: Session, site: Site, access: Access, case_id: str) -> Case:
    """The case, if it exists (404) and lies within the caller's reach (403)."""
    case = session.get(Case, case_id)
    if case is None:
        raise HTTPException(404, f"no case {case_id!r}")
    access.require(case_place(session, site, case), f"case {case_id}")
    return case


@router.get("", response_model=CaseList, summary="List cases in the caller's reach, newest first")
def list_cases(
    session: ReadSessionDep,
    site: SiteDep,
    access: CaseReader,
    status: str | None = Query(default=None, max_length=32, description="Exact status, e.g. 'dispatched'."),
    open: bool = Query(default=False, description="Only cases that still need someone."),
    hazard_type: str | None = Query(default=None, max_length=32),
    grid_id: str | None = Query(default=None, max_length=64),
    limit: Limit = 100,
    offset: Offset = 0,
) -> CaseList:
    where = case_filter(access, site)
    items = queries.list_cases(session, status, open, hazard_type, grid_id, limit, offset, where)
    return CaseList(items=items, count=len(items))


@router.get("/{case_id}", response_model=CaseWithTasks, summary="One case with its audit trail and tasks")
def get_case(case_id: str, session: ReadSessionDep, site: SiteDep, access: CaseReader) -> CaseWithTasks:
    case_in_reach(session, site, access, case_id)
    case = queries.get_case(session, case_id)
    assert case is not None
    return CaseWithTasks(**case.model_dump(), tasks=tasks_for_case(session, case_id))
