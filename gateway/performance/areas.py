"""Where figures are grouped and whose they are: grid → community, worker → home grid, scope.

A caller's scope is the set of grids they cover (None: the whole site, including cases outside
every grid). Figures per community are over the grids of the scope only: a person who covers
two grids of a community sees those two grids' share of it, never the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import CTE, ColumnElement, true

from contracts.site import Site
from contracts.site.models import GridLevel
from gateway.performance.sql import mapping

Grids = frozenset[str] | None  # the grids a caller covers; None = the whole site


class By(StrEnum):
    GRID = "grid"
    COMMUNITY = "community"
    WORKER = "worker"
    HAZARD_TYPE = "hazard_type"
    ALL = "all"  # one line for the whole scope


@dataclass(frozen=True)
class SiteMap:
    """The site's grouping look-ups, made once per site."""

    site: Site

    def community_of(self, grid_id: str) -> str | None:
        area = self.site.ancestor(grid_id, GridLevel.COMMUNITY)
        return area.id if area is not None else None

    def grid_communities(self) -> CTE:
        return mapping("grid_community", ((g.id, self.community_of(g.id)) for g in self.site.grids))

    def worker_grids(self, workers: Iterable[str] | None = None) -> CTE:
        chosen = self.site.workers.values() if workers is None else (self.site.workers[w] for w in workers)
        return mapping("worker_grid", ((w.id, w.home_grid) for w in chosen))

    def workers_in(self, grids: Grids) -> list[str]:
        return [w.id for w in self.site.workers.values() if grids is None or w.home_grid in grids]

    def name(self, area_id: str | None) -> str:
        if area_id is None:
            return ""
        area = self.site.areas.get(area_id)
        if area is not None:
            return area.name
        worker = self.site.workers.get(area_id)
        return worker.name if worker is not None else area_id


def in_grids(col: Any, grids: Grids) -> ColumnElement[bool]:
    """``col`` (a grid id column) lies in the scope; everything when the scope is the whole site."""
    if grids is None:
        return true()
    return col.in_(sorted(grids))
