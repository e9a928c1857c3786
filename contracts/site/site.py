"""The loaded site: what the gateway, the API and the edge read after a site directory checked clean."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from contracts.geo import GeoPoint
from contracts.site.analytics import AnalyticsFile
from contracts.site.models import (
    AccessFile,
    Camera,
    EdgeNodeConfig,
    EscalationFile,
    GridLevel,
    PatrolsFile,
    RosterContact,
    Sensor,
    SiteFile,
    Worker,
)


@dataclass(frozen=True)
class GridArea:
    """One polygon of the grid hierarchy, any level."""

    id: str
    name: str
    level: GridLevel
    parent: str | None
    leader: str | None
    households: int | None
    geometry: BaseGeometry
    guides: tuple[RosterContact, ...] = ()  # 网格指导员 on the roster card (一长三员)

    @cached_property
    def centroid(self) -> GeoPoint:
        c = self.geometry.centroid
        return GeoPoint(lon=c.x, lat=c.y)


@dataclass(frozen=True)
class Site:
    root: Path
    settings: SiteFile
    areas: dict[str, GridArea]
    workers: dict[str, Worker]
    escalation: EscalationFile
    nodes: dict[str, EdgeNodeConfig]
    _devices: dict[str, tuple[str, Camera | Sensor]] = field(default_factory=dict, repr=False)
    patrols: PatrolsFile = field(default_factory=PatrolsFile)
    access: AccessFile = field(default_factory=AccessFile)
    analytics: AnalyticsFile = field(default_factory=AnalyticsFile)

    @property
    def grids(self) -> list[GridArea]:
        """Areas at level 'grid' (the unit a full-time worker owns)."""
        return [a for a in self.areas.values() if a.level is GridLevel.GRID]

    def ancestor(self, area_id: str, level: GridLevel) -> GridArea | None:
        area = self.areas.get(area_id)
        while area is not None and area.level is not level:
            area = self.areas.get(area.parent) if area.parent else None
        return area

    def device(self, device_id: str) -> tuple[str, Camera | Sensor] | None:
        """(node id, camera or sensor) for a device id."""
        return self._devices.get(device_id)

    def grid_containing(self, point: GeoPoint) -> GridArea | None:
        """Plain scan; the gateway keeps an STRtree for the hot path."""
        p = Point(point.lon, point.lat)
        for grid in self.grids:
            if grid.geometry.covers(p):
                return grid
        return None
