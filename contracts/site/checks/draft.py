"""What the checks share: the site as read so far, and every problem found so far."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from shapely import STRtree
from shapely.geometry import Point

from contracts.geo import GeoPoint
from contracts.site.analytics import AnalyticsFile
from contracts.site.models import (
    AccessFile,
    Camera,
    EdgeNodeConfig,
    EscalationFile,
    GridLevel,
    PatrolsFile,
    Sensor,
    SiteFile,
    Worker,
    WorkersFile,
)
from contracts.site.problems import Problem, Severity, errors
from contracts.site.reading import SiteReader
from contracts.site.site import GridArea, Site


@dataclass
class SiteDraft:
    """A site being read. A part left ``None`` could not be read; checks that need it skip."""

    reader: SiteReader
    settings: SiteFile | None = None
    grids_read: bool = False  # grids.geojson was read (some features may still be broken)
    areas: dict[str, GridArea] = field(default_factory=dict)
    broken_areas: set[str] = field(default_factory=set)  # ids of features with their own problems
    nameless_broken: bool = False  # a feature with problems and no id: any id may be that one
    workers_file: WorkersFile | None = None
    workers: dict[str, Worker] = field(default_factory=dict)
    escalation: EscalationFile | None = None
    nodes: dict[str, EdgeNodeConfig] = field(default_factory=dict)
    devices: dict[str, tuple[str, Camera | Sensor]] = field(default_factory=dict)
    patrols: PatrolsFile | None = field(default_factory=PatrolsFile)
    access: AccessFile | None = field(default_factory=AccessFile)
    analytics: AnalyticsFile | None = field(default_factory=AnalyticsFile)

    @property
    def root(self) -> Path:
        return self.reader.root

    @property
    def problems(self) -> list[Problem]:
        return self.reader.problems

    def report(
        self, file: str, where: str, message: str, hint: str, severity: Severity = Severity.ERROR
    ) -> None:
        self.problems.append(Problem(file, where, message, hint, severity))

    # ------------------------------------------------------------ grids
    @property
    def grids(self) -> list[GridArea]:
        return [a for a in self.areas.values() if a.level is GridLevel.GRID]

    def area_missing(self, area_id: str) -> bool:
        """grids.geojson was read and declares no area ``area_id`` (not even a broken one)."""
        return (
            self.grids_read
            and not self.nameless_broken
            and area_id not in self.areas
            and area_id not in self.broken_areas
        )

    @property
    def grids_whole(self) -> bool:
        """Every feature of grids.geojson was read: a point outside them all is outside the site."""
        return self.grids_read and not self.broken_areas and not self.nameless_broken

    @cached_property
    def _grid_tree(self) -> tuple[STRtree, list[GridArea]]:
        grids = self.grids  # complete once grids.geojson is read: later checks only look up
        return STRtree([g.geometry for g in grids]), grids

    def grid_at(self, lon: float, lat: float) -> GridArea | None:
        tree, grids = self._grid_tree
        hits = tree.query(Point(lon, lat), predicate="covered_by")
        return grids[min(hits)] if len(hits) else None

    def locate(self, file: str, where: str, what: str, point: GeoPoint) -> None:
        """A device or checkpoint stands inside some grid (when the site has grids to stand in)."""
        if not self.grids_whole or not self.grids or self.grid_at(point.lon, point.lat) is not None:
            return
        at = f"{what} at ({point.lon:.6f}, {point.lat:.6f})"
        swapped = self.grid_at(point.lat, point.lon)
        if swapped is not None:
            self.report(
                file,
                where,
                f"{at} is outside every grid; with lon and lat swapped it is in grid {swapped.id!r}",
                f"swap the two: lon: {point.lat}, lat: {point.lon}",
            )
            return
        self.report(
            file, where, f"{at} is outside every grid", "check the coordinates (lon first) or draw the grid"
        )

    # ------------------------------------------------------------ workers
    @property
    def known_workers(self) -> dict[str, Worker] | None:
        """The workers, or None when workers.yaml could not be read (nothing to check names against)."""
        return self.workers if self.workers_file is not None else None

    def site(self) -> Site | None:
        """The loaded site, when every part was read and nothing is wrong (warnings aside)."""
        if (
            errors(self.problems)
            or self.settings is None
            or self.escalation is None
            or self.patrols is None
            or self.access is None
            or self.analytics is None
        ):
            return None
        return Site(
            self.root,
            self.settings,
            self.areas,
            self.workers,
            self.escalation,
            self.nodes,
            self.devices,
            self.patrols,
            self.access,
            self.analytics,
        )


Check = Callable[[SiteDraft], None]
