"""Ingest health: the gateways sharing the stream (whole-site callers), and each source's sequence
(the sources in the caller's areas)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from cloud_api.auth import Access, Perm, Place, allow
from cloud_api.auth.guard import GuardedRoute
from cloud_api.auth.places import source_ids
from cloud_api.deps import AreasDep, CtxDep, ReadSessionDep
from gateway.heartbeat.service import GatewayView, gateways
from gateway.ingest import queries
from gateway.ingest.queries import SourceView

router = APIRouter(prefix="/api/v1", tags=["operations"], route_class=GuardedRoute)
DeviceReader = Annotated[Access, Depends(allow(Perm.READ_DEVICES))]


@router.get(
    "/gateways",
    response_model=list[GatewayView],
    summary="Every gateway's last heartbeat: alive, MQTT, messages, telemetry store, warnings",
)
def list_gateways(session: ReadSessionDep, ctx: CtxDep, access: DeviceReader) -> list[GatewayView]:
    access.require(Place(), "the gateways (the whole site's infrastructure)")
    return gateways(session, ctx.now())


@router.get(
    "/sources",
    response_model=list[SourceView],
    summary="Per source: highest sequence number, gaps still open, messages lost upstream",
)
def list_sources(
    session: ReadSessionDep,
    access: DeviceReader,
    areas: AreasDep,
    gaps: bool = Query(default=False, description="Only sources with open gaps or losses."),
    limit: int = Query(default=1000, ge=1, le=10_000),
) -> list[SourceView]:
    only = source_ids(access, areas, queries.source_ids(session))
    return queries.sources(session, gaps, limit, only)
