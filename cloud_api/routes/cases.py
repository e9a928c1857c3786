"""Cases: the command centre's list (filters, sorting, totals, paging, CSV export) and the detail
of one case — evidence, readings, related cases — each within the caller's reach."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud_api.auth import Access, Perm, allow
from cloud_api.auth.guard import GuardedRoute
from cloud_api.auth.places import case_filter, case_place
from cloud_api.deps import AreasDep, CtxDep, ReadSessionDep, SiteDep
from cloud_api.downloads import content_disposition
from cloud_api.params import Limit, Offset, Time, site_time
from cloud_api.sheets import XLSX_TYPE, download, local
from contracts import HazardType, Severity
from contracts.site import Site
from gateway.cases import queries
from gateway.cases.lifecycle import CaseStatus
from gateway.cases.models import Case
from gateway.cases.queries import CaseFilter
from gateway.cases.schemas import CaseDetail, CaseView
from gateway.dispatch.queries import tasks_for_case
from gateway.dispatch.schemas import TaskView
from gateway.events.queries import hazard_events_of_case
from gateway.events.schemas import ReadingEvent
from gateway.evidence import queries as evidence_queries
from gateway.evidence.schemas import EvidenceView
from gateway.people.areas import SiteAreas
from gateway.people.models import Person, Role
from gateway.residents.queries import call_backs
from gateway.sla.queries import deadlines
from gateway.sla.schemas import DeadlineView

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], route_class=GuardedRoute)
CaseReader = Annotated[Access, Depends(allow(Perm.READ_CASES))]
CALL_BACK_ROLES = frozenset({Role.OPERATOR, Role.DEPARTMENT})  # who may see a resident's phone
EXPORT_MAX_ROWS = 100_000  # a spreadsheet's worth; narrow the filter for more


class CaseWithTasks(CaseDetail):
    tasks: list[TaskView]
    call_back: list[str] = Field(
        default_factory=list,
        description="Phone numbers residents left on its reports (群众吹哨): the centre's and the "
        "departments' people only, never a grid worker.",
    )


class CaseRow(CaseView):
    deadline: DeadlineView | None = None  # what it waits for next, and by when


class CaseList(BaseModel):
    items: list[CaseRow]
    count: int  # how many cases meet the filter in all (not only this page)
    limit: int
    offset: int


def with_deadlines(session: Session, items: list[CaseView]) -> list[CaseRow]:
    pressing = deadlines(session, [c.id for c in items])
    return [CaseRow(**c.model_dump(), deadline=pressing.get(c.id)) for c in items]


def actor_names(session: Session, site: Site, actors: set[str]) -> dict[str, str]:
    """How a trail's actors read to people: an operator's or a department desk's name, a worker's."""
    signed = [a.split(":", 1)[1] for a in actors if a.startswith(("operator:", "department:"))]
    people = {who.rsplit("/", 1)[-1] for who in signed}
    names = dict(session.execute(select(Person.id, Person.display_name).where(Person.id.in_(people))).all())
    out = {}
    for actor in actors:
        kind, _, who = actor.partition(":")
        if kind == "operator":
            out[actor] = names.get(who, who)
        elif kind == "department":
            department, _, person = who.partition("/")
            contact = site.escalation.departments.get(department)
            out[actor] = f"{contact.name if contact else department} · {names.get(person, person)}"
        elif actor in site.workers or (kind == "worker" and who in site.workers):
            out[actor] = site.workers[who if kind == "worker" else actor].name
    return out


def case_detail(session: Session, site: Site, case_id: str) -> CaseDetail:
    """A case with its trail, each step naming who took it."""
    detail = queries.get_case(session, case_id)
    if detail is None:
        raise HTTPException(404, f"no case {case_id!r}")
    names = actor_names(session, site, {t.actor for t in detail.transitions})
    for step in detail.transitions:
        step.actor_name = names.get(step.actor, "")
    return detail


def case_in_reach(session: Session, site: Site, access: Access, case_id: str) -> Case:
    """The case, if it exists (404) and lies within the caller's reach (403)."""
    case = session.get(Case, case_id)
    if case is None:
        raise HTTPException(404, f"no case {case_id!r}")
    access.require(case_place(session, site, case), f"case {case_id}")
    return case


@dataclass(frozen=True)
class ListQuery:
    criteria: CaseFilter
    sort: str


def _grids_of(areas: SiteAreas, area: str | None, grid_id: str | None) -> frozenset[str] | None:
    grids: frozenset[str] | None = None
    if area:
        if area not in areas.site.areas:
            raise HTTPException(422, f"area: no area {area!r} in grids.geojson")
        grids = areas.scope([area]).grids
    if grid_id:
        grids = frozenset({grid_id}) if grids is None else grids & {grid_id}
    return grids


