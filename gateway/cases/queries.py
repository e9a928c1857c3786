"""Read-side queries over cases (used by the API and the CLI)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from gateway.cases.lifecycle import OPEN_STATUSES
from gateway.cases.models import Case, CaseTransition
from gateway.cases.schemas import CaseDetail, CaseView, TransitionView


def list_cases(
    session: Session,
    status: str | None = None,
    open_only: bool = False,
    hazard_type: str | None = None,
    grid_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
    where: ColumnElement[bool] | None = None,
) -> list[CaseView]:
    """``where``: a further condition, e.g. the caller's areas."""
    query = select(Case).order_by(Case.opened_at.desc(), Case.id.desc())
    if where is not None:
        query = query.where(where)
    if status:
        query = query.where(Case.status == status)
    if open_only:
        query = query.where(Case.status.in_([s.value for s in OPEN_STATUSES]))
    if hazard_type:
        query = query.where(Case.hazard_type == hazard_type)
    if grid_id:
        query = query.where(Case.grid_id == grid_id)
    return [CaseView.model_validate(c) for c in session.scalars(query.limit(limit).offset(offset))]


def get_case(session: Session, case_id: str) -> CaseDetail | None:
    case = session.get(Case, case_id)
    if case is None:
        return None
    transitions = session.scalars(
        select(CaseTransition).where(CaseTransition.case_id == case_id).order_by(CaseTransition.id)
    )
    return CaseDetail(
        **CaseView.model_validate(case).model_dump(),
        transitions=[TransitionView.model_validate(t) for t in transitions],
    )
