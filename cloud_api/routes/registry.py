"""The device registry: what installers put up and commission, and the centre's fleet view.

docs/devices.md: the site files are the truth for what exists and how it is configured; the
registry for serials, installed positions, lifecycle and health.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from typing import Annotated, Literal

import yaml
from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field
from pydantic_core import to_json
from sqlalchemy.orm import Session

from cloud_api.auth import Access, Perm, Place, allow
from cloud_api.auth.guard import GuardedRoute
from cloud_api.deps import AreasDep, CtxDep, ReadSessionDep, SessionDep
from cloud_api.downloads import content_disposition
from cloud_api.params import Limit, Offset
from contracts.dynsec import Dynsec, DynsecError
from contracts.geo import GeoPoint
from contracts.site import Site
from gateway.devices import queries, registry
from gateway.devices.logins import login_of
from gateway.devices.models import Device, DeviceKind
from gateway.devices.queries import RegistryView
from gateway.flows import commissioning
from gateway.flows.commissioning import CheckView
from gateway.people.areas import SiteAreas

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["devices"], route_class=GuardedRoute)
Reader = Annotated[Access, Depends(allow(Perm.READ_DEVICES))]
Installer = Annotated[Access, Depends(allow(Perm.INSTALL_DEVICES))]
Manager = Annotated[Access, Depends(allow(Perm.MANAGE_DEVICES))]
DeviceId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
MAX_CSV_BYTES = 2_000_000
GZIP_OVER = 4096  # bytes: below this, gzip saves less than its headers and time


def device_place(areas: SiteAreas, row: Device) -> Place:
    """Where a registry row lies: its configured and installed grids (a node: its devices' too)."""
    grids = {g for g in (row.grid_id, row.installed_grid_id) if g}
    grids |= areas.source_grids(row.id) if row.id not in areas.site.workers else set()
    return Place(frozenset(grids))


def _row(session: Session, areas: SiteAreas, access: Access, device_id: str) -> Device:
    row = session.get(Device, device_id)
    if row is None:
        raise HTTPException(404, f"no device {device_id!r} in the registry")
    access.require(device_place(areas, row), f"device {device_id}")
    return row


@router.get(
    "/registry", response_model=list[RegistryView], summary="Devices of the registry in the caller's areas"
)
def registry_list(
    session: ReadSessionDep,
    access: Reader,
    serial: Annotated[str | None, Query(max_length=64, description="The one with this serial.")] = None,
    status: Annotated[list[str], Query(max_length=6, description="Only these statuses.")] = [],  # noqa: B006
    kind: Annotated[DeviceKind | None, Query()] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> list[RegistryView]:
    rows = queries.listing(
        session,
        access.grids,
        serial=serial,
        status=status,
        kind=kind.value if kind else None,
        limit=limit,
        offset=offset,
    )
    return [RegistryView.of(r) for r in rows]


@router.get("/registry/{device_id}", response_model=RegistryView, summary="One device of the registry")
def registry_one(
    device_id: DeviceId, session: ReadSessionDep, areas: AreasDep, access: Reader
) -> RegistryView:
    return RegistryView.of(_row(session, areas, access, device_id))


class ImportResult(BaseModel):
    bound: list[str]
    planned: list[str]
    unchanged: list[str]
    problems: list[str]


@router.post(
    "/registry/import",
    response_model=ImportResult,
    summary="Pre-registered serials from a CSV (serial,device_id,model[,kind,node_id])",
)
def registry_import(
    session: SessionDep,
    ctx: CtxDep,
    _access: Manager,
    csv_text: Annotated[str, Body(media_type="text/csv", max_length=MAX_CSV_BYTES)],
) -> ImportResult:
    try:
        with session.begin():
            report = registry.import_serials(session, csv_text, ctx.now())
    except registry.RegistryRefused as exc:
        raise HTTPException(422, str(exc)) from exc
    return ImportResult(
        bound=report.bound, planned=report.planned, unchanged=report.unchanged, problems=report.problems
    )


class InstallRequest(BaseModel):
    model_config = {"extra": "forbid"}

    serial: str = Field(pattern=registry.SERIAL_PATTERN, description="As printed on the device's label.")
    lon: float = Field(ge=-180, le=180, description="Where it was put (WGS-84): the phone's fix or the map.")
    lat: float = Field(ge=-90, le=90)
    model: str = Field(default="", max_length=100)


@router.post(
    "/registry/{device_id}/install",
    response_model=RegistryView,
    summary="The installer put this device (this serial) up here",
)
def registry_install(
    device_id: DeviceId,
    body: InstallRequest,
    session: SessionDep,
    ctx: CtxDep,
    areas: AreasDep,
    access: Installer,
) -> RegistryView:
    with session.begin():
        row = _row(session, areas, access, device_id)
        try:
            registry.install(
                session,
                ctx.grids,
                row,
                body.serial,
                GeoPoint(lon=body.lon, lat=body.lat),
                access.caller.id,
                ctx.now(),
                body.model,
            )
        except registry.RegistryRefused as exc:
            raise HTTPException(409, str(exc)) from exc
        return RegistryView.of(row)


@router.get(
    "/registry/{device_id}/config",
    summary="The device's configuration to load onto it (its node's YAML; a sensor's MQTT settings)",
    response_class=Response,
    responses={200: {"content": {"application/yaml": {}}}},
)
def registry_config(
    device_id: DeviceId, session: ReadSessionDep, ctx: CtxDep, areas: AreasDep, access: Installer
) -> Response:
    row = _row(session, areas, access, device_id)
    text = config_bundle(ctx.site, row)
    return Response(
        text,
        media_type="application/yaml",
        headers={"Content-Disposition": content_disposition(f"{row.node_id or row.id}.yaml")},
    )


def config_bundle(site: Site, row: Device) -> str:
    """What the installer loads: the node's site file (the truth: docs/devices.md), and how the
    node or sensor reaches the broker."""
    node_id = row.id if row.kind == DeviceKind.NODE.value else row.node_id
    node = site.nodes.get(node_id or "")
    if node is None:
        raise HTTPException(409, f"{row.id} is not in the site files yet: nothing to configure it with")
    doc = node.model_dump(mode="json", exclude_defaults=True)
    header = [
        f"# GridWatch configuration for {row.id} ({row.kind}, serial {row.serial or 'not recorded yet'})",
        f"# Put it on node {node_id} as nodes/{node_id}.yaml of the site directory.",
        f"# The node logs in to the site's broker as {node_id!r}: GRIDWATCH_EDGE_UPLINK__USERNAME={node_id}",
        "# and GRIDWATCH_EDGE_UPLINK__PASSWORD from the site's credentials (docs/broker-access.md).",
    ]
    device = site.device(row.id)
    if device is not None and row.kind == DeviceKind.SENSOR.value:
        source = getattr(device[1], "source", None)
        protocol = getattr(source, "protocol", "")
        if protocol == "gridwatch":
            header.append(
                f"# This sensor speaks GridWatch itself: it logs in as {row.id!r} on the field listener and "
                f"publishes under gridwatch/v1/device/{row.id}/"
            )
        elif protocol == "zigbee2mqtt":
            header.append(
                f"# zigbee2mqtt: pair it with friendly_name '{source.friendly_name}' "  # type: ignore[union-attr]
                f"(topic {source.base_topic}/{source.friendly_name})"  # type: ignore[union-attr]
            )
    return "\n".join(header) + "\n" + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@router.get(
    "/fleet",
    response_model=queries.FleetView,
    summary="Every device in the caller's areas: status, last seen, configuration version (applied and "
    "pushed), health, open maintenance cases; counts per status; filters and pages",
    responses={304: {"description": "Not modified: the answer's ETag is the If-None-Match given"}},
)
def fleet_view(
    request: Request,
    session: ReadSessionDep,
    areas: AreasDep,
    access: Reader,
    status: Annotated[list[str], Query(max_length=6, description="Only these statuses.")] = [],  # noqa: B006
    kind: Annotated[DeviceKind | None, Query(description="Only edge nodes, cameras or sensors.")] = None,
    area: Annotated[
        str | None, Query(max_length=64, description="Only devices in this street, community or grid.")
    ] = None,
    q: Annotated[str, Query(max_length=64, description="Part of the id, serial or name.")] = "",
    troubled: Annotated[bool, Query(description="Only devices with an open maintenance case.")] = False,
    problems: Annotated[
        bool,
        Query(
            description="Only devices with a problem: offline, an open maintenance case, or a refused "
            "configuration push."
        ),
    ] = False,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many items (1-10000).")] = 10_000,
    offset: Offset = 0,
) -> Response:
    grids = access.grids
    if area:
        if area not in areas.site.areas:
            raise HTTPException(422, f"area: no area {area!r} in grids.geojson")
        chosen = areas.scope([area]).grids
        grids = chosen if grids is None else grids if chosen is None else grids & chosen
    head, items = queries.fleet_page(
        session,
        queries.FleetFilter(
            grids=grids,
            status=tuple(status),
            kind=kind.value if kind else None,
            text=q.strip(),
            only_troubled=troubled,
            only_problems=problems,
        ),
        limit=limit,
        offset=offset,
    )
    # The rows come out of the database as JSON (queries.fleet_page): the body is assembled, not
    # serialised again; its shape is queries.FleetView (the documented response).
    body = to_json(head)[:-1] + b',"items":' + items.encode() + b"}"
    return compact_json(request, body)


def compact_json(request: Request, body: bytes) -> Response:
    """A JSON answer with a strong ETag of its bytes (a repeat poll of an unchanged fleet is a 304
    with no body: nothing to send, nothing for the browser to parse or draw) and gzip when the
    client takes it (10,000 devices: 3.5 MB, ~0.3 MB gzipped — what a wall screen's link feels)."""
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    if len(body) > GZIP_OVER and "gzip" in request.headers.get("accept-encoding", ""):
        # level 1: about a tenth of the size for a few milliseconds; higher levels cost more than
        # they save on a local network
        return Response(
            gzip.compress(body, compresslevel=1),
            media_type="application/json",
            headers={**headers, "Content-Encoding": "gzip"},
        )
    return Response(body, media_type="application/json", headers=headers)


@router.post(
    "/registry/{device_id}/check",
    response_model=CheckView,
    summary="Start the commissioning check: what the device sends from now on is looked at",
)
def check_start(
    device_id: DeviceId, session: SessionDep, ctx: CtxDep, areas: AreasDep, access: Installer
) -> CheckView:
    with session.begin():
        row = _row(session, areas, access, device_id)
        now = ctx.now()
        try:
            commissioning.start(session, row, access.caller.id, now)
        except commissioning.CheckRefused as exc:
            raise HTTPException(409, str(exc)) from exc
        return commissioning.verdict(session, ctx, row, now)


@router.get(
    "/registry/{device_id}/check",
    response_model=CheckView,
    summary="The commissioning check: waiting, ok, or failed and exactly why "
    "(outside_grid, wrong_topic, refused, credentials_refused, never_connected)",
)
def check_result(
    device_id: DeviceId, session: ReadSessionDep, ctx: CtxDep, areas: AreasDep, access: Installer
) -> CheckView:
    row = _row(session, areas, access, device_id)
    return commissioning.verdict(session, ctx, row, ctx.now())


class CredentialsRequest(BaseModel):
    model_config = {"extra": "forbid"}

    action: Literal["issue", "rotate", "revoke"] = Field(
        default="issue", description="issue (or renew) the login, rotate its password, or revoke it"
    )


class Credentials(BaseModel):
    login: str
    kind: str  # node or device
    password: str | None  # shown once: the broker keeps only a hash (None after a revoke)
    broker_host: str
    broker_port: int


@router.post(
    "/registry/{device_id}/credentials",
    response_model=Credentials,
    summary="The device's own broker login (dynamic security): issue, rotate or revoke",
)
def registry_credentials(
    device_id: DeviceId,
    body: CredentialsRequest,
    request: Request,
    session: ReadSessionDep,
    ctx: CtxDep,
    areas: AreasDep,
    access: Installer,
) -> Credentials:
    row = _row(session, areas, access, device_id)
    settings = request.app.state.settings
    if not settings.dynsec_host:
        raise HTTPException(
            409,
            "this site's broker logins are not managed by the API: set GRIDWATCH_DYNSEC_HOST and "
            "GRIDWATCH_DYNSEC_PASSWORD (docs/broker-access.md), or use gridwatch devices credentials",
        )
    try:
        kind, rules = login_of(ctx.site, row.id)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from exc
    broker = Dynsec(
        settings.dynsec_host, settings.dynsec_port, settings.dynsec_username, settings.dynsec_password
    )
    try:
        if body.action == "revoke":
            broker.revoke(row.id)
            password = None
        elif body.action == "rotate":
            password = broker.rotate(row.id)
        else:
            password = broker.provision(kind, row.id, rules)
    except DynsecError as exc:
        raise HTTPException(502, f"the broker refused: {exc}") from exc
    log.info(
        "broker login of %s: %s by %s", row.id, body.action, access.caller.id, extra={"device_id": row.id}
    )
    return Credentials(
        login=row.id,
        kind=kind.value,
        password=password,
        broker_host=settings.dynsec_host,
        broker_port=settings.dynsec_port,
    )
