"""Hand-built sites where the right dispatch answer is obvious.

A row of square grids, each 0.01° (~950 m east-west, ~1.1 km north-south at 31.5° N),
side by side along the equator of longitude 120.00 … 120.0N:

    g-0 | g-1 | g-2 | g-3 | ...      (all in community c-1, street s-1, district d-1)

Ring 1 of g-0 is g-1, ring 2 is g-2, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shapely.geometry import box

from contracts.site import GridArea, Site
from contracts.site.models import (
    DispatchSettings,
    EscalationFile,
    GridLevel,
    PatrolsFile,
    SiteFile,
    WorkersFile,
)

LAT0 = 31.50
SIZE = 0.01
# Wednesday 2026-11-18 10:00 in Shanghai
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


def grid_id(i: int) -> str:
    return f"g-{i}"


def centre_of(i: int) -> tuple[float, float]:
    return 120.0 + SIZE * i + SIZE / 2, LAT0 + SIZE / 2


def point_in(i: int, dx: float = 0.5, dy: float = 0.5) -> tuple[float, float]:
    """A point in grid i, at fractions (dx, dy) of its width and height from the south-west corner."""
    return 120.0 + SIZE * (i + dx), LAT0 + SIZE * dy


@dataclass
class HandmadeSite:
    n_grids: int = 4
    workers: list[dict[str, Any]] = field(default_factory=list)
    dispatch: dict[str, Any] = field(default_factory=dict)
    escalation: dict[str, Any] = field(default_factory=dict)
    leaders: dict[int, str] = field(default_factory=dict)

    def worker(
        self, worker_id: str, grid: int, role: str = "full_time", duty: str = "always"
    ) -> HandmadeSite:
        self.workers.append(
            {"id": worker_id, "name": worker_id, "role": role, "home_grid": grid_id(grid), "duty": [duty]}
        )
        return self

    def build(self) -> Site:
        areas: dict[str, GridArea] = {
            "d-1": GridArea("d-1", "District", GridLevel.DISTRICT, None, None, None, box(119, 30, 121, 33)),
            "s-1": GridArea("s-1", "Street", GridLevel.STREET, "d-1", None, None, box(119.5, 31, 120.5, 32)),
            "c-1": GridArea(
                "c-1", "Community", GridLevel.COMMUNITY, "s-1", None, None, box(119.9, 31.4, 120.4, 31.6)
            ),
        }
        for i in range(self.n_grids):
            x0 = 120.0 + SIZE * i
            areas[grid_id(i)] = GridArea(
                grid_id(i),
                f"Grid {i}",
                GridLevel.GRID,
                "c-1",
                self.leaders.get(i),
                300,
                box(x0, LAT0, x0 + SIZE, LAT0 + SIZE),
            )
        workers = (
            {w.id: w for w in WorkersFile.model_validate({"workers": self.workers}).workers}
            if self.workers
            else {}
        )
        settings = SiteFile.model_validate(
            {
                "site": {"id": "handmade", "name": "Handmade"},
                "dispatch": DispatchSettings(**self.dispatch).model_dump(),
            }
        )
        escalation = EscalationFile.model_validate(
            {
                "tiers": ["grid_leader", "community", "street_centre", "department"],
                "default": {"urgent": True},
                **self.escalation,
            }
        )
        return Site(Path("/nonexistent"), settings, areas, workers, escalation, {}, {}, PatrolsFile())