def list_query(
    site: SiteDep,
    areas: AreasDep,
    status: Annotated[list[CaseStatus] | None, Query(description="Any of these statuses.")] = None,
    open: Annotated[bool, Query(description="Only cases that still need someone.")] = False,
    severity: Annotated[list[Severity] | None, Query(description="Any of these severities.")] = None,
    hazard_type: Annotated[list[HazardType] | None, Query(description="Any of these hazards.")] = None,
    area: Annotated[
        str | None, Query(max_length=64, description="A district, street, community or grid id.")
    ] = None,
    grid_id: Annotated[str | None, Query(max_length=64, description="Exactly this grid.")] = None,
    device_id: Annotated[str | None, Query(max_length=64, description="Raised by this device.")] = None,
    worker_id: Annotated[
        str | None, Query(max_length=64, description="A worker who holds or held a task on it.")
    ] = None,
    opened_from: Annotated[
        Time | None, Query(alias="from", description="Opened at or after (RFC 3339; no offset: site time).")
    ] = None,
    opened_to: Annotated[
        Time | None, Query(alias="to", description="Opened before (RFC 3339; no offset: site time).")
    ] = None,
    q: Annotated[
        str, Query(max_length=100, description="Text in the title, a case id's start, a device or grid id.")
    ] = "",
    sort: Annotated[
        str,
        Query(
            max_length=20,
            description=f"One of {', '.join(sorted(queries.SORTS))}; '-' in front for descending.",
        ),
    ] = queries.DEFAULT_SORT,
) -> ListQuery:
    """The list's filter from the query string (the same for the list and its CSV export)."""
    if sort.lstrip("-") not in queries.SORTS:
        raise HTTPException(422, f"sort: one of {', '.join(sorted(queries.SORTS))}, '-' for descending")
    tz = site.settings.site.tz
    start, end = site_time(opened_from, tz, "from"), site_time(opened_to, tz, "to")
    if start is not None and end is not None and end <= start:
        raise HTTPException(422, "to: must be after from")
    criteria = CaseFilter(
        statuses=tuple(s.value for s in status or ()),
        open_only=open,
        severities=tuple(s.value for s in severity or ()),
        hazard_types=tuple(h.value for h in hazard_type or ()),
        grids=_grids_of(areas, area, grid_id),
        device_id=device_id,
        worker_id=worker_id,
        opened_from=start,
        opened_to=end,
        text=q,
    )
    return ListQuery(criteria, sort)


ListQueryDep = Annotated[ListQuery, Depends(list_query)]


