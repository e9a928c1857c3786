"""Where the API's objects lie (for Access.require) and list filters (for Access-scoped lists).

A case lies in its grid, belongs to the workers who hold or held a task on it,
and to the departments it was escalated to; a task in its case's grid and to its
worker; a worker in their home grid; a device, node or dead letter where its
source stands (gateway.people.areas).
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, and_, false, or_, select, text
from sqlalchemy.orm import Session

from cloud_api.auth.permissions import Access, Place
from contracts.envelope import ID_PATTERN
from contracts.site import Site
from gateway.cases.models import Case
from gateway.dispatch.models import Task
from gateway.escalation.models import Escalation
from gateway.events.models import EventRecord
from gateway.evidence.models import Evidence
from gateway.people.areas import SiteAreas

DEPARTMENT_TIER = "department"
_ID = re.compile(ID_PATTERN)


def _grids(grid_id: str | None) -> frozenset[str]:
    return frozenset((grid_id,)) if grid_id else frozenset()


def department_names(site: Site, department: str) -> list[str]:
    """What an escalation row says it told (the contact's name) for a department id."""
    contact = site.escalation.departments.get(department)
    return [contact.name] if contact else []


def case_place(session: Session, site: Site, case: Case) -> Place:
    workers = session.scalars(select(Task.worker_id).where(Task.case_id == case.id).distinct())
    told = session.scalars(
        select(Escalation.target).where(
            Escalation.case_id == case.id, Escalation.tier == DEPARTMENT_TIER, Escalation.skipped.is_(False)
        )
    ).all()
    departments = {d for d, contact in site.escalation.departments.items() if contact.name in told}
    return Place(_grids(case.grid_id), frozenset(workers), frozenset(departments))


def task_place(session: Session, task: Task) -> Place:
    grid = session.scalar(select(Case.grid_id).where(Case.id == task.case_id))
    return Place(_grids(grid), frozenset((task.worker_id,)))


def worker_place(site: Site, worker_id: str) -> Place:
    worker = site.workers.get(worker_id)
    return Place(_grids(worker.home_grid if worker else None), frozenset((worker_id,)))


def source_place(areas: SiteAreas, source: str | None) -> Place:
    return Place(areas.source_grids(source))


def evidence_place(session: Session, site: Site, areas: SiteAreas, evidence: Evidence) -> Place:
    """Where the device stands, and the case the snapshot belongs to; a worker's photo is also
    their own (they may see it before any case lists it)."""
    case_id = session.scalar(  # the event of the snapshot's own source (ids are unique per source)
        select(EventRecord.case_id).where(
            EventRecord.source == evidence.source, EventRecord.id == evidence.event_id
        )
    )
    if case_id is None and evidence.task_id is not None:
        case_id = session.scalar(select(Task.case_id).where(Task.id == evidence.task_id))
    case = session.get(Case, case_id) if case_id else None
    own = frozenset((evidence.device_id,)) if evidence.device_id in site.workers else frozenset()
    if case is None:  # not linked by its event (yet): the case that lists it
        case = session.scalar(
            select(Case).where(Case.device_id == evidence.device_id).order_by(Case.opened_at.desc())
        )
        case = case if case is not None and evidence.id in case.evidence_ids else None
    device = areas.source_grids(evidence.device_id)
    if case is None:
        return Place(device, own)
    place = case_place(session, site, case)
    return Place(place.grids | device, place.workers | own, place.departments)


# ---------------------------------------------------------------- list filters
_IN_GRIDS: dict[frozenset[str], ColumnElement[bool]] = {}


def _case_in_grids(grids: frozenset[str]) -> ColumnElement[bool]:
    """``cases.grid_id IN (...)`` as fixed SQL per set of grids, compiled once: an expanding
    ``IN`` parameter is re-rendered on every request (about 0.1 ms, bench/auth.py). Grid ids are
    identifiers checked by the site loader; checked again here before they go into SQL text."""
    found = _IN_GRIDS.get(grids)
    if found is None:
        if not grids or not all(_ID.match(g) for g in grids):
            return Case.grid_id.in_(sorted(grids))
        listed = ", ".join(f"'{g}'" for g in sorted(grids))
        found = _IN_GRIDS[grids] = text(f"cases.grid_id IN ({listed})")  # type: ignore[assignment]
    return found


def case_filter(access: Access, site: Site) -> ColumnElement[bool] | None:
    """SQL condition on Case for a list: None = no filter."""
    if access.everywhere:
        return None
    conds: list[ColumnElement[bool]] = []
    grids = access.grids
    if grids:
        conds.append(_case_in_grids(grids))
    if access.own_worker is not None:
        conds.append(Case.id.in_(select(Task.case_id).where(Task.worker_id == access.own_worker)))
    if access.department is not None:
        told = Case.id.in_(
            select(Escalation.case_id).where(
                Escalation.tier == DEPARTMENT_TIER,
                Escalation.skipped.is_(False),
                Escalation.target.in_(department_names(site, access.department)),
            )
        )
        scope = access.caller.scope
        conds.append(told if scope.everywhere else and_(told, _case_in_grids(scope.grids or frozenset())))
    return or_(*conds) if conds else false()


def source_ids(access: Access, areas: SiteAreas, known: list[str]) -> set[str] | None:
    """Which of these sources the caller may see; None = all."""
    if access.everywhere:
        return None
    return {s for s in known if access.allows(source_place(areas, s))}
