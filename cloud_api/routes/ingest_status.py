"""Ingest health for operators: the gateways sharing the stream, and each source's sequence."""

from __future__ import annotations

from fastapi import APIRouter, Query

from cloud_api.deps import CtxDep, ReadSessionDep
from gateway.heartbeat.service import GatewayView, gateways
from gateway.ingest.queries import SourceView, sources

router = APIRouter(prefix="/api/v1", tags=["operations"])


@router.get(
    "/gateways",
    response_model=list[GatewayView],
    summary="Every gateway's last heartbeat: alive, MQTT, messages, telemetry store, warnings",
)
def list_gateways(session: ReadSessionDep, ctx: CtxDep) -> list[GatewayView]:
    return gateways(session, ctx.now())


@router.get(
    "/sources",
    response_model=list[SourceView],
    summary="Per source: highest sequence number, gaps still open, messages lost upstream",
)
def list_sources(
    session: ReadSessionDep,
    gaps: bool = Query(default=False, description="Only sources with open gaps or losses."),
    limit: int = Query(default=1000, ge=1, le=10_000),
) -> list[SourceView]:
    return sources(session, gaps, limit)
