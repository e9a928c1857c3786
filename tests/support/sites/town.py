"""A synthetic town for bursts of new cases: square grids, about one worker per grid, one smoke
detector per place, places far enough apart that each event opens its own case.

Shared by tests/gateway/test_case_burst.py and bench/case_burst.py (the same town, the same
answers). Deterministic for a given seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from shapely.geometry import box
from sqlalchemy.orm import Session

from contracts import HazardEvent, encode, topics
from contracts.site import GridArea, Site
from contracts.site.models import (
    EdgeNodeConfig,
    EscalationFile,
    GridLevel,
    PatrolsFile,
    SiteFile,
    WorkerRole,
)
from contracts.site.models import Worker as WorkerModel
from gateway.flows.ingest import Incoming
from gateway.workers.models import WorkerAvailability, WorkerPosition

CELL = 0.002  # degrees: ~190 m x 220 m at 31° N
LON0, LAT0 = 120.0, 31.0
NODE = "node-burst"


@dataclass(frozen=True)
class Town:
    site: Site
    places: list[tuple[str, float, float, str]]  # (device id, lon, lat, hazard type), one case each


def make_town(places: int, seed: int = 19, workers_per_grid: float = 0.4, max_open_tasks: int = 1) -> Town:
    """A square town with ``places`` detectors at the centres of every other grid (~400 m apart:
    beyond the 250 m correlation radius, so each opens a case). Fewer workers than grids and a
    low ``max_open_tasks`` make a burst meet busy workers and shortfalls, not only easy choices."""
    rng = random.Random(seed)
    per_side = 1
    while per_side * per_side < places:
        per_side += 1
    side = 2 * per_side
    grids = {}
    for i in range(side):
        for j in range(side):
            gid = f"g-{i:03d}-{j:03d}"
            cell = box(LON0 + i * CELL, LAT0 + j * CELL, LON0 + (i + 1) * CELL, LAT0 + (j + 1) * CELL)
            grids[gid] = GridArea(gid, gid, GridLevel.GRID, None, None, None, cell)
    roles = [WorkerRole.FULL_TIME] * 7 + [WorkerRole.PART_TIME] * 2 + [WorkerRole.GRID_LEADER]
    duties = ["always", "always", "always", "daily 08:00-20:00", "daily 20:00-08:00"]
    workers = {}
    for k in range(round(side * side * workers_per_grid)):
        home = f"g-{rng.randrange(side):03d}-{rng.randrange(side):03d}"
        workers[f"w-{k:05d}"] = WorkerModel(
            id=f"w-{k:05d}", name=f"w{k}", role=rng.choice(roles), home_grid=home, duty=[rng.choice(duties)]
        )
    spots = []
    for n in range(places):
        i, j = 2 * (n % per_side), 2 * (n // per_side)
        lon, lat = LON0 + (i + 0.5) * CELL, LAT0 + (j + 0.5) * CELL
        if n % 50 == 49:  # a camera seeing the smoke the detector before it reports: corroboration
            prev = spots[-1]
            spots.append((f"cam-{n:05d}", prev[1] + 0.0002, prev[2], "fire_smoke"))
        else:
            spots.append((f"smk-{n:05d}", lon, lat, "smoke_alarm"))
    node = EdgeNodeConfig.model_validate(
        {
            "node": {"id": NODE, "name": "burst", "location": {"lon": LON0, "lat": LAT0}},
            "sensors": [
                {
                    "id": device,
                    "kind": "smoke",
                    "location": {"lon": lon, "lat": lat},
                    "source": {"protocol": "zigbee2mqtt", "friendly_name": device},
                }
                for device, lon, lat, _hazard in spots
            ],
        }
    )
    settings = SiteFile.model_validate(
        {"site": {"id": "burst", "name": "burst"}, "dispatch": {"max_open_tasks": max_open_tasks}}
    )
    escalation = EscalationFile.model_validate(
        {
            "tiers": ["grid_leader", "street_centre"],
            "default": {"urgent": True, "sla": {"centre_accept": 300, "worker_accept": 60, "on_site": 300}},
            "street_centre": {"name": "street centre", "phone": "0510-80000000"},
        }
    )
    devices = {s.id: (NODE, s) for s in node.sensors}
    site = Site(
        Path("/burst-town"), settings, grids, workers, escalation, {NODE: node}, devices, PatrolsFile()
    )
    return Town(site, spots)


def seed_workers(session: Session, town: Town, now: datetime, seed: int = 19) -> None:
    """Live state: 80 % have a fix (some stale), 5 % are marked unavailable."""
    rng = random.Random(seed + 1)
    for worker in town.site.workers.values():
        home = town.site.areas[worker.home_grid].geometry.centroid
        if rng.random() < 0.8:
            session.add(
                WorkerPosition(
                    worker_id=worker.id,
                    lon=home.x + rng.uniform(-CELL, CELL),
                    lat=home.y + rng.uniform(-CELL, CELL),
                    accuracy_m=8,
                    fixed_at=now - timedelta(seconds=rng.uniform(0, 400)),
                    on_patrol=False,
                )
            )
        if rng.random() < 0.05:
            session.add(
                WorkerAvailability(worker_id=worker.id, available=False, reason="sick leave", updated_at=now)
            )


def alarms(town: Town, ts: datetime) -> list[Incoming]:
    """One new critical smoke alarm per place, in place order, as the gateway receives them."""
    out = []
    for seq, (device, _lon, _lat, hazard) in enumerate(town.places, start=1):
        event = HazardEvent(
            source=NODE,
            seq=seq,
            ts=ts,
            hazard_type=hazard,
            severity="critical",
            confidence=0.9,
            state="new",
            episode_id=f"ep-{device}",
            device_id=device,
        )
        out.append(Incoming(topics.node_event(NODE), encode(event)))
    return out
