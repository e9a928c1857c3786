"""Dispatch benchmarks (issue 6): prints ONE JSON line of figures.

    .venv/bin/python bench/dispatch_bench.py [--quick]

- decision latency (choose_worker, in memory) p50/p99 at 100, 1,000 and 10,000 workers on
  40,000 grids: each case in a random grid (first decision there: rings and nearby workers
  computed), then the same grids again (warm caches); against the previous full scan of all
  workers per decision (baseline, same run);
- the same decision with its state read from SQLite (what the gateway does per case), at 10,000;
- point → grid lookup (bucket grid) against the STRtree query it replaced and the plain scan of
  Site.grid_containing (baselines, same run); again on a town of irregular quadrilaterals;
- patrol insertion: one inspection into each of 50 workers' 20-stop routes.

Absolute times depend on the machine and its load; ``calibration_ns`` is the cost of one
iteration of a trivial Python loop measured in the same run, so figures can be compared
across machines, and the ratios to the baselines are what the code changed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shapely.geometry import Polygon, box

from contracts.geo import GeoPoint, haversine_m
from contracts.site import GridArea, Site
from contracts.site.models import EscalationFile, GridLevel, PatrolsFile, SiteFile, WorkerRole
from contracts.site.models import Worker as WorkerModel
from contracts.site.schedule import any_active
from gateway.context import GatewayContext
from gateway.dispatch.choice import ROLE_RANK, WorkerState, choose_worker
from gateway.grids.index import GridIndex
from gateway.patrol.insertion import cheapest_insertion

SIDE = 200  # 200 x 200 = 40,000 grids
CELL = 0.002  # degrees: ~190 m x 220 m, a grid of a few hundred households
LON0, LAT0 = 120.0, 31.0
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai


def calibration_ns(n: int = 1_000_000) -> float:
    started = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * 2
    return (time.perf_counter() - started) / n * 1e9


def quantiles_us(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_us": round(statistics.median(ordered) * 1e6, 1),
        "p99_us": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6, 1),
    }


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def make_site(n_workers: int, rng: random.Random) -> Site:
    grids = {}
    for i in range(SIDE):
        for j in range(SIDE):
            gid = f"g-{i}-{j}"
            cell = box(LON0 + i * CELL, LAT0 + j * CELL, LON0 + (i + 1) * CELL, LAT0 + (j + 1) * CELL)
            grids[gid] = GridArea(gid, gid, GridLevel.GRID, None, None, None, cell)
    roles = [WorkerRole.FULL_TIME] * 7 + [WorkerRole.PART_TIME] * 2 + [WorkerRole.GRID_LEADER]
    duties = ["always", "daily 08:00-20:00", "Mon-Fri 08:30-17:30", "daily 20:00-08:00"]
    workers = {}
    for k in range(n_workers):
        home = f"g-{rng.randrange(SIDE)}-{rng.randrange(SIDE)}"
        workers[f"w-{k}"] = WorkerModel(
            id=f"w-{k}", name=f"w{k}", role=rng.choice(roles), home_grid=home, duty=[rng.choice(duties)]
        )
    settings = SiteFile.model_validate({"site": {"id": "bench", "name": "bench"}})
    escalation = EscalationFile.model_validate({"tiers": ["grid_leader"], "default": {"urgent": True}})
    return Site(Path("/bench"), settings, grids, workers, escalation, {}, {}, PatrolsFile())


@dataclass
class Fix:
    lon: float
    lat: float
    fixed_at: datetime


def live_state(ctx: GatewayContext, rng: random.Random) -> WorkerState:
    positions, workloads = {}, {}
    for w in ctx.site.workers.values():
        c = ctx.grids.get(w.home_grid).centroid  # type: ignore[union-attr]
        if rng.random() < 0.8:  # 20% have no fix or a stale one
            age = rng.uniform(0, 200)
            positions[w.id] = Fix(
                c.lon + rng.uniform(-0.001, 0.001),
                c.lat + rng.uniform(-0.001, 0.001),
                NOW - timedelta(seconds=age),
            )
        workloads[w.id] = rng.choice([0, 0, 0, 1, 2])
    return WorkerState(positions=positions, workloads=workloads)


def baseline_choose(ctx: GatewayContext, location: GeoPoint, grid_id: str, state: WorkerState) -> str | None:
    """The previous algorithm: scan every worker of the site for every decision."""
    tz = ctx.site.settings.site.tz
    ring_of = {g: i for i, ring in enumerate(ctx.grids.rings(grid_id, 2)) for g in ring}
    best, best_key = None, None
    for w in ctx.site.workers.values():
        ring = ring_of.get(w.home_grid)
        if ring is None or not any_active(w.duty, NOW, tz):
            continue
        fix = state.positions.get(w.id)
        if fix is not None and (NOW - fix.fixed_at).total_seconds() <= 300:
            lon, lat = fix.lon, fix.lat
        else:
            c = ctx.grids.get(w.home_grid).centroid  # type: ignore[union-attr]
            lon, lat = c.lon, c.lat
        key = (ring, ROLE_RANK[w.role], haversine_m(lon, lat, location.lon, location.lat))
        if best_key is None or key < best_key:
            best, best_key = w.id, key
    return best


def random_point(rng: random.Random) -> tuple[float, float]:
    return LON0 + rng.random() * SIDE * CELL, LAT0 + rng.random() * SIDE * CELL


def bench_decisions(ctx: GatewayContext, rng: random.Random, n: int) -> dict[str, object]:
    state = live_state(ctx, rng)
    cases = []
    for _ in range(n):
        lon, lat = random_point(rng)
        grid = ctx.grids.locate_xy(lon, lat)
        assert grid is not None
        cases.append((GeoPoint(lon=lon, lat=lat), grid.id))
    shortfalls = 0
    samples = []
    for location, grid_id in cases:
        started = time.perf_counter()
        decision = choose_worker(ctx, location, grid_id, NOW, state)
        samples.append(time.perf_counter() - started)
        shortfalls += decision.shortfall
    warm = []  # the same grids again: rings and nearby workers now come from the caches
    for location, grid_id in cases:
        started = time.perf_counter()
        choose_worker(ctx, location, grid_id, NOW, state)
        warm.append(time.perf_counter() - started)
    base = timed(lambda: baseline_choose(ctx, *cases[rng.randrange(len(cases))], state), max(20, n // 20))
    figures = quantiles_us(samples)
    return {
        **figures,
        "warm": quantiles_us(warm),
        "shortfall_share": round(shortfalls / n, 3),
        "baseline_full_scan_p50_us": quantiles_us(base)["p50_us"],
        "speedup_p50": round(quantiles_us(base)["p50_us"] / max(figures["p50_us"], 1e-9), 1),
    }


def bench_decisions_with_store(ctx: GatewayContext, rng: random.Random, n: int) -> dict[str, object]:
    """decide(): state of the nearby workers read from SQLite, then the choice (no offer written)."""
    from gateway.cases.models import Case
    from gateway.flows.dispatch import decide
    from gateway.schema.migrate import upgrade
    from gateway.store.db import make_engine, session_factory
    from gateway.workers.models import WorkerPosition

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{os.path.join(tmp, 'bench.db')}")
        upgrade(engine)
        sessions = session_factory(engine)
        state = live_state(ctx, rng)
        with sessions.begin() as s:
            for worker_id, fix in state.positions.items():
                s.add(
                    WorkerPosition(
                        worker_id=worker_id,
                        lon=fix.lon,
                        lat=fix.lat,
                        accuracy_m=8,
                        fixed_at=fix.fixed_at,
                        on_patrol=False,
                    )
                )
        samples = []
        with sessions() as s:
            for k in range(n):
                lon, lat = random_point(rng)
                grid = ctx.grids.locate_xy(lon, lat)
                case = Case(id=f"case-{k}", grid_id=grid.id, lon=lon, lat=lat, hazard_type="smoke_alarm")  # type: ignore[union-attr]
                started = time.perf_counter()
                decide(s, ctx, case, NOW)
                samples.append(time.perf_counter() - started)
        engine.dispose()
    return quantiles_us(samples)


def time_lookups(grids: GridIndex, points: list[tuple[float, float]]) -> tuple[float, float]:
    """Best seconds per lookup of the bucket grid and of the STRtree query it replaced, in
    interleaved rounds so both see the same machine load; first checks they agree."""
    for lon, lat in points[:1000]:  # the answers are the same (tests/gateway/test_grid_index.py)
        assert grids.locate_xy(lon, lat) is grids.locate_xy_tree(lon, lat)
    per, tree = [], []
    for _ in range(3):
        started = time.perf_counter()
        for lon, lat in points:
            grids.locate_xy(lon, lat)
        per.append((time.perf_counter() - started) / len(points))
        started = time.perf_counter()
        for lon, lat in points:
            grids.locate_xy_tree(lon, lat)
        tree.append((time.perf_counter() - started) / len(points))
    return min(per), min(tree)


def bench_lookup(ctx: GatewayContext, rng: random.Random, n: int) -> dict[str, object]:
    """Bucket lookup against the STRtree query it replaced and the plain scan (both same run)."""
    points = [random_point(rng) for _ in range(n)]
    grids = ctx.grids
    per, tree = time_lookups(grids, points)
    scan_n = 20
    started = time.perf_counter()
    for lon, lat in points[:scan_n]:
        ctx.site.grid_containing(GeoPoint(lon=lon, lat=lat))
    scan = (time.perf_counter() - started) / scan_n
    return {
        "mean_us": round(per * 1e6, 2),
        "baseline_strtree_us": round(tree * 1e6, 2),
        "speedup_vs_strtree": round(tree / per, 1),
        "baseline_scan_us": round(scan * 1e6, 1),
        "speedup": round(scan / per, 1),
    }


def irregular_grids(rng: random.Random) -> GridIndex:
    """The same town with every inner corner moved up to 35 % of a cell: borders at no angle."""
    corner = {
        (i, j): (
            LON0 + (i + (rng.uniform(-0.35, 0.35) if 0 < i < SIDE else 0)) * CELL,
            LAT0 + (j + (rng.uniform(-0.35, 0.35) if 0 < j < SIDE else 0)) * CELL,
        )
        for i in range(SIDE + 1)
        for j in range(SIDE + 1)
    }
    return GridIndex(
        GridArea(
            f"q-{i}-{j}",
            f"q-{i}-{j}",
            GridLevel.GRID,
            None,
            None,
            None,
            Polygon([corner[i, j], corner[i + 1, j], corner[i + 1, j + 1], corner[i, j + 1]]),
        )
        for i in range(SIDE)
        for j in range(SIDE)
    )


def bench_lookup_irregular(rng: random.Random, n: int) -> dict[str, object]:
    started = time.perf_counter()
    grids = irregular_grids(rng)
    build = time.perf_counter() - started
    points = [random_point(rng) for _ in range(n)]
    per, tree = time_lookups(grids, points)
    return {
        "mean_us": round(per * 1e6, 2),
        "baseline_strtree_us": round(tree * 1e6, 2),
        "speedup_vs_strtree": round(tree / per, 1),
        "index_build_s": round(build, 2),
    }


def bench_insertion(rng: random.Random, workers: int = 50, stops: int = 20) -> dict[str, object]:
    routes = []
    for _ in range(workers):
        cx, cy = random_point(rng)
        start = (cx, cy)
        route = [(cx + rng.uniform(-0.004, 0.004), cy + rng.uniform(-0.004, 0.004)) for _ in range(stops)]
        routes.append((start, route))
    news = [(s[0] + rng.uniform(-0.004, 0.004), s[1] + rng.uniform(-0.004, 0.004)) for s, _ in routes]
    per_route = []
    started_all = time.perf_counter()
    for (start, route), new in zip(routes, news, strict=True):
        started = time.perf_counter()
        cheapest_insertion(start, route, new)
        per_route.append(time.perf_counter() - started)
    all_50 = time.perf_counter() - started_all
    return {**quantiles_us(per_route), "all_50_routes_ms": round(all_50 * 1e3, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    args = parser.parse_args()
    n = 200 if args.quick else 2000
    rng = random.Random(6)
    out: dict[str, object] = {
        "bench": "dispatch",
        "grids": SIDE * SIDE,
        "calibration_ns": round(calibration_ns(), 1),
    }
    try:
        out["load_avg_1m"] = round(os.getloadavg()[0], 2)
        out["cpus"] = os.cpu_count()
    except OSError:
        pass
    decisions: dict[str, object] = {}
    ctx = None
    for workers in (100, 1000, 10000):
        site = make_site(workers, rng)
        started = time.perf_counter()
        ctx = GatewayContext(site)
        build = time.perf_counter() - started
        if workers == 100:
            out["index_build_s"] = round(build, 2)
        decisions[str(workers)] = bench_decisions(ctx, rng, n)
    out["decision"] = decisions
    assert ctx is not None
    out["decision_with_sqlite_10000"] = bench_decisions_with_store(ctx, rng, n // 4)
    out["point_to_grid"] = bench_lookup(ctx, rng, n * 10)
    out["point_to_grid_irregular"] = bench_lookup_irregular(rng, n * 10)
    out["patrol_insertion_50x20"] = bench_insertion(rng)
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
