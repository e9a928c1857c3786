"""Workers indexed by home grid, so a dispatch decision looks only at nearby grids."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from contracts.site.models import Worker
from gateway.grids.index import GridIndex


@dataclass(frozen=True, slots=True)
class Nearby:
    ring: int  # 0 = the case's own grid
    worker: Worker
    duty_key: str  # the duty schedules as text: workers with the same key are on duty together


class WorkerRoster:
    def __init__(self, workers: Iterable[Worker], grids: GridIndex) -> None:
        self._grids = grids
        by_grid: dict[str, list[Worker]] = {}
        for worker in workers:
            by_grid.setdefault(worker.home_grid, []).append(worker)
        self._by_grid = {g: tuple(ws) for g, ws in by_grid.items()}
        self._duty_keys = {
            w.id: " | ".join(str(d) for d in w.duty) for ws in self._by_grid.values() for w in ws
        }

    def in_grid(self, grid_id: str) -> tuple[Worker, ...]:
        return self._by_grid.get(grid_id, ())

    def near(self, grid_id: str, max_rings: int) -> tuple[Nearby, ...]:
        """Workers whose home grid is the given grid or within ``max_rings`` rings of it, ring by ring."""
        return self._near(grid_id, max_rings)

    @lru_cache(maxsize=65536)  # noqa: B019 (one roster per site, kept for the process's life)
    def _near(self, grid_id: str, max_rings: int) -> tuple[Nearby, ...]:
        return tuple(
            Nearby(ring, worker, self._duty_keys[worker.id])
            for ring, grid_ids in enumerate(self._grids.rings(grid_id, max_rings))
            for g in grid_ids
            for worker in self._by_grid.get(g, ())
        )
