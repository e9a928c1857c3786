"""The command centre's decisions on a case (confirm, dismiss, close, reopen), a department's
acknowledgement (部门报到), and the false-alarm report.

Each answers the case with its audit trail; a move the transition table does
not allow answers 409 with the allowed moves and changes nothing. The actor
on the trail is ``operator:<caller>`` (``department:<caller>`` for an acknowledgement).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from cloud_api.auth import Access, Perm, allow, same_person
from cloud_api.auth.guard import GuardedRoute
from cloud_api.auth.places import case_filter
from cloud_api.deps import CtxDep, ReadSessionDep, SessionDep, SiteDep
from cloud_api.params import Time, site_time
from cloud_api.routes.cases import case_in_reach
from contracts.envelope import Identifier
from gateway.cases import queries
from gateway.cases.feedback import FalseAlarmStats, false_alarm_stats
from gateway.cases.lifecycle import TransitionError
from gateway.cases.schemas import CaseDetail
from gateway.flows import case_decisions

router = APIRouter(prefix="/api/v1", tags=["cases"], route_class=GuardedRoute)

Action = Literal["confirm", "dismiss", "close", "reopen"]
_ACTIONS = {
    "confirm": case_decisions.confirm,
    "dismiss": case_decisions.dismiss,
    "close": case_decisions.close,
    "reopen": case_decisions.reopen,
}


class CaseActionRequest(BaseModel):
    model_config = {"extra": "forbid"}

    operator: Identifier | None = Field(
        default=None,
        description="The operator's id (the trail says operator:<id>); defaults to the caller and "
        "must match it when given.",
    )
    reason: str = Field(
        default="",
        max_length=2000,
        description="Why. Required to dismiss (what made it false) and to reopen.",
    )


class AcknowledgeRequest(BaseModel):
    model_config = {"extra": "forbid"}

    note: str = Field(default="", max_length=2000, description="What the department does about it.")


class FalseAlarmReport(BaseModel):
    items: list[FalseAlarmStats]
    since: datetime | None


# Declared before the operators' actions: their {action} would take this path.
@router.post(
    "/cases/{case_id}/acknowledge",
    response_model=CaseDetail,
    summary="A department acknowledges a case escalated to it (部门报到)",
)
def acknowledge(
    case_id: str,
    body: AcknowledgeRequest,
    session: SessionDep,
    ctx: CtxDep,
    access: Annotated[Access, Depends(allow(Perm.ACKNOWLEDGE_CASES))],
) -> CaseDetail:
    caller = access.caller
    with session.begin():
        case = case_in_reach(session, ctx.site, access, case_id)
        department = ctx.site.escalation.departments.get(caller.department or "")
        name = department.name if department else caller.department
        actor = f"department:{caller.department}/{caller.actor}"
        try:
            case_decisions.acknowledge(session, case, actor, name or "", body.note, ctx.now())
        except case_decisions.CaseActionRefused as exc:
            raise HTTPException(409, str(exc)) from None
    detail = queries.get_case(session, case_id)
    assert detail is not None
    return detail


@router.post(
    "/cases/{case_id}/{action}",
    response_model=CaseDetail,
    summary="Confirm, dismiss (false alarm), close or reopen a case",
    responses={
        401: {"description": "Not signed in"},
        403: {"description": "Not an operator, or the case is outside their areas"},
        404: {"description": "No such case"},
        409: {"description": "Not allowed from here"},
    },
)
def act_on_case(
    case_id: str,
    action: Action,
    body: CaseActionRequest,
    session: SessionDep,
    ctx: CtxDep,
    access: Annotated[Access, Depends(allow(Perm.DECIDE_CASES))],
) -> CaseDetail:
    operator_id = same_person(access, body.operator, "operator")
    with session.begin():
        case_in_reach(session, ctx.site, access, case_id)
        try:
            _ACTIONS[action](session, ctx, case_id, operator_id, body.reason, ctx.now())
        except case_decisions.CaseNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except (TransitionError, case_decisions.CaseActionRefused) as exc:
            raise HTTPException(409, str(exc)) from None
    detail = queries.get_case(session, case_id)
    assert detail is not None
    return detail


@router.get(
    "/feedback/false-alarms",
    response_model=FalseAlarmReport,
    summary="False alarms per device and zone (dismissed by the centre or found false on site)",
)
def false_alarms(
    session: ReadSessionDep,
    site: SiteDep,
    access: Annotated[Access, Depends(allow(Perm.READ_CASES))],
    since: Annotated[
        Time | None, Query(description="Only since this time (RFC 3339; without an offset: site time).")
    ] = None,
) -> FalseAlarmReport:
    start = site_time(since, site.settings.site.tz, "since")
    items = false_alarm_stats(session, start, case_filter(access, site))
    return FalseAlarmReport(items=items, since=start)
