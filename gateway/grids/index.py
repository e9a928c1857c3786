"""Point → grid lookup (bucket grid over an STRtree) and grid neighbourhoods."""

from __future__ import annotations

import gc
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
# The per-point predicate without the ufunc machinery (~0.15 µs against ~2 µs for
# shapely.intersects_xy on one geometry); same GEOS predicate, prepared geometries honoured.
# It lives in shapely.lib (shapely ≥ 2.1); older versions fall back to the public ufunc.
_intersects_xy = getattr(shapely.lib, "intersects_xy_scalar", shapely.intersects_xy)
# Buckets per grid: more buckets means more of them lie wholly inside one grid (answered without any
# geometry test) at the cost of memory and build time (40,000 grids: 160,000 buckets, ~1 s).
BUCKETS_PER_GRID = 4
# Each bucket is classified by its box shrunk by this share of its size on every side; a point
# closer than twice that to a bucket edge (where float rounding could pick the wrong bucket, or
# a border drawn along the edge would matter) is answered by the STRtree instead: ~1 in 100,000.
BUCKET_MARGIN = 1e-6


class _Bucket:
    """The grids that may contain a point of one bucket, in file order.

    ``tests`` are (geometry, grid) pairs to try in order; ``cover`` is the first grid that
    covers the whole (shrunk) bucket: every grid after it in file order would lose to it, so
    they are not kept, and a point no earlier grid contains is in ``cover``.
    """

    __slots__ = ("cover", "tests")

    def __init__(self, tests: tuple[tuple[object, GridArea], ...], cover: GridArea | None) -> None:
        self.tests = tests
        self.cover = cover


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
        # Hundreds of thousands of small tuples in a row would set off the cyclic collector again
        # and again over the whole heap (more than half the build time at 40,000 grids); none
        # of them can form a cycle, so it is paused for the build.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._neighbours = self._compute_neighbours(geoms)
            self._build_buckets(geoms)
        finally:
            if collecting:
                gc.enable()
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

    def _build_buckets(self, geoms: np.ndarray) -> None:
        """Cut the grids' bounding box into ~BUCKETS_PER_GRID buckets per grid and classify each.

        A bucket holds either the one grid that answers for all of it (the first grid in file
        order that covers it, with no earlier grid touching it) or the candidates to test. The
        STRtree's own answer (first grid in file order whose polygon intersects the point,
        borders included) is what the buckets reproduce, exactly.
        """
        self._cells: list[GridArea | _Bucket | None] = []
        self._nx = self._ny = 0
        self._x0 = self._y0 = 0.0
        self._x1 = self._y1 = -1.0  # empty range: nothing is located
        if not len(geoms):
            return
        x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(geoms))
        width, height = x1 - x0, y1 - y0
        n_cells = max(1, BUCKETS_PER_GRID * len(geoms))
        if width > 0 and height > 0:
            side = (width * height / n_cells) ** 0.5
            nx, ny = max(1, min(n_cells, round(width / side))), max(1, min(n_cells, round(height / side)))
        else:  # every grid on one line or point: cut along the long side only
            nx, ny = (n_cells, 1) if width > 0 else (1, n_cells if height > 0 else 1)
        dx, dy = (width / nx) or 1.0, (height / ny) or 1.0
        self._x0, self._y0, self._x1, self._y1 = x0, y0, x1, y1
        self._nx, self._ny = nx, ny
        self._fx, self._fy = 1.0 / dx, 1.0 / dy
        # The rounding error of (lon - x0) * fx, in bucket widths, is a few ulps of the coordinates
        # times fx; keep the margin far above it even for tiny buckets far from the origin.
        span = max(abs(x0), abs(x1), abs(y0), abs(y1), 1.0)
        margin = max(BUCKET_MARGIN, 1e-12 * span * max(self._fx, self._fy))
        self._edge_lo, self._edge_hi = 2 * margin, 1 - 2 * margin
        mx, my = dx * margin, dy * margin
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        # A few thousand bucket boxes at a time: all 160,000 at once would hold ~60 MB of GEOS boxes.
        for first in range(0, nx * ny, 8192):
            cell = np.arange(first, min(first + 8192, nx * ny))
            ix, iy = cell % nx, cell // nx  # row-major: cell = iy * nx + ix
            boxes = shapely.box(
                x0 + ix * dx + mx, y0 + iy * dy + my, x0 + (ix + 1) * dx - mx, y0 + (iy + 1) * dy - my
            )
            at, grid_at = self._tree.query(boxes, predicate="intersects")
            found.append((cell[at], grid_at, shapely.covers(geoms[grid_at], boxes[at])))
        cell_idx, grid_idx, covered = (np.concatenate(parts) for parts in zip(*found, strict=True))
        order = np.lexsort((grid_idx, cell_idx))  # by cell, then file order
        cell_idx, grid_idx, covered = cell_idx[order], grid_idx[order], covered[order]
        cells: list[GridArea | _Bucket | None] = [None] * (nx * ny)
        if not len(order):
            self._cells = cells
            return
        # Per cell, the pairs before its first covering grid are tested in order; that grid (if
        # any) answers the rest of the cell; later grids would lose to it on every point.
        pos = np.arange(len(order))
        start = np.flatnonzero(np.r_[True, cell_idx[1:] != cell_idx[:-1]])
        end = np.minimum.reduceat(np.where(covered, pos, len(order)), start)
        end = np.minimum(end, np.r_[start[1:], len(order)])
        # One (geometry, grid) pair per grid, shared by all its buckets (memory: 160,000 buckets).
        pair_of = list(zip(geoms.tolist(), self._grids, strict=True))
        pairs = [pair_of[i] for i in grid_idx.tolist()]
        n, cell_of, full = len(order), cell_idx.tolist(), covered.tolist()
        for a, b in zip(start.tolist(), end.tolist(), strict=True):
            cell = cell_of[a]
            cover = pairs[b][1] if b < n and full[b] and cell_of[b] == cell else None
            cells[cell] = cover if a == b else _Bucket(tuple(pairs[a:b]), cover)
        self._cells = cells

    def __len__(self) -> int:
        return len(self._grids)

    def get(self, grid_id: str) -> GridArea | None:
        return self._by_id.get(grid_id)

    def locate(self, point: GeoPoint) -> GridArea | None:
        return self.locate_xy(point.lon, point.lat)

    def locate_xy(self, lon: float, lat: float) -> GridArea | None:
        """The grid covering (lon, lat); on a shared border, the first grid of the file.

        Plain float arithmetic finds the bucket; most buckets lie inside one grid and answer
        without geometry; the others test their few candidates with prepared polygons.
        """
        # Written so that NaN fails the range test too.
        if not (self._x0 <= lon <= self._x1 and self._y0 <= lat <= self._y1):
            return None
        u = (lon - self._x0) * self._fx
        v = (lat - self._y0) * self._fy
        ix, iy = int(u), int(v)
        # Near a bucket edge (and on the far edge of the box, where ix == nx) the STRtree decides.
        if not (self._edge_lo < u - ix < self._edge_hi and self._edge_lo < v - iy < self._edge_hi):
            return self.locate_xy_tree(lon, lat)
        cell = self._cells[iy * self._nx + ix]
        if cell is None or cell.__class__ is GridArea:
            return cell  # type: ignore[return-value]
        for geom, grid in cell.tests:  # type: ignore[union-attr]
            if _intersects_xy(geom, lon, lat):
                return grid
        return cell.cover  # type: ignore[union-attr]

    def locate_xy_tree(self, lon: float, lat: float) -> GridArea | None:
        """The same answer straight from the STRtree (the reference the buckets are checked against)."""
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