@router.get("", response_model=CaseList, summary="Cases in the caller's reach: filtered, sorted, paged")
def list_cases(
    session: ReadSessionDep,
    site: SiteDep,
    access: CaseReader,
    query: ListQueryDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> CaseList:
    items, total = queries.list_cases(
        session, query.criteria, case_filter(access, site), query.sort, limit, offset
    )
    return CaseList(items=with_deadlines(session, items), count=total, limit=limit, offset=offset)


CSV_COLUMNS = (
    ("id", "案件编号 case id"),
    ("opened_at", "立案时间 opened"),
    ("severity", "级别 severity"),
    ("status", "状态 status"),
    ("hazard_type", "类型 hazard"),
    ("title", "标题 title"),
    ("grid_id", "网格 grid"),
    ("grid_name", "网格名称 grid name"),
    ("device_id", "设备 device"),
    ("assigned_worker_id", "网格员 worker"),
    ("worker_name", "网格员姓名 worker name"),
    ("event_count", "告警次数 events"),
    ("confirmed_by", "确认人 confirmed by"),
    ("updated_at", "最后更新 updated"),
    ("lon", "经度 lon"),
    ("lat", "纬度 lat"),
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A spreadsheet cell: text that looks like a formula is quoted, never run (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _local(at: datetime | None, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if at is not None else ""


def csv_rows(cases: Iterator[Case], site: Site) -> Iterator[str]:
    """The export, a chunk of text at a time; times in the site's zone, as on screen."""
    tz = site.settings.site.tz
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([header for _, header in CSV_COLUMNS])
    for n, case in enumerate(cases, 1):
        grid = site.areas.get(case.grid_id) if case.grid_id else None
        worker = site.workers.get(case.assigned_worker_id) if case.assigned_worker_id else None
        values = {
            **{key: getattr(case, key, None) for key, _ in CSV_COLUMNS},
            "opened_at": _local(case.opened_at, tz),
            "updated_at": _local(case.updated_at, tz),
            "grid_name": grid.name if grid else "",
            "worker_name": worker.name if worker else "",
        }
        writer.writerow([_cell(values[key]) for key, _ in CSV_COLUMNS])
        if n % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# Declared before /{case_id}: that path would take "export.csv" for a case id.
@router.get(
    "/export.csv",
    summary="The filtered list as CSV (UTF-8 with BOM, site time): the same filter as the list",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_cases(request: Request, ctx: CtxDep, access: CaseReader, query: ListQueryDep) -> StreamingResponse:
    site = ctx.site
    where = case_filter(access, site)
    sessions = request.app.state.read_sessions

    def body() -> Iterator[bytes]:
        yield "\ufeff".encode()  # Excel reads the Chinese text as UTF-8 only with a BOM
        with sessions() as session:
            cases = queries.iter_cases(session, query.criteria, where, query.sort)
            limited = (c for n, c in enumerate(cases) if n < EXPORT_MAX_ROWS)
            for chunk in csv_rows(limited, site):
                yield chunk.encode("utf-8")

    stamp = ctx.now().astimezone(site.settings.site.tz).strftime("%Y%m%d-%H%M")
    headers = {
        "Content-Disposition": content_disposition(f"cases-{stamp}.csv"),
        "Cache-Control": "no-store",
    }
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=headers)


@router.get(
    "/export.xlsx",
    summary="The filtered list as XLSX (site time): the same filter as the list",
    response_class=StreamingResponse,
    responses={200: {"content": {XLSX_TYPE: {}}}},
)
def export_cases_xlsx(
    session: ReadSessionDep, ctx: CtxDep, access: CaseReader, query: ListQueryDep
) -> Response:
    site = ctx.site
    tz = site.settings.site.tz
    cases = queries.iter_cases(session, query.criteria, case_filter(access, site), query.sort)

    def rows() -> Iterator[list[object]]:
        for n, case in enumerate(cases):
            if n >= EXPORT_MAX_ROWS:
                return
            grid = site.areas.get(case.grid_id) if case.grid_id else None
            worker = site.workers.get(case.assigned_worker_id) if case.assigned_worker_id else None
            values = {
                **{key: getattr(case, key, None) for key, _ in CSV_COLUMNS},
                "opened_at": local(case.opened_at, tz),
                "updated_at": local(case.updated_at, tz),
                "grid_name": grid.name if grid else "",
                "worker_name": worker.name if worker else "",
            }
            yield [values[key] for key, _ in CSV_COLUMNS]

    stamp = ctx.now().astimezone(tz).strftime("%Y%m%d-%H%M")
    return download(f"cases-{stamp}", "xlsx", "案件 cases", [h for _, h in CSV_COLUMNS], rows())


@router.get("/{case_id}", response_model=CaseWithTasks, summary="One case with its audit trail and tasks")
def get_case(case_id: str, session: ReadSessionDep, site: SiteDep, access: CaseReader) -> CaseWithTasks:
    case_in_reach(session, site, access, case_id)
    case = case_detail(session, site, case_id)
    centre = bool(CALL_BACK_ROLES & access.caller.roles)
    return CaseWithTasks(
        **case.model_dump(),
        tasks=tasks_for_case(session, case_id),
        call_back=call_backs(session, case_id) if centre else [],
    )


@router.get(
    "/{case_id}/evidence",
    response_model=list[EvidenceView],
    summary="Every snapshot of a case with its time: the cameras' and the workers' photos, oldest first",
)
def case_evidence(
    case_id: str, session: ReadSessionDep, site: SiteDep, access: CaseReader
) -> list[EvidenceView]:
    case = case_in_reach(session, site, access, case_id)
    return evidence_queries.of_case(session, site, case)


@router.get(
    "/{case_id}/events",
    response_model=list[ReadingEvent],
    summary="The device reports of a case (alarm, updates, clear) with the sensor readings each carried",
)
def case_events(
    case_id: str, session: ReadSessionDep, site: SiteDep, access: CaseReader
) -> list[ReadingEvent]:
    case_in_reach(session, site, access, case_id)
    return hazard_events_of_case(session, case_id)


@router.get(
    "/{case_id}/related",
    response_model=list[CaseView],
    summary="Other cases at the same place (same device or camera zone, or within the correlation radius)",
)
def related_cases(
    case_id: str, session: ReadSessionDep, site: SiteDep, access: CaseReader, limit: Limit = 20
) -> list[CaseView]:
    case = case_in_reach(session, site, access, case_id)
    return queries.related(session, site, case, case_filter(access, site), limit)
