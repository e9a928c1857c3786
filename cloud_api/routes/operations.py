"""Operator tools: health, evidence, the grid map, the devices (dead letters: routes/dead_letters.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from pydantic import BaseModel
from shapely.geometry import mapping
from sqlalchemy import select, text

from cloud_api.auth import Access, Perm, Place, allow, public
from cloud_api.auth.guard import GuardedRoute
from cloud_api.auth.places import evidence_place
from cloud_api.deps import AreasDep, CtxDep, ReadSessionDep, SiteDep
from contracts.site.models import MapSettings
from gateway.cases.devices import device_state, device_troubles
from gateway.events.models import SourceProgress
from gateway.evidence.models import Evidence

router = APIRouter(prefix="/api/v1", tags=["operations"], route_class=GuardedRoute)


@router.get(
    "/health",
    summary="Is the API up and can it read the store? (no sign-in needed)",
    dependencies=[Depends(public)],
)
def health(session: ReadSessionDep, site: SiteDep) -> dict[str, Any]:
    session.execute(text("SELECT 1"))
    return {"status": "ok", "site": site.settings.site.id, "store": "ok"}


@router.get("/evidence/{evidence_id}.jpg", summary="An evidence snapshot", response_class=Response)
def evidence(
    evidence_id: Annotated[str, Path(max_length=64)],
    session: ReadSessionDep,
    site: SiteDep,
    areas: AreasDep,
    access: Annotated[Access, Depends(allow(Perm.READ_CASES))],
) -> Response:
    row = session.get(Evidence, evidence_id)
    if row is None:
        raise HTTPException(404, f"no evidence {evidence_id!r}")
    access.require(evidence_place(session, site, areas, row), f"evidence {evidence_id}")
    # private: a shared cache must not hand one person's photo to another
    return Response(row.jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


class DepartmentView(BaseModel):
    id: str
    name: str
    phone: str


class SiteView(BaseModel):
    id: str
    name: str
    timezone: str  # IANA: every schedule and every time a page shows is in it
    departments: list[DepartmentView] = []  # who a case can be escalated to by hand (吹哨)
    map: MapSettings = MapSettings()
    stale_fix_s: float = 300  # a worker's position older than this is stale (dispatch ignores it)


@router.get("/site", response_model=SiteView, summary="The site: name, time zone, departments, map")
def site_info(site: SiteDep, _access: Annotated[Access, Depends(allow(Perm.SIGNED_IN))]) -> SiteView:
    info = site.settings.site
    departments = [
        DepartmentView(id=d, name=c.name, phone=c.phone) for d, c in site.escalation.departments.items()
    ]
    return SiteView(
        id=info.id,
        name=info.name,
        timezone=info.timezone,
        departments=departments,
        map=site.settings.map,
        stale_fix_s=site.settings.dispatch.stale_fix_s,
    )


@router.get("/grids", summary="The grid map as GeoJSON", dependencies=[Depends(allow(Perm.READ_MAP))])
def grids(site: SiteDep) -> dict[str, Any]:
    features = [
        {
            "type": "Feature",
            "properties": {"id": a.id, "name": a.name, "level": a.level.value, "parent": a.parent},
            "geometry": mapping(a.geometry),
        }
        for a in site.areas.values()
    ]
    return {"type": "FeatureCollection", "features": features}


class DeviceView(BaseModel):
    id: str
    node_id: str
    type: str  # camera, or the sensor's kind
    name: str
    lon: float
    lat: float
    grid_id: str | None
    last_seen_at: datetime | None = (
        None  # when its node last sent anything (sensors speak through their node)
    )
    state: str = "unknown"  # online, offline or unknown: what the gateway knows (devices.device_state)
    troubles: list[str] = []  # open maintenance cases of the device: low_battery, tamper, ...


@router.get(
    "/devices",
    response_model=list[DeviceView],
    summary="The site's cameras and sensors in the caller's areas",
)
def devices(
    session: ReadSessionDep,
    ctx: CtxDep,
    areas: AreasDep,
    access: Annotated[Access, Depends(allow(Perm.READ_DEVICES))],
) -> list[DeviceView]:
    site = ctx.site
    seen = dict(session.execute(select(SourceProgress.source, SourceProgress.last_seen_at)).all())
    troubles = device_troubles(session)
    now = ctx.now()
    out = []
    for node_id, node in site.nodes.items():
        for device in (*node.cameras, *node.sensors):
            grid = areas.device_grids.get(device.id)
            if not access.allows(Place(frozenset([grid]) if grid else frozenset())):
                continue
            kind = getattr(device, "kind", None)
            last_seen = seen.get(device.id) or seen.get(node_id)
            open_troubles = troubles.get(device.id, [])
            out.append(
                DeviceView(
                    id=device.id,
                    node_id=node_id,
                    type=kind.value if kind is not None else "camera",
                    name=device.name,
                    lon=device.location.lon,
                    lat=device.location.lat,
                    grid_id=grid,
                    last_seen_at=last_seen,
                    state=device_state(last_seen, open_troubles, now),
                    troubles=open_troubles,
                )
            )
    return out
