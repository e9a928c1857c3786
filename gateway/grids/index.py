"""Point → grid lookup and grid neighbourhoods (shapely STRtree)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from shapely import STRtree
from shapely.geometry import Point
from shapely.prepared import prep

from contracts.geo import GeoPoint, haversine_m
from contracts.site import GridArea


class GridIndex:
    """Spatial index over grid-level areas.

    ``locate`` answers which grid contains a point; ``nearest`` is the fallback
    for points outside every grid; ``neighbours`` lists grids that share a
    border, for cascading dispatch outward.
    """

    def __init__(self, grids: Iterable[GridArea]) -> None:
        self._grids = list(grids)
        self._tree = STRtree([g.geometry for g in self._grids])
        self._prepared = [prep(g.geometry) for g in self._grids]
        self._by_id = {g.id: g for g in self._grids}
        self._neighbours = self._compute_neighbours()

    def _compute_neighbours(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {g.id: [] for g in self._grids}
        for i, grid in enumerate(self._grids):
            # touches() misses borders that overlap by a hair; a tiny buffer is robust.
            probe = grid.geometry.buffer(1e-6)
            for j in self._tree.query(probe):
                if j != i and probe.intersects(self._grids[j].geometry):
                    out[grid.id].append(self._grids[j].id)
        return {k: sorted(v) for k, v in out.items()}

    def __len__(self) -> int:
        return len(self._grids)

    def get(self, grid_id: str) -> GridArea | None:
        return self._by_id.get(grid_id)

    def locate(self, point: GeoPoint) -> GridArea | None:
        p = Point(point.lon, point.lat)
        for i in self._tree.query(p):
            if self._prepared[i].covers(p):
                return self._grids[i]
        return None

    def nearest(self, point: GeoPoint) -> tuple[GridArea, float] | None:
        """The closest grid and its distance in metres (to the nearest border point)."""
        if not self._grids:
            return None
        p = Point(point.lon, point.lat)
        i = int(np.asarray(self._tree.nearest(p)))
        grid = self._grids[i]
        q = (
            grid.geometry.exterior.interpolate(grid.geometry.exterior.project(p))
            if grid.geometry.geom_type == "Polygon"
            else grid.geometry.centroid
        )
        return grid, haversine_m(point.lon, point.lat, q.x, q.y)

    def neighbours(self, grid_id: str) -> list[str]:
        return self._neighbours.get(grid_id, [])

    def rings(self, grid_id: str, max_rings: int = 2) -> list[list[str]]:
        """Grids by ring: [[own], [touching], [touching those], ...]."""
        seen = {grid_id}
        rings = [[grid_id]]
        for _ in range(max_rings):
            nxt = sorted({n for g in rings[-1] for n in self.neighbours(g)} - seen)
            if not nxt:
                break
            seen.update(nxt)
            rings.append(nxt)
        return rings
