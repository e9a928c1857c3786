"""Where a person's (or a token's) reach ends: their areas, expanded to the grids under them.

A person is given areas of any level of the site's hierarchy (district, street,
community, grid). Everything the API shows is placed on a grid: a case by its
grid, a worker by their home grid, a device by where it stands, an edge node by
the grids of its devices. A street-level operator therefore sees all its
communities' grids. Whoever covers every top-level area covers the whole site,
including what lies outside every grid (a case with no grid, an unknown source).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from contracts.site import Site
from contracts.site.models import GridLevel

ASSIGNABLE = (GridLevel.DISTRICT, GridLevel.STREET, GridLevel.COMMUNITY, GridLevel.GRID)


@dataclass(frozen=True)
class Scope:
    """The grids someone covers; ``grids is None`` means the whole site."""

    areas: tuple[str, ...]
    grids: frozenset[str] | None

    @property
    def everywhere(self) -> bool:
        return self.grids is None

    def covers(self, grid_id: str | None) -> bool:
        return self.grids is None or (grid_id is not None and grid_id in self.grids)

    def covers_any(self, grid_ids: Iterable[str]) -> bool:
        return self.grids is None or not self.grids.isdisjoint(grid_ids)


EVERYWHERE = Scope(("*",), None)
NOWHERE = Scope((), frozenset())


class SiteAreas:
    """The site's hierarchy, and where each worker, device and node is."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self._children: dict[str, list[str]] = {}
        for area in site.areas.values():
            if area.parent:
                self._children.setdefault(area.parent, []).append(area.id)
        self.roots = frozenset(a.id for a in site.areas.values() if not a.parent)
        self._scopes: dict[tuple[str, ...], Scope] = {}

    def problem(self, area_id: str) -> str | None:
        """Why ``area_id`` cannot be given to someone, or None."""
        area = self.site.areas.get(area_id)
        if area is None:
            return f"no area {area_id!r} in grids.geojson"
        if area.level not in ASSIGNABLE:
            return f"{area_id!r} is a {area.level.value}; give its grid instead"
        return None

    def scope(self, areas: Iterable[str]) -> Scope:
        key = tuple(sorted(set(areas)))
        found = self._scopes.get(key)
        if found is None:
            found = self._scopes[key] = self._expand(key)
        return found

    def _expand(self, areas: tuple[str, ...]) -> Scope:
        if self.roots and self.roots <= set(areas):
            return Scope(areas, None)
        grids: set[str] = set()
        todo = [a for a in areas if a in self.site.areas]
        while todo:
            area_id = todo.pop()
            if self.site.areas[area_id].level is GridLevel.GRID:
                grids.add(area_id)
            todo.extend(self._children.get(area_id, ()))
        return Scope(areas, frozenset(grids))

    def area_of_grid(self, grid_id: str) -> list[str]:
        """The grid and every area above it, nearest first."""
        chain: list[str] = []
        area = self.site.areas.get(grid_id)
        while area is not None:
            chain.append(area.id)
            area = self.site.areas.get(area.parent) if area.parent else None
        return chain

    @cached_property
    def device_grids(self) -> dict[str, str]:
        """device id -> the grid it stands in (devices outside every grid are left out)."""
        out: dict[str, str] = {}
        for node in self.site.nodes.values():
            for device in (*node.cameras, *node.sensors):
                grid = self.site.grid_containing(device.location)
                if grid is not None:
                    out[device.id] = grid.id
        return out

    @cached_property
    def node_grids(self) -> dict[str, frozenset[str]]:
        """node id -> the grids of the node and of its devices."""
        out: dict[str, frozenset[str]] = {}
        for node_id, node in self.site.nodes.items():
            grids = {
                self.device_grids[d.id] for d in (*node.cameras, *node.sensors) if d.id in self.device_grids
            }
            own = self.site.grid_containing(node.node.location)
            if own is not None:
                grids.add(own.id)
            out[node_id] = frozenset(grids)
        return out

    def source_grids(self, source_id: str | None) -> frozenset[str]:
        """Grids a message source (node, device, worker) belongs to; empty when unknown."""
        if source_id is None:
            return frozenset()
        if source_id in self.node_grids:
            return self.node_grids[source_id]
        if source_id in self.device_grids:
            return frozenset((self.device_grids[source_id],))
        worker = self.site.workers.get(source_id)
        return frozenset((worker.home_grid,)) if worker else frozenset()
