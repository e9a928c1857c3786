"""Point → grid: the bucket lookup gives exactly the STRtree's answer, borders and outside included."""

from __future__ import annotations

import random

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from contracts.geo import GeoPoint
from contracts.site import GridArea
from contracts.site.models import GridLevel
from gateway.grids.index import GridIndex

LON0, LAT0, CELL, SIDE = 120.0, 31.0, 0.002, 24


def area(gid: str, geometry: Polygon | MultiPolygon) -> GridArea:
    return GridArea(gid, gid, GridLevel.GRID, None, None, None, geometry)


def jittered_town(rng: random.Random) -> list[GridArea]:
    """Quadrilateral grids sharing jittered corners (borders at no particular angle), plus
    overlapping odd shapes: a polygon with a hole, a multipolygon, a triangle over many grids,
    a sliver; in shuffled file order, so "first grid of the file" on overlaps is exercised."""
    corner = {
        (i, j): (
            LON0 + (i + (rng.uniform(-0.35, 0.35) if 0 < i < SIDE else 0)) * CELL,
            LAT0 + (j + (rng.uniform(-0.35, 0.35) if 0 < j < SIDE else 0)) * CELL,
        )
        for i in range(SIDE + 1)
        for j in range(SIDE + 1)
    }
    grids = [
        area(f"q-{i}-{j}", Polygon([corner[i, j], corner[i + 1, j], corner[i + 1, j + 1], corner[i, j + 1]]))
        for i in range(SIDE)
        for j in range(SIDE)
    ]
    x, y = LON0 + 5 * CELL, LAT0 + 5 * CELL
    grids += [
        area(
            "holed",
            box(x, y, x + 4 * CELL, y + 4 * CELL).difference(
                box(x + CELL, y + CELL, x + 3 * CELL, y + 3 * CELL)
            ),
        ),
        area(
            "multi",
            MultiPolygon(
                [
                    box(x + 10 * CELL, y, x + 11 * CELL, y + CELL),
                    box(x + 12 * CELL, y, x + 13 * CELL, y + CELL),
                ]
            ),
        ),
        area("triangle", Polygon([(LON0, LAT0), (LON0 + SIDE * CELL, LAT0), (LON0, LAT0 + SIDE * CELL)])),
        area("sliver", box(x, y + 7 * CELL, x + 9 * CELL, y + 7 * CELL + 1e-7)),
        # Beyond the town: its own island, so the bounding box has empty space in it.
        area("island", box(LON0 + (SIDE + 5) * CELL, LAT0, LON0 + (SIDE + 6) * CELL, LAT0 + CELL)),
    ]
    rng.shuffle(grids)
    return grids


def probe_points(grids: list[GridArea], index: GridIndex, rng: random.Random) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = LON0, LAT0, LON0 + (SIDE + 6) * CELL, LAT0 + SIDE * CELL
    pad = 3 * CELL
    points = [(rng.uniform(x0 - pad, x1 + pad), rng.uniform(y0 - pad, y1 + pad)) for _ in range(20_000)]
    for g in grids:  # on and a hair either side of every border and corner
        polys = g.geometry.geoms if isinstance(g.geometry, MultiPolygon) else [g.geometry]
        for poly in polys:
            for ring in [poly.exterior, *poly.interiors]:
                for cx, cy in ring.coords:
                    points.append((cx, cy))
                    for eps in (1e-12, 1e-9, 1e-7):
                        points += [(cx + eps, cy), (cx - eps, cy), (cx, cy + eps), (cx, cy - eps)]
                for t in (0.13, 0.5, 0.77):
                    p = ring.interpolate(t, normalized=True)
                    points += [(p.x, p.y), (p.x + 1e-10, p.y - 1e-10), (p.x - 1e-10, p.y + 1e-10)]
    # Bucket edges themselves, where float rounding decides the bucket.
    nx, ny = index._nx, index._ny
    for k in range(0, nx + 1, max(1, nx // 40)):
        for m in range(0, ny + 1, max(1, ny // 40)):
            bx = index._x0 + k / index._fx
            by = index._y0 + m / index._fy
            points += [
                (bx, by),
                (bx + 1e-13, by - 1e-13),
                (bx, rng.uniform(y0, y1)),
                (rng.uniform(x0, x1), by),
            ]
    return points


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bucket_lookup_equals_the_strtree_answer(seed: int) -> None:
    rng = random.Random(seed)
    grids = jittered_town(rng)
    index = GridIndex(grids)
    points = probe_points(grids, index, rng)
    mismatches = [
        (lon, lat, index.locate_xy(lon, lat), index.locate_xy_tree(lon, lat))
        for lon, lat in points
        if index.locate_xy(lon, lat) is not index.locate_xy_tree(lon, lat)
    ]
    assert not mismatches, mismatches[:5]
    # The probes really hit the hard cases: borders shared by two grids, overlaps, outside.
    outside = sum(index.locate_xy_tree(lon, lat) is None for lon, lat in points)
    assert 1000 < outside < len(points) / 2
    pts = shapely.points(np.array(points))
    hits_per_point = np.bincount(index._tree.query(pts, predicate="intersects")[0], minlength=len(points))
    on_two = int((hits_per_point > 1).sum())
    assert on_two > 500


def test_square_town_whose_borders_fall_on_bucket_edges() -> None:
    """Squares aligned with the buckets (the benchmark's town): borders lie exactly on bucket edges."""
    grids = [
        area(
            f"g-{i}-{j}", box(LON0 + i * CELL, LAT0 + j * CELL, LON0 + (i + 1) * CELL, LAT0 + (j + 1) * CELL)
        )
        for i in range(SIDE)
        for j in range(SIDE)
    ]
    index = GridIndex(grids)
    rng = random.Random(4)
    points = probe_points(grids, index, rng)
    points += [(LON0 + i * CELL, LAT0 + rng.randrange(SIDE * 4) * CELL / 4) for i in range(SIDE + 1)]
    assert all(index.locate_xy(lon, lat) is index.locate_xy_tree(lon, lat) for lon, lat in points)
    # On the border of g-3-5 and g-4-5 the first of the file wins.
    assert index.locate_xy(LON0 + 4 * CELL, LAT0 + 5.5 * CELL).id == "g-3-5"  # type: ignore[union-attr]


def test_outside_every_grid_falls_back_to_the_nearest_grid() -> None:
    grids = jittered_town(random.Random(5))
    index = GridIndex(grids)
    east = GeoPoint(lon=LON0 + (SIDE + 6) * CELL + 0.001, lat=LAT0 + 0.5 * CELL)  # ~95 m east of the island
    assert index.locate(east) is None
    nearest = index.nearest(east)
    assert nearest is not None and nearest[0].id == "island"
    assert 80 < nearest[1] < 110
    hole = GeoPoint(lon=LON0 + 7 * CELL, lat=LAT0 + 7 * CELL)  # inside the hole, but on quad grids
    assert index.locate(hole) is index.locate_xy_tree(hole.lon, hole.lat) is not None


def test_empty_and_single_grid_indexes() -> None:
    assert GridIndex([]).locate_xy(120.0, 31.0) is None
    one = GridIndex([area("only", box(120.0, 31.0, 120.01, 31.01))])
    assert one.locate_xy(120.005, 31.005).id == "only"  # type: ignore[union-attr]
    assert one.locate_xy(120.01, 31.01).id == "only"  # type: ignore[union-attr]  # the far corner
    assert one.locate_xy(120.02, 31.005) is None
    assert one.locate_xy(float("nan"), 31.005) is None
