"""The grid roster card (一长三员): ``GET /api/v1/grids/{grid_id}/roster`` for the printable page
(/ui/roster/?grid=…) and ``…/roster.pdf`` to print or send; see cloud_api/roster.py."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from pydantic import BaseModel
from shapely.geometry import mapping

from cloud_api.auth import Perm, allow
from cloud_api.auth.guard import GuardedRoute
from cloud_api.deps import CtxDep, SiteDep
from cloud_api.downloads import content_disposition
from cloud_api.roster import ROLE_WORDS, Roster, RosterFontMissing, qr_rows, roster_of, roster_pdf
from contracts.site import Site
from contracts.site.models import GridLevel

router = APIRouter(prefix="/api/v1/grids", tags=["roster"], route_class=GuardedRoute)
GridId = Annotated[str, Path(max_length=64)]


class MemberView(BaseModel):
    role: str  # leader, guide, full_time, part_time
    role_zh: str
    role_en: str
    name: str
    title: str
    phone: str  # "" unless public


class RosterView(BaseModel):
    grid_id: str
    grid_name: str
    community: str
    street: str
    households: int | None
    members: list[MemberView]
    outline: dict[str, Any]
    neighbours: list[dict[str, Any]]
    report_url: str
    qr: list[str]  # rows of "1"/"0": the residents' page (群众吹哨), drawn by the page
    pdf_url: str


def _grid(site: Site, grid_id: str) -> Roster:
    area = site.areas.get(grid_id)
    if area is None or area.level is not GridLevel.GRID:
        raise HTTPException(404, f"no grid {grid_id!r} (a roster card is per grid)")
    return roster_of(site, grid_id)


def _report_url(request: Request, grid_id: str) -> str:
    """The residents' page, opened on this grid's map (the QR code on the grid's card)."""
    return str(request.base_url).rstrip("/") + f"/ui/report/?grid={grid_id}"


@router.get(
    "/{grid_id}/roster",
    response_model=RosterView,
    summary="A grid's roster card (一长三员): outline, people, public phones",
    dependencies=[Depends(allow(Perm.READ_MAP))],
)
def roster(grid_id: GridId, site: SiteDep, request: Request) -> RosterView:
    card = _grid(site, grid_id)
    url = _report_url(request, grid_id)
    return RosterView(
        grid_id=card.grid_id,
        grid_name=card.grid_name,
        community=card.community,
        street=card.street,
        households=card.households,
        members=[
            MemberView(
                role=m.role,
                role_zh=ROLE_WORDS[m.role][0],
                role_en=ROLE_WORDS[m.role][1],
                name=m.name,
                title=m.title,
                phone=m.phone,
            )
            for m in card.members
        ],
        outline=dict(mapping(card.outline)),
        neighbours=[dict(mapping(g)) for g in card.neighbours],
        report_url=url,
        qr=qr_rows(url),
        pdf_url=f"/api/v1/grids/{grid_id}/roster.pdf",
    )


_CARDS: dict[tuple[int, str, str, date], bytes] = {}


def _pdf(site: Site, grid_id: str, url: str, day: date) -> bytes:
    # Drawing one takes about a second (the CJK font is read and subset): keep the last few. The
    # card changes with the site's files (another Site object) and the day printed on it.
    key = (id(site), grid_id, url, day)
    if key not in _CARDS:
        if len(_CARDS) >= 64:
            _CARDS.pop(next(iter(_CARDS)))
        _CARDS[key] = roster_pdf(_grid(site, grid_id), site.settings.site.name, url, day.isoformat())
    return _CARDS[key]


@router.get(
    "/{grid_id}/roster.pdf",
    summary="A grid's roster card as an A4 PDF",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, 503: {"description": "No CJK font on the server"}},
    dependencies=[Depends(allow(Perm.READ_MAP))],
)
def roster_pdf_route(grid_id: GridId, site: SiteDep, ctx: CtxDep, request: Request) -> Response:
    _grid(site, grid_id)
    day = ctx.now().astimezone(site.settings.site.tz).date()
    try:
        data = _pdf(site, grid_id, _report_url(request, grid_id), day)
    except RosterFontMissing as exc:
        raise HTTPException(503, str(exc)) from None
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition(f"roster-{grid_id}.pdf", inline=True),
            "Cache-Control": "no-store",
        },
    )
