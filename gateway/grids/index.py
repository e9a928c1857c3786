"""Point → grid lookup and grid neighbourhoods (shapely STRtree)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import Point

from contracts.geo import GeoPoint, haversine_m
from contracts.site import GridArea

# touches() misses borders drawn a hair apart; a probe this much larger (degrees, ~0.1 m) is robust.
NEIGHBOUR_PROBE_DEG = 1e-6


class GridIndex:
    """Spatial index over grid-level areas.

    ``locate`` answers which grid contains a point; ``nearest`` is the fallback
    for points outside every grid; ``neighbours`` lists grids that share a
    border (precomputed), and ``rings`` cascades outward from a grid, for
    dispatch.
    """

    def __init__(self, grids: Iterable[GridArea]) -> None:
        self._grids = list(grids)
        geoms = np.array([g.geometry for g in self._grids], dtype=object)
        self._tree = STRtree(geoms)
        shapely.prepare(geoms)  # prepared geometries make the point-in-polygon test fast
        self._by_id = {g.id: g for g in self._grids}
        self._neighbours = self._compute_neighbours(geoms)
        self.rings = lru_cache(maxsize=65536)(self._rings)  # type: ignore[method-assign]

    def _compute_neighbours(self, geoms: np.ndarray) -> dict[str, tuple[str, ...]]:
        out: dict[str, set[str]] = {g.id: set() for g in self._grids}
        if not len(geoms):
            return {}
        # One bulk query for every grid at once: (probe index, tree index) pairs.
        probes = shapely.buffer(geoms, NEIGHBOUR_PROBE_DEG, quad_segs=1)
        pairs = self._tree.query(probes, predicate="intersects")
        for i, j in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True):
            if i != j:
                out[self._grids[i].id].add(self._grids[j].id)
        return {k: tuple(sorted(v)) for k, v in out.items()}

    def __len__(self) -> int:
        return len(self._grids)

    def get(self, grid_id: str) -> GridArea | None:
        return self._by_id.get(grid_id)

    def locate(self, point: GeoPoint) -> GridArea | None:
        return self.locate_xy(point.lon, point.lat)

    def locate_xy(self, lon: float, lat: float) -> GridArea | None:
        """The grid covering (lon, lat); on a shared border, the first grid of the file."""
        hits = self._tree.query(Point(lon, lat), predicate="intersects")
        if not len(hits):
            return None
        return self._grids[int(hits.min())] if len(hits) > 1 else self._grids[int(hits[0])]

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

    def neighbours(self, grid_id: str) -> tuple[str, ...]:
        return self._neighbours.get(grid_id, ())

    def _rings(self, grid_id: str, max_rings: int = 2) -> tuple[tuple[str, ...], ...]:
        """Grids by ring: ((own,), (touching...), (touching those...), ...); cached."""
        seen = {grid_id}
        rings: list[tuple[str, ...]] = [(grid_id,)]
        for _ in range(max_rings):
            nxt = sorted({n for g in rings[-1] for n in self.neighbours(g)} - seen)
            if not nxt:
                break
            seen.update(nxt)
            rings.append(tuple(nxt))
        return tuple(rings)
