"""The command centre's decisions on a case (confirm, dismiss, close, reopen, escalate by hand,
merge a duplicate), a department's acknowledgement (部门报到), and the false-alarm report.

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
from gateway.cases.feedback import FalseAlarmReason, FalseAlarmStats, false_alarm_stats
from gateway.cases.lifecycle import TransitionError
from gateway.cases.schemas import CaseDetail
from gateway.flows import case_decisions
from gateway.flows.case_merge import merge
from gateway.flows.escalate import WhistleRefused, whistle

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
        description="Why. Required to dismiss (what made it false, unless reason_code says) and to reopen.",
    )
    reason_code: FalseAlarmReason | None = Field(
        default=None, description="dismiss: what made it a false alarm, from the list (reason adds a note)."
    )


class AcknowledgeRequest(BaseModel):
    model_config = {"extra": "forbid"}

    note: str = Field(default="", max_length=2000, description="What the department does about it.")
    responsible: str = Field(
        default="", max_length=200, description="Who answers for it in the department (name, phone)."
    )


class EscalateRequest(BaseModel):
    model_config = {"extra": "forbid"}

    operator: Identifier | None = Field(default=None, description="The caller (must match when given).")
    department: Identifier = Field(description="A department id of escalation.yaml (GET /api/v1/site).")
    message: str = Field(min_length=1, max_length=2000, description="What the department is asked to do.")


class MergeRequest(BaseModel):
    model_config = {"extra": "forbid"}

    operator: Identifier | None = Field(default=None, description="The caller (must match when given).")
    into: str = Field(min_length=1, max_length=36, description="The case this one duplicates.")
    reason: str = Field(default="", max_length=2000)


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
            case_decisions.acknowledge(
                session, case, actor, name or "", body.note, ctx.now(), body.responsible
            )
        except case_decisions.CaseActionRefused as exc:
            raise HTTPException(409, str(exc)) from None
    detail = queries.get_case(session, case_id)
    assert detail is not None
    return detail


@router.post(
    "/cases/{case_id}/escalate",
    response_model=CaseDetail,
    summary="Blow the whistle (吹哨): tell a department now, with a message; it must acknowledge (报到)",
    responses={409: {"description": "Unknown department, or already told of this case"}},
)
def escalate_by_hand(
    case_id: str,
    body: EscalateRequest,
    session: SessionDep,
    ctx: CtxDep,
    access: Annotated[Access, Depends(allow(Perm.DECIDE_CASES))],
) -> CaseDetail:
    operator_id = same_person(access, body.operator, "operator")
    with session.begin():
        case_in_reach(session, ctx.site, access, case_id)
        try:
            case = case_decisions.locked_case(session, case_id)
            whistle(session, ctx, case, body.department, operator_id, body.message, ctx.now())
        except WhistleRefused as exc:
            raise HTTPException(409, str(exc)) from None
    detail = queries.get_case(session, case_id)
    assert detail is not None
    return detail


@router.post(
    "/cases/{case_id}/merge",
    response_model=CaseDetail,
    summary="Merge a duplicate case into another: its events and snapshots go there; it ends as merged",
    responses={409: {"description": "Not a move that fits the two cases"}},
)
def merge_into(
    case_id: str,
    body: MergeRequest,
    session: SessionDep,
    ctx: CtxDep,
    access: Annotated[Access, Depends(allow(Perm.DECIDE_CASES))],
) -> CaseDetail:
    """Answers the case merged into (with its trail)."""
    operator_id = same_person(access, body.operator, "operator")
    with session.begin():
        case_in_reach(session, ctx.site, access, case_id)
        case_in_reach(session, ctx.site, access, body.into)
        try:
            merge(session, ctx, case_id, body.into, operator_id, body.reason, ctx.now())
        except (TransitionError, case_decisions.CaseActionRefused) as exc:
            raise HTTPException(409, str(exc)) from None
    detail = queries.get_case(session, body.into)
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
        if action != "dismiss" and body.reason_code is not None:
            raise HTTPException(422, "reason_code: only a dismissal takes one")
        try:
            if action == "dismiss":
                case_decisions.dismiss(
                    session, ctx, case_id, operator_id, body.reason, ctx.now(), body.reason_code
                )
            else:
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
