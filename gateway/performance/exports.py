"""Rows for the spreadsheets leaders are asked for: the tasks of a period, with every step's time
and how long each took (the assessment's rows are :func:`gateway.performance.assessment.assess`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cases.models import Case
from gateway.dispatch.models import Task
from gateway.performance.areas import Grids, in_grids

EXPORT_MAX_ROWS = 100_000  # a spreadsheet's worth; narrow the filter for more


def task_rows(
    session: Session,
    since: datetime,
    until: datetime,
    grids: Grids,
    worker_id: str | None = None,
    status: str | None = None,
) -> Iterator[Any]:
    """Tasks offered in [since, until) on cases in ``grids``, oldest first, with their case."""
    query = (
        select(Task, Case.title, Case.hazard_type, Case.severity, Case.grid_id)
        .join(Case, Case.id == Task.case_id)
        .where(Task.offered_at >= since, Task.offered_at < until, in_grids(Case.grid_id, grids))
        .order_by(Task.offered_at, Task.id)
        .limit(EXPORT_MAX_ROWS)
    )
    if worker_id is not None:
        query = query.where(Task.worker_id == worker_id)
    if status is not None:
        query = query.where(Task.status == status)
    yield from session.execute(query.execution_options(yield_per=1000))
