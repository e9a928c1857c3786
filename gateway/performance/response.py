"""Response figures per grid, community or worker over a period, computed by the database.

For the tasks offered in the period (a task counts where its case lies, and for its worker):

- how long accepting (offer → accepted), arriving (offer → on site) and resolving (on site →
  resolved) took: count, p50 and p90;
- the share within the SLA: phases met ÷ (met + breached), per phase (worker accept, on site,
  resolve) and together;
- offers declined and expired, results verified and sent back (返工);
- escalations: for grids and communities those of the cases opened there in the period, for a
  worker those of the cases of their tasks.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, and_, case, distinct, exists, func, select
from sqlalchemy.orm import Session

from gateway.cases.models import Case
from gateway.dispatch.models import Task, TaskStatus
from gateway.escalation.models import Escalation
from gateway.performance.areas import By, Grids, SiteMap, in_grids
from gateway.performance.sql import Spread, dialect_of, grouped, seconds
from gateway.sla.models import Outcome, Phase, SlaTimer

TIMED_PHASES = (Phase.WORKER_ACCEPT.value, Phase.ON_SITE.value, Phase.RESOLVE.value)
TIMINGS = ("accept_s", "arrive_s", "resolve_s")


class Timing(BaseModel):
    count: int
    p50_s: float | None
    p90_s: float | None

    @classmethod
    def of(cls, spread: Spread) -> Timing:
        p50, p90 = spread.quantiles
        return cls(
            count=spread.count,
            p50_s=round(p50, 1) if p50 is not None else None,
            p90_s=round(p90, 1) if p90 is not None else None,
        )


class PhaseShare(BaseModel):
    met: int = 0
    breached: int = 0

    @property
    def judged(self) -> int:
        return self.met + self.breached

    @property
    def rate(self) -> float | None:
        return round(self.met / self.judged, 4) if self.judged else None


class Response(BaseModel):
    """One line of response figures."""

    key: str | None  # grid, community or worker id; None: outside every grid (or 'all')
    name: str
    community: str | None = None  # of a grid or a worker's home grid
    offered: int = 0
    accepted: int = 0
    declined: int = 0
    expired: int = 0
    arrived: int = 0
    resolved: int = 0
    verified: int = 0
    sent_back: int = 0
    cases: int = 0
    accept: Timing = Timing(count=0, p50_s=None, p90_s=None)
    arrival: Timing = Timing(count=0, p50_s=None, p90_s=None)
    resolve: Timing = Timing(count=0, p50_s=None, p90_s=None)
    accept_sla: PhaseShare = PhaseShare()
    arrival_sla: PhaseShare = PhaseShare()
    resolve_sla: PhaseShare = PhaseShare()
    on_time_rate: float | None = None  # met ÷ judged over the three phases together
    phases_judged: int = 0
    escalations: int = 0
    cases_escalated: int = 0


_PHASE_FIELD = {
    Phase.WORKER_ACCEPT.value: "accept_sla",
    Phase.ON_SITE.value: "arrival_sla",
    Phase.RESOLVE.value: "resolve_sla",
}


def task_rows(
    dialect: str, since: datetime, until: datetime, grids: Grids, workers: list[str] | None
) -> Select[Any]:
    """The period's tasks with their case's grid and step durations (a subquery for aggregates)."""
    query = (
        select(
            Task.id.label("task_id"),
            Task.case_id.label("case_id"),
            Task.worker_id.label("worker_id"),
            Case.grid_id.label("grid_id"),
            Task.status.label("status"),
            Task.accepted_at.label("accepted_at"),
            Task.on_site_at.label("on_site_at"),
            Task.verified_at.label("verified_at"),
            Task.sent_back_at.label("sent_back_at"),
            seconds(dialect, Task.accepted_at, Task.offered_at).label("accept_s"),
            seconds(dialect, Task.on_site_at, Task.offered_at).label("arrive_s"),
            case(
                (Task.on_site_at.is_not(None), seconds(dialect, Task.resolved_at, Task.on_site_at)),
                else_=None,
            ).label("resolve_s"),
        )
        .join(Case, Case.id == Task.case_id)
        .where(Task.offered_at >= since, Task.offered_at < until)
    )
    if workers is not None:
        query = query.where(Task.worker_id.in_(workers))
    else:
        query = query.where(in_grids(Case.grid_id, grids))
    return query


def _keyed(rows: Any, by: By, places: SiteMap) -> tuple[Any, list[str]]:
    """``rows`` with a ``key`` column to group on."""
    if by is By.WORKER:
        return select(rows, rows.c.worker_id.label("key")).subquery(), ["key"]
    if by is By.GRID:
        return select(rows, rows.c.grid_id.label("key")).subquery(), ["key"]
    if by is By.COMMUNITY:
        gc = places.grid_communities()
        return (
            select(rows, gc.c.v.label("key")).outerjoin(gc, gc.c.k == rows.c.grid_id).subquery(),
            ["key"],
        )
    return select(rows).subquery(), []


def response(
    session: Session,
    places: SiteMap,
    since: datetime,
    until: datetime,
    by: By,
    grids: Grids = None,
) -> list[Response]:
    """Response figures per ``by`` for the scope ``grids``: workers homed in it (with all their
    tasks), or the tasks of cases in it."""
    if by is By.HAZARD_TYPE:
        raise ValueError("response figures are per grid, community, worker or all")
    dialect = dialect_of(session)
    workers = places.workers_in(grids) if by is By.WORKER else None
    base = task_rows(dialect, since, until, grids, workers).subquery()
    rows, keys = _keyed(base, by, places)
    c = rows.c
    counts = {
        "offered": func.count(),
        "accepted": func.count(c.accepted_at),
        "declined": func.sum(case((c.status == TaskStatus.DECLINED.value, 1), else_=0)),
        "expired": func.sum(case((c.status == TaskStatus.EXPIRED.value, 1), else_=0)),
        "arrived": func.count(c.on_site_at),
        "resolved": func.count(c.resolve_s),
        "verified": func.count(c.verified_at),
        "sent_back": func.count(c.sent_back_at),
        "cases": func.count(distinct(c.case_id)),
    }
    if by is By.WORKER:  # grids and communities count the escalations of cases opened there
        escalated = exists().where(Escalation.case_id == c.case_id, Escalation.skipped.is_(False))
        counts["cases_escalated"] = func.count(distinct(case((escalated, c.case_id), else_=None)))
    found = grouped(session, rows, keys, counts, TIMINGS)
    lines: dict[Any, Response] = {}
    for key, v in found.items():
        k = key[0] if key else None
        lines[k] = Response(
            key=k if by is not By.ALL else "all",
            name=places.name(k),
            offered=int(v["offered"] or 0),
            accepted=int(v["accepted"] or 0),
            declined=int(v["declined"] or 0),
            expired=int(v["expired"] or 0),
            arrived=int(v["arrived"] or 0),
            resolved=int(v["resolved"] or 0),
            verified=int(v["verified"] or 0),
            sent_back=int(v["sent_back"] or 0),
            cases=int(v["cases"] or 0),
            cases_escalated=int(v.get("cases_escalated") or 0),
            accept=Timing.of(v["accept_s"]),
            arrival=Timing.of(v["arrive_s"]),
            resolve=Timing.of(v["resolve_s"]),
        )
    _add_sla(session, rows, keys, lines, by, places)
    if by is not By.WORKER:
        _add_case_escalations(session, places, since, until, by, grids, lines)
    else:
        _add_worker_escalations(session, rows, lines)
    _add_empty(lines, by, places, grids)
    for line in lines.values():
        met = line.accept_sla.met + line.arrival_sla.met + line.resolve_sla.met
        judged = line.accept_sla.judged + line.arrival_sla.judged + line.resolve_sla.judged
        line.phases_judged = judged
        line.on_time_rate = round(met / judged, 4) if judged else None
        if by is By.GRID and line.key is not None:
            line.community = places.community_of(line.key)
        elif by is By.WORKER and line.key in places.site.workers:
            line.community = places.community_of(places.site.workers[line.key].home_grid)
    return sorted(lines.values(), key=lambda r: (r.key is None, r.key or ""))


def _add_sla(
    session: Session, rows: Any, keys: list[str], lines: dict[Any, Response], by: By, places: SiteMap
) -> None:
    key_cols = [rows.c[k] for k in keys]
    query = (
        select(*key_cols, SlaTimer.phase, SlaTimer.outcome, func.count())
        .select_from(rows)
        .join(SlaTimer, SlaTimer.task_id == rows.c.task_id)
        .where(
            SlaTimer.phase.in_(TIMED_PHASES),
            SlaTimer.outcome.in_([Outcome.MET.value, Outcome.BREACHED.value]),
        )
        .group_by(*key_cols, SlaTimer.phase, SlaTimer.outcome)
    )
    for row in session.execute(query):
        *key, phase, outcome, n = row
        k = key[0] if key else None
        line = lines.setdefault(k, Response(key=k if by is not By.ALL else "all", name=places.name(k)))
        share: PhaseShare = getattr(line, _PHASE_FIELD[phase])
        if outcome == Outcome.MET.value:
            share.met += int(n)
        else:
            share.breached += int(n)


def _add_worker_escalations(session: Session, rows: Any, lines: dict[Any, Response]) -> None:
    cases = select(rows.c.key, rows.c.case_id).distinct().subquery()
    query = (
        select(cases.c.key, func.count(Escalation.id))
        .select_from(cases)
        .join(Escalation, Escalation.case_id == cases.c.case_id)
        .where(Escalation.skipped.is_(False))
        .group_by(cases.c.key)
    )
    for key, n in session.execute(query):
        if key in lines:
            lines[key].escalations = int(n)


def _add_case_escalations(
    session: Session,
    places: SiteMap,
    since: datetime,
    until: datetime,
    by: By,
    grids: Grids,
    lines: dict[Any, Response],
) -> None:
    """Escalations of the cases opened in the period, by where the case lies."""
    opened = and_(Case.opened_at >= since, Case.opened_at < until, in_grids(Case.grid_id, grids))
    base = (
        select(Escalation.id.label("escalation_id"), Case.id.label("case_id"), Case.grid_id.label("grid_id"))
        .join(Case, Case.id == Escalation.case_id)
        .where(opened, Escalation.skipped.is_(False))
        .subquery()
    )
    rows, keys = _keyed(base, by, places)
    key_cols = [rows.c[k] for k in keys]
    query = select(
        *key_cols, func.count(rows.c.escalation_id), func.count(distinct(rows.c.case_id))
    ).group_by(*key_cols)
    counted: dict[Any, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for *key, n, distinct_cases in session.execute(query):
        counted[key[0] if key else None] = (int(n), int(distinct_cases))
    for k, (n, distinct_cases) in counted.items():
        line = lines.setdefault(k, Response(key=k if by is not By.ALL else "all", name=places.name(k)))
        line.escalations = n
        line.cases_escalated = distinct_cases
    for k, line in lines.items():
        if k not in counted:
            line.escalations = line.cases_escalated = 0


def _add_empty(lines: dict[Any, Response], by: By, places: SiteMap, grids: Grids) -> None:
    """Every grid, community or worker of the scope gets a line, with nothing to count or not."""
    if by is By.ALL:
        lines.setdefault(None, Response(key="all", name=""))
        return
    if by is By.WORKER:
        wanted = places.workers_in(grids)
    else:
        in_scope = [g.id for g in places.site.grids if grids is None or g.id in grids]
        wanted = in_scope if by is By.GRID else sorted({c for g in in_scope if (c := places.community_of(g))})
    for k in wanted:
        lines.setdefault(k, Response(key=k, name=places.name(k)))
