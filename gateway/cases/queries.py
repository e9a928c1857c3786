"""Read-side queries over cases (used by the API and the CLI).

The command centre's list and its CSV export take the same :class:`CaseFilter`
and :func:`case_query`, so an export holds exactly what the list showed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from contracts.geo import haversine_m, metres_per_degree
from contracts.hazards import Severity
from contracts.site import Site
from gateway.cases.lifecycle import OPEN_STATUSES
from gateway.cases.models import Case, CaseTransition
from gateway.cases.schemas import CaseDetail, CaseView, TransitionView
from gateway.dispatch.models import ACTIVE_TASK_STATUSES, Task

_ACTIVE_TASKS = [s.value for s in ACTIVE_TASK_STATUSES]

_SEVERITY_RANK = case({s.value: s.rank for s in Severity}, value=Case.severity, else_=-1)
# What a list may be sorted by (``-`` in front: descending); ties fall back to the newest first.
SORTS: dict[str, ColumnElement] = {
    "opened_at": Case.opened_at,
    "updated_at": Case.updated_at,
    "last_seen_at": Case.last_seen_at,
    "severity": _SEVERITY_RANK,
    "status": Case.status,
    "hazard_type": Case.hazard_type,
    "grid_id": Case.grid_id,
}
DEFAULT_SORT = "-opened_at"


@dataclass(frozen=True)
class CaseFilter:
    """What an operator narrowed the list to; empty fields do not filter."""

    statuses: tuple[str, ...] = ()
    open_only: bool = False
    severities: tuple[str, ...] = ()
    hazard_types: tuple[str, ...] = ()
    grids: frozenset[str] | None = None  # an area, as the grids under it; None = anywhere
    device_id: str | None = None
    worker_id: str | None = None  # held a task on the case, or is assigned to it
    opened_from: datetime | None = None  # inclusive
    opened_to: datetime | None = None  # exclusive
    text: str = ""  # in the title, or the start of the case id, or the device / grid id

    def conditions(self) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if self.statuses:
            conds.append(Case.status.in_(self.statuses))
        if self.open_only:
            conds.append(Case.status.in_(sorted(s.value for s in OPEN_STATUSES)))
        if self.severities:
            conds.append(Case.severity.in_(self.severities))
        if self.hazard_types:
            conds.append(Case.hazard_type.in_(self.hazard_types))
        if self.grids is not None:
            conds.append(Case.grid_id.in_(sorted(self.grids)))
        if self.device_id:
            conds.append(Case.device_id == self.device_id)
        if self.worker_id:
            held = select(Task.case_id).where(Task.worker_id == self.worker_id)
            conds.append(or_(Case.assigned_worker_id == self.worker_id, Case.id.in_(held)))
        if self.opened_from is not None:
            conds.append(Case.opened_at >= self.opened_from)
        if self.opened_to is not None:
            conds.append(Case.opened_at < self.opened_to)
        text = self.text.strip()
        if text:
            like = "%" + _escape(text) + "%"
            conds.append(
                or_(
                    Case.title.ilike(like, escape="\\"),
                    Case.id.startswith(text, autoescape=True),
                    Case.device_id.ilike(like, escape="\\"),
                    Case.grid_id.ilike(like, escape="\\"),
                )
            )
        return conds


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def case_query(
    criteria: CaseFilter, where: ColumnElement[bool] | None = None, sort: str = DEFAULT_SORT
) -> Select[tuple[Case]]:
    """The cases meeting ``criteria`` (and ``where``, e.g. the caller's areas), in ``sort`` order."""
    query = select(Case)
    conds = criteria.conditions()
    if where is not None:
        conds.append(where)
    if conds:
        query = query.where(and_(*conds))
    key = sort.lstrip("-")
    column = SORTS.get(key)
    if column is None:
        raise ValueError(f"cannot sort by {key!r}; one of: {', '.join(sorted(SORTS))}")
    first = column.desc() if sort.startswith("-") else column.asc()
    return query.order_by(first, Case.opened_at.desc(), Case.id.desc())


def list_cases(
    session: Session,
    criteria: CaseFilter = CaseFilter(),
    where: ColumnElement[bool] | None = None,
    sort: str = DEFAULT_SORT,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[CaseView], int]:
    """One page of cases and how many meet the filter in all."""
    query = case_query(criteria, where, sort)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = [CaseView.model_validate(c) for c in session.scalars(query.limit(limit).offset(offset))]
    return items, int(total)


def iter_cases(
    session: Session,
    criteria: CaseFilter,
    where: ColumnElement[bool] | None = None,
    sort: str = DEFAULT_SORT,
    chunk: int = 500,
) -> Iterator[Case]:
    """Every case meeting the filter, read a chunk at a time (exports)."""
    yield from session.scalars(case_query(criteria, where, sort).execution_options(yield_per=chunk))


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


def related(
    session: Session, site: Site, case: Case, where: ColumnElement[bool] | None, limit: int = 20
) -> list[CaseView]:
    """Other cases at the same place — the same device or camera zone, or within the site's
    correlation radius — newest first. ``where``: the caller's reach."""
    same_place = [Case.place_key == case.place_key]
    if case.device_id:
        same_place.append(Case.device_id == case.device_id)
    radius = site.settings.correlation.radius_m
    if case.lon is not None and case.lat is not None:
        per_lon, per_lat = metres_per_degree(case.lat)
        dlon, dlat = radius / per_lon, radius / per_lat
        same_place.append(
            and_(
                Case.lon.between(case.lon - dlon, case.lon + dlon),
                Case.lat.between(case.lat - dlat, case.lat + dlat),
            )
        )
    query = select(Case).where(Case.id != case.id, or_(*same_place))
    if where is not None:
        query = query.where(where)
    out = []
    for other in session.scalars(query.order_by(Case.opened_at.desc(), Case.id.desc()).limit(limit * 4)):
        elsewhere = other.place_key != case.place_key and other.device_id != case.device_id
        if elsewhere and _apart(case, other) > radius:
            continue  # in the box, outside the circle
        out.append(CaseView.model_validate(other))
        if len(out) == limit:
            break
    return out


def _apart(a: Case, b: Case) -> float:
    if a.lon is None or a.lat is None or b.lon is None or b.lat is None:
        return math.inf
    return haversine_m(a.lon, a.lat, b.lon, b.lat)


def worker_tasks_with_cases(session: Session, worker_id: str, finished: int = 50) -> list[tuple[Task, Case]]:
    """A worker's phone list: every active task and the ``finished`` latest others, with their
    cases (two queries, whatever the number of tasks)."""
    both = select(Task, Case).join(Case, Case.id == Task.case_id).where(Task.worker_id == worker_id)
    active = session.execute(both.where(Task.status.in_(_ACTIVE_TASKS))).tuples().all()
    done = (
        session.execute(
            both.where(Task.status.not_in(_ACTIVE_TASKS)).order_by(Task.updated_at.desc()).limit(finished)
        )
        .tuples()
        .all()
    )
    return [*active, *done]
