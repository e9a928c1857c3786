"""Operator tools: evidence, the grid map, health (dead letters: routes/dead_letters.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response
from shapely.geometry import mapping
from sqlalchemy import text

from cloud_api.deps import ReadSessionDep, SiteDep
from gateway.evidence.models import Evidence

router = APIRouter(prefix="/api/v1", tags=["operations"])


@router.get("/health", summary="Is the API up and can it read the store?")
def health(session: ReadSessionDep, site: SiteDep) -> dict[str, Any]:
    session.execute(text("SELECT 1"))
    return {"status": "ok", "site": site.settings.site.id, "store": "ok"}


@router.get("/evidence/{evidence_id}.jpg", summary="An evidence snapshot", response_class=Response)
def evidence(evidence_id: str, session: ReadSessionDep) -> Response:
    row = session.get(Evidence, evidence_id)
    if row is None:
        raise HTTPException(404, f"no evidence {evidence_id!r}")
    return Response(row.jpeg, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})


@router.get("/grids", summary="The grid map as GeoJSON")
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
