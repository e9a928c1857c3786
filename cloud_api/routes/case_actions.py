"""The command centre's decisions on a case: confirm, dismiss (false alarm), close, reopen.

Each answers the case with its audit trail; a move the transition table does
not allow answers 409 with the allowed moves and changes nothing. The actor
on the trail is ``operator:<operator>``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from cloud_api.auth import OperatorDep, same_person
from cloud_api.deps import CtxDep, ReadSessionDep, SessionDep
from contracts.envelope import Identifier
from gateway.cases import queries
from gateway.cases.feedback import FalseAlarmStats, false_alarm_stats
from gateway.cases.lifecycle import TransitionError
from gateway.cases.schemas import CaseDetail
from gateway.flows import case_decisions as operator

router = APIRouter(prefix="/api/v1", tags=["cases"])

Action = Literal["confirm", "dismiss", "close", "reopen"]
_ACTIONS = {
    "confirm": operator.confirm,
    "dismiss": operator.dismiss,
    "close": operator.close,
    "reopen": operator.reopen,
}


class CaseActionRequest(BaseModel):
    model_config = {"extra": "forbid"}

    operator: Identifier | None = Field(
        default=None,
        description="The operator's id (the trail says operator:<id>); defaults to the token's holder and "
        "must match it when given.",
    )
    reason: str = Field(
        default="",
        max_length=2000,
        description="Why. Required to dismiss (what made it false) and to reopen.",
    )


class FalseAlarmReport(BaseModel):
    items: list[FalseAlarmStats]
    since: datetime | None


@router.post(
    "/cases/{case_id}/{action}",
    response_model=CaseDetail,
    summary="Confirm, dismiss (false alarm), close or reopen a case",
    responses={
        401: {"description": "No or unknown API token"},
        403: {"description": "Not an operator's token, or another operator's"},
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
    who: OperatorDep,
    request: Request,
) -> CaseDetail:
    operator_id = same_person(who, request, body.operator, "operator")
    with session.begin():
        try:
            _ACTIONS[action](session, ctx, case_id, operator_id, body.reason, ctx.now())
        except operator.CaseNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except (TransitionError, operator.CaseActionRefused) as exc:
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
    since: Annotated[datetime | None, Query(description="Only since this time (RFC 3339).")] = None,
) -> FalseAlarmReport:
    return FalseAlarmReport(items=false_alarm_stats(session, since), since=since)
