"""Hotspots and trends: cases per grid, community or hazard type over a period, against the
period before; cases per week; cases per square kilometre of each grid (the map's colours).

A case counts once, in the period it was opened in, where it lies; a duplicate merged into
another (status ``merged``) does not count. False alarms (dismissed) count as cases and are
also given on their own: a grid full of false alarms is a device to fix, not a hotspot.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from contracts.geo import metres_per_degree
from gateway.cases.lifecycle import CaseStatus
from gateway.cases.models import Case
from gateway.performance.areas import By, Grids, SiteMap, in_grids
from gateway.performance.periods import Period
from gateway.performance.sql import grouped, week_index


class Count(BaseModel):
    cases: int = 0
    dismissed: int = 0


class Hotspot(BaseModel):
    key: str | None  # grid, community or hazard type; None: outside every grid
    name: str
    cases: int
    dismissed: int
    previous: int  # cases in the period just before, of the same length
    change: int
    change_pct: float | None  # None when there were none before


class Week(BaseModel):
    start: datetime
    counts: dict[str, int]  # key ('all' for by=all) -> cases that week
    total: int


class GridDensity(BaseModel):
    grid_id: str
    name: str
    community: str | None
    cases: int
    dismissed: int
    area_km2: float
    households: int | None
    per_km2: float
    per_1000_households: float | None


def _case_rows(since: datetime, until: datetime, grids: Grids) -> Any:
    return (
        select(
            Case.id.label("case_id"),
            Case.grid_id.label("grid_id"),
            Case.hazard_type.label("hazard_type"),
            Case.status.label("status"),
            Case.opened_at.label("opened_at"),
        )
        .where(
            Case.opened_at >= since,
            Case.opened_at < until,
            Case.status != CaseStatus.MERGED.value,
            in_grids(Case.grid_id, grids),
        )
        .subquery()
    )


def _keyed(rows: Any, by: By, places: SiteMap, extra: Sequence[Any] = ()) -> tuple[Any, list[str]]:
    if by is By.COMMUNITY:
        gc = places.grid_communities()
        query = select(rows, gc.c.v.label("key"), *extra).outerjoin(gc, gc.c.k == rows.c.grid_id)
    elif by is By.GRID:
        query = select(rows, rows.c.grid_id.label("key"), *extra)
    elif by is By.HAZARD_TYPE:
        query = select(rows, rows.c.hazard_type.label("key"), *extra)
    elif by is By.ALL:
        query = select(rows, *extra)
        return query.subquery(), []
    else:
        raise ValueError("cases are counted per grid, community, hazard type or all")
    return query.subquery(), ["key"]


def case_counts(
    session: Session, places: SiteMap, period: Period, by: By, grids: Grids = None
) -> dict[Any, Count]:
    rows, keys = _keyed(_case_rows(period.start, period.end, grids), by, places)
    counts = {
        "cases": func.count(),
        "dismissed": func.sum(case((rows.c.status == CaseStatus.DISMISSED.value, 1), else_=0)),
    }
    found = grouped(session, rows, keys, counts)
    return {
        (key[0] if key else "all"): Count(cases=int(v["cases"] or 0), dismissed=int(v["dismissed"] or 0))
        for key, v in found.items()
    }


def hotspots(session: Session, places: SiteMap, period: Period, by: By, grids: Grids = None) -> list[Hotspot]:
    """Cases per ``by`` in ``period`` and in the period before it, most cases first."""
    now = case_counts(session, places, period, by, grids)
    before = case_counts(session, places, period.before(), by, grids)
    keys = set(now) | set(before)
    if by is By.GRID:
        keys |= {g.id for g in places.site.grids if grids is None or g.id in grids}
    elif by is By.COMMUNITY:
        keys |= {
            c
            for g in places.site.grids
            if (grids is None or g.id in grids) and (c := places.community_of(g.id))
        }
    out = []
    for key in keys:
        n, p = now.get(key, Count()), before.get(key, Count()).cases
        out.append(
            Hotspot(
                key=key,
                name=places.name(key) if by in (By.GRID, By.COMMUNITY) else (key or ""),
                cases=n.cases,
                dismissed=n.dismissed,
                previous=p,
                change=n.cases - p,
                change_pct=round(100.0 * (n.cases - p) / p, 1) if p else None,
            )
        )
    return sorted(out, key=lambda h: (-h.cases, -h.change, h.key is None, h.key or ""))


def trend(
    session: Session, places: SiteMap, bounds: Sequence[datetime], by: By, grids: Grids = None
) -> list[Week]:
    """Cases per site-local week (``bounds``: Mondays, oldest first, and the last week's end)."""
    base = _case_rows(bounds[0], bounds[-1], grids)
    rows, keys = _keyed(base, by, places, [week_index(base.c.opened_at, bounds).label("week")])
    found = grouped(session, rows, ["week", *keys], {"cases": func.count()})
    weeks = [Week(start=bounds[i], counts={}, total=0) for i in range(len(bounds) - 1)]
    for key, v in found.items():
        week, k = key[0], (key[1] if len(key) > 1 else "all")
        if week is None:
            continue
        n = int(v["cases"] or 0)
        weeks[int(week)].counts[k if k is not None else ""] = n
        weeks[int(week)].total += n
    return weeks


def grid_area_km2(places: SiteMap, grid_id: str) -> float:
    """The grid's area on the ground (the polygon's degrees scaled at its latitude)."""
    grid = places.site.areas[grid_id]
    per_lon, per_lat = metres_per_degree(grid.centroid.lat)
    return grid.geometry.area * per_lon * per_lat / 1e6


def density(session: Session, places: SiteMap, period: Period, grids: Grids = None) -> list[GridDensity]:
    """Cases per grid in ``period``, per km² and per 1,000 households where they are known."""
    counts = case_counts(session, places, period, By.GRID, grids)
    out = []
    for grid in places.site.grids:
        if grids is not None and grid.id not in grids:
            continue
        n = counts.get(grid.id, Count())
        km2 = grid_area_km2(places, grid.id)
        out.append(
            GridDensity(
                grid_id=grid.id,
                name=grid.name,
                community=places.community_of(grid.id),
                cases=n.cases,
                dismissed=n.dismissed,
                area_km2=round(km2, 4),
                households=grid.households,
                per_km2=round(n.cases / km2, 2) if km2 > 0 else 0.0,
                per_1000_households=round(1000.0 * n.cases / grid.households, 2) if grid.households else None,
            )
        )
    return sorted(out, key=lambda d: (-d.per_km2, d.grid_id))
