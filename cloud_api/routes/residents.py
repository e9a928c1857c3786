"""群众吹哨: the public page's API — no account, anyone on the site's network or the internet.

``GET /api/v1/public/site`` gives the page what it needs (the site's name, its grids to pick a
place on, the hazards a resident may report, the proof of work asked). ``POST
/api/v1/public/reports`` takes one report: hazard, position (the phone's or picked on the map),
an optional photo (base64 in the JSON: one request, one retry key, kept whole in the page's
offline queue), an optional note and phone number, and a proof of work made on the phone
(gateway/residents/proof.py). ``GET /api/v1/public/reports/{id}`` is the status link: the case's
progress, nothing personal.

What an anonymous sender must get past, cheapest first, so a flood costs it more than us:
the body cap (413, before a byte is parsed), the proof of work (one hash), the per-address limit
(one indexed count; 429 with Retry-After), the hazard and the position (inside a grid of the
site), and only then the photo's decoding (415/413/422 as for a worker's photo).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from prometheus_client import Counter
from pydantic import BaseModel, Field, field_validator
from shapely.geometry import mapping
from sqlalchemy.orm import Session

from cloud_api.auth import public
from cloud_api.auth.errors import Refusal
from cloud_api.auth.guard import GuardedRoute
from cloud_api.deps import CtxDep, ReadSessionDep, SessionDep, SiteDep
from cloud_api.idempotency import Conflict, OnceDep
from cloud_api.routes.photos import clean_photo
from contracts import GeoPoint, HazardType, Severity
from contracts.envelope import Envelope
from contracts.site.models import GridLevel
from gateway.flows.resident_reports import ResidentReportIn, take_resident_report
from gateway.residents import proof
from gateway.residents.queries import address_hash, public_status, retry_after, sent_since


class ResidentRoute(GuardedRoute):
    """The report carries its photo in the JSON: its own cap (GRIDWATCH_RESIDENT_MAX_BODY_BYTES)."""

    body_limit = "resident"


router = APIRouter(prefix="/api/v1/public", tags=["residents"], route_class=ResidentRoute)

# What a resident may report: the emergencies a passer-by can see (not a device's troubles).
HAZARDS = (
    HazardType.FIRE_SMOKE,
    HazardType.GAS_LEAK,
    HazardType.ILLEGAL_WORKSHOP,
    HazardType.OCCUPIED_FACTORY_DORM,
)
SEVERITY = {HazardType.FIRE_SMOKE: Severity.CRITICAL, HazardType.GAS_LEAK: Severity.CRITICAL}
PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")
_LIMIT_LOCKS = [threading.Lock() for _ in range(64)]
# What an operator graphs: residents' reports taken, and refused by why (a flood shows as proof
# or limit refusals; a misplaced QR code as positions outside the site).
REPORTS = Counter(
    "gridwatch_resident_reports_total",
    "Residents' reports (群众吹哨) by outcome: accepted, proof, limited, outside, photo",
    ["outcome"],
)
for _outcome in ("accepted", "proof", "limited", "outside", "photo"):  # at 0 from the start (increase())
    REPORTS.labels(_outcome)
log = logging.getLogger(__name__)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class PublicSite(BaseModel):
    id: str
    name: str
    timezone: str
    hazards: list[str]
    pow_bits: int = Field(description="Leading zero bits the report's proof of work needs.")
    per_address: int = Field(description="Reports one address may send per window.")
    window_s: float
    max_photo_bytes: int = Field(description="The largest photo (after the phone shrank it).")
    grids: dict[str, Any] = Field(description="Street, community and grid outlines (GeoJSON).")
    map: dict[str, Any]


class PhotoIn(BaseModel):
    model_config = {"extra": "forbid"}

    content_type: str = Field(max_length=100, description="image/jpeg, image/png or image/webp")
    name: str | None = Field(default=None, max_length=200)
    data: str = Field(description="The photo's bytes, base64.")


class ResidentReportRequest(BaseModel):
    model_config = {"extra": "forbid"}

    id: str = Field(description="Made on the phone (a UUID): the report's id, retry key and status link.")
    hazard_type: HazardType
    location: GeoPoint = Field(description="Where (WGS-84): the phone's position or picked on the map.")
    picked_on_map: bool = False
    note: str = Field(default="", max_length=1000)
    phone: str = Field(default="", max_length=24, description="Optional: for the centre to call back.")
    photo: PhotoIn | None = None
    proof: str = Field(max_length=200, description="gw1:<bits>:<site>:<id>:<unix seconds>:<nonce>")

    @field_validator("id")
    @classmethod
    def _uuid(cls, value: str) -> str:
        if not UUID.match(value):
            raise ValueError("id must be a UUID made on the phone (lower-case hex)")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        value = value.strip()
        if value and not PHONE.match(value):
            raise ValueError("a phone number is digits (a leading + and spaces or dashes allowed)")
        return value


class ResidentReportAnswer(BaseModel):
    report_id: str
    status_url: str
    grid_id: str | None
    grid_name: str | None
    status: str


class StatusStep(BaseModel):
    step: str  # received, dispatched, accepted, on_site, resolved, closed, dismissed
    at: datetime


class ResidentReportStatus(BaseModel):
    report_id: str
    hazard_type: str
    grid_id: str | None
    grid_name: str | None
    status: str
    steps: list[StatusStep]


@router.get(
    "/site",
    response_model=PublicSite,
    summary="What the residents' page needs: grids, hazards, the proof of work asked",
    dependencies=[Depends(public)],
)
def public_site(site: SiteDep, request: Request) -> PublicSite:
    settings = request.app.state.settings
    levels = (GridLevel.STREET, GridLevel.COMMUNITY, GridLevel.GRID)
    features = [
        {
            "type": "Feature",
            "properties": {"id": a.id, "name": a.name, "level": a.level.value, "parent": a.parent},
            "geometry": mapping(a.geometry),
        }
        for a in site.areas.values()
        if a.level in levels
    ]
    info = site.settings.site
    return PublicSite(
        id=info.id,
        name=info.name,
        timezone=info.timezone,
        hazards=[h.value for h in HAZARDS],
        pow_bits=settings.resident_pow_bits,
        per_address=settings.resident_reports_per_address,
        window_s=settings.resident_window_s,
        max_photo_bytes=settings.resident_max_body_bytes * 3 // 4 - 4096,
        grids={"type": "FeatureCollection", "features": features},
        map=site.settings.map.model_dump(mode="json"),
    )


def _address(request: Request) -> str:
    # Behind a reverse proxy, run uvicorn with --proxy-headers --forwarded-allow-ips=<the proxy>:
    # request.client is then the resident's address, not the proxy's.
    return request.client.host if request.client else "unknown"


@router.post(
    "/reports",
    response_model=ResidentReportAnswer,
    status_code=201,
    summary="群众吹哨: a resident reports a hazard (opens or joins a case in its grid)",
    responses={
        409: {"description": "This report id was taken by another report"},
        413: {"description": "The body (or its photo) is too large"},
        415: {"description": "The photo is not a JPEG, PNG or WebP"},
        422: {"description": "A field, the proof of work or the position does not hold"},
        429: {"description": "This address sent its share of reports: try again after Retry-After"},
    },
    dependencies=[Depends(public)],
)
def report(
    body: ResidentReportRequest,
    request: Request,
    session: SessionDep,
    read: ReadSessionDep,
    ctx: CtxDep,
    once: OnceDep,
) -> Response:
    settings = request.app.state.settings
    site_id = ctx.site.settings.site.id
    now = ctx.now()
    try:
        stamp = proof.check(body.proof, site_id, body.id, settings.resident_pow_bits, now)
    except proof.ProofRefused as exc:
        REPORTS.labels("proof").inc()
        raise HTTPException(422, f"proof of work: {exc}") from None
    once.caller = "resident"  # report ids are random UUIDs: one namespace for every resident
    once.key = body.id
    replayed = once.replay(read)  # the page's queue sending again after a lost answer
    if replayed is not None:
        return replayed
    sender = address_hash(site_id, _address(request), request.app.state.address_key)
    window = timedelta(seconds=settings.resident_window_s)

    def refuse_over_limit(s: Session) -> None:
        wait = retry_after(
            sent_since(s, sender, now - window), settings.resident_reports_per_address, window, now
        )
        if wait is not None:
            log.info("resident report %s refused: address %s over its limit", body.id, sender[:12])
            REPORTS.labels("limited").inc()
            raise Refusal(
                429,
                f"this address has sent {settings.resident_reports_per_address} reports in "
                f"{settings.resident_window_s / 60:.0f} minutes: try again in {wait} s, or call the centre",
                headers={"Retry-After": str(wait)},
            )

    refuse_over_limit(read)  # before the photo is decoded: a flood costs us one indexed count
    if body.hazard_type not in HAZARDS:
        raise HTTPException(422, f"{body.hazard_type.value} is not something residents report here")
    grid = ctx.grids.locate(body.location)
    if grid is None:
        REPORTS.labels("outside").inc()
        raise HTTPException(
            422, f"this position is outside {ctx.site.settings.site.name}: pick the place on the map"
        )
    photo = None
    if body.photo is not None:
        try:
            data = base64.b64decode(body.photo.data, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPException(422, "photo.data is not base64") from None
        try:
            photo = clean_photo(request, data, body.photo.content_type, body.photo.name)
        except HTTPException:
            REPORTS.labels("photo").inc()
            raise
    try:
        Envelope.model_validate({"id": body.id, "source": "resident", "seq": 0})
    except ValueError:
        raise HTTPException(422, "id must be a UUID made on the phone") from None
    taken = ResidentReportIn(
        id=body.id,
        hazard_type=body.hazard_type,
        severity=SEVERITY.get(body.hazard_type, Severity.MAJOR),
        location=body.location,
        picked_on_map=body.picked_on_map,
        note=body.note.strip(),
        phone=body.phone,
        address_hash=sender,
        pow_bits=stamp.bits,
        photo=photo,
    )

    def work() -> ResidentReportAnswer:
        refuse_over_limit(session)  # again, under the address's lock: requests racing at the limit
        reported = take_resident_report(session, ctx, taken, now)
        if reported.case is None:
            raise Conflict(f"report {body.id} was already received")
        REPORTS.labels("accepted").inc()  # (rolled back only by a failed commit: rare enough)
        area = ctx.site.areas.get(reported.case.grid_id or "")
        return ResidentReportAnswer(
            report_id=body.id,
            status_url=f"/ui/report/?r={body.id}",
            grid_id=reported.case.grid_id,
            grid_name=area.name if area else None,
            status=reported.case.status,
        )

    # Count, take and commit under one lock per address (striped): otherwise reports arriving
    # together all count the same few before them and all pass. One API process; several
    # processes share no lock (docs/intake.md). The read session gives its connection back first:
    # requests waiting here must not hold the pool the one inside needs.
    read.close()
    with _LIMIT_LOCKS[int(sender[:8], 16) % len(_LIMIT_LOCKS)]:
        return once.run(session, now, work, status=201)


@router.get(
    "/reports/{report_id}",
    response_model=ResidentReportStatus,
    summary="A resident's status link: the case's progress, nothing personal",
    dependencies=[Depends(public)],
)
def report_status(
    report_id: Annotated[str, Path(pattern=UUID.pattern)], session: ReadSessionDep, site: SiteDep
) -> ResidentReportStatus:
    status = public_status(session, report_id)
    if status is None:
        raise HTTPException(404, "no such report (the link may be mistyped)")
    area = site.areas.get(status.grid_id or "")
    return ResidentReportStatus(
        report_id=status.report_id,
        hazard_type=status.hazard_type,
        grid_id=status.grid_id,
        grid_name=area.name if area else None,
        status=status.status,
        steps=[StatusStep(step=s, at=at) for s, at in status.steps],
    )
