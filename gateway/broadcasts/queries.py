"""Reads for broadcasts: which grids chosen areas cover, who a broadcast went to, what a page shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.site import Site
from gateway.broadcasts.models import Broadcast, BroadcastRecipient, Sighting


def grids_under(site: Site, area_ids: list[str]) -> list[str]:
    """The grids inside the chosen areas (any level: a street, a community, a grid)."""
    chosen = set(area_ids)
    out = []
    for grid in site.grids:
        area = site.areas.get(grid.id)
        while area is not None:
            if area.id in chosen:
                out.append(grid.id)
                break
            area = site.areas.get(area.parent) if area.parent else None
    return sorted(out)


def state_of(b: Broadcast, now: datetime) -> str:
    if b.closed_at is not None:
        return "closed"
    return "expired" if b.expires_at <= now else "open"


@dataclass(frozen=True)
class Receipt:
    worker_id: str
    grid_id: str
    read_at: datetime | None


def receipts(session: Session, broadcast_ids: list[str]) -> dict[str, list[Receipt]]:
    out: dict[str, list[Receipt]] = {b: [] for b in broadcast_ids}
    if not broadcast_ids:
        return out
    rows = session.scalars(
        select(BroadcastRecipient)
        .where(BroadcastRecipient.broadcast_id.in_(broadcast_ids))
        .order_by(BroadcastRecipient.id)
    )
    for r in rows:
        out[r.broadcast_id].append(Receipt(r.worker_id, r.grid_id, r.read_at))
    return out


def sightings(session: Session, broadcast_ids: list[str]) -> dict[str, list[Sighting]]:
    out: dict[str, list[Sighting]] = {b: [] for b in broadcast_ids}
    if not broadcast_ids:
        return out
    for s in session.scalars(
        select(Sighting).where(Sighting.broadcast_id.in_(broadcast_ids)).order_by(Sighting.at)
    ):
        out[s.broadcast_id].append(s)
    return out


def recent(session: Session, limit: int = 100) -> list[Broadcast]:
    return list(session.scalars(select(Broadcast).order_by(Broadcast.created_at.desc()).limit(limit)))


def of_worker(session: Session, worker_id: str, limit: int = 50) -> list[Broadcast]:
    return list(
        session.scalars(
            select(Broadcast)
            .join(BroadcastRecipient, BroadcastRecipient.broadcast_id == Broadcast.id)
            .where(BroadcastRecipient.worker_id == worker_id)
            .order_by(Broadcast.created_at.desc())
            .limit(limit)
        )
    )
