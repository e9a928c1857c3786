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
from cloud_api.deps import AreasDep, ReadSessionDep, SiteDep
from contracts.site.models import MapSettings
from gateway.cases.devices import device_troubles
from gateway.devices.models import Device, DeviceKind, Lifecycle
from gateway.devices.queries import device_state
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
    last_seen_at: datetime | None = None  # when it (or, never heard itself, its node) was last heard
    state: str = "unknown"  # online, offline or unknown: the registry's status, in three words
    troubles: list[str] = []  # open maintenance cases of the device: low_battery, tamper, ...


@router.get(
    "/devices",
    response_model=list[DeviceView],
    summary="The site's cameras and sensors in the caller's areas, where they are and whether they "
    "work (the map's; the whole registry: /api/v1/fleet)",
)
def devices(
    session: ReadSessionDep,
    areas: AreasDep,
    access: Annotated[Access, Depends(allow(Perm.READ_DEVICES))],
) -> list[DeviceView]:
    """A light list for the map and the console's filters, read from the device registry like the
    fleet view (docs/devices.md): one answer to "is it working" on every page."""
    troubles = device_troubles(session)
    nodes = {
        node_id: (status, seen)
        for node_id, status, seen in session.execute(
            select(Device.id, Device.status, Device.last_seen_at).where(Device.kind == DeviceKind.NODE.value)
        )
    }
    rows = session.execute(
        select(
            Device.id,
            Device.node_id,
            Device.type,
            Device.name,
            Device.lon,
            Device.lat,
            Device.status,
            Device.last_seen_at,
        )
        .where(
            Device.kind != DeviceKind.NODE.value,
            Device.status.not_in([Lifecycle.PLANNED.value, Lifecycle.RETIRED.value]),  # not in the site files
            Device.lon.is_not(None),
        )
        .order_by(Device.node_id, Device.id)
    )
    out = []
    for ident, node_id, kind, name, lon, lat, status, seen in rows:
        grid = areas.device_grids.get(ident)
        if not access.allows(Place(frozenset([grid]) if grid else frozenset())):
            continue
        node_status, node_seen = nodes.get(node_id or "", ("", None))
        open_troubles = troubles.get(ident, [])
        out.append(
            DeviceView(
                id=ident,
                node_id=node_id or "",
                type=kind,
                name=name,
                lon=lon,
                lat=lat,
                grid_id=grid,
                last_seen_at=seen or node_seen,
                state=device_state(status, node_status, open_troubles),
                troubles=open_troubles,
            )
        )
    return out
