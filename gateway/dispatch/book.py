"""Workers' live state for the decisions of one transaction, read once.

A batch that opens many cases (a burst) would read the nearby workers' fixes,
workloads, recent declines and availability three queries per case, each one
flushing what the batch wrote so far. A :class:`WorkerBook` reads them for all
the workers near all the batch's new cases in one round of queries, then keeps
them current in memory as the batch offers tasks (:meth:`offered`), so every
decision sees what the store would show at that point of the transaction. The
store stays the authority: the book lives for one transaction, and its driver
drops it (:meth:`clear`) whenever the transaction changes worker state another
way (a location fix, a worker's task update); the next decision reads again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from gateway.context import GatewayContext
from gateway.dispatch import queries as task_queries
from gateway.dispatch.choice import WorkerState
from gateway.people import queries as people_queries
from gateway.workers import queries as worker_queries

_CHUNK = 500  # worker ids per IN list


class WorkerBook:
    def __init__(self, session: Session, ctx: GatewayContext, now: datetime) -> None:
        self.session = session
        self.ctx = ctx
        self.now = now
        self.reads = 0  # rounds of queries, for tests and logs
        self._wanted: set[str] = set()  # everyone preloaded: read again together after a clear
        self.clear()

    def clear(self) -> None:
        """Forget everything: the transaction changed worker state behind the book's back."""
        self._loaded: set[str] = set()
        self._positions: dict[str, object] = {}
        self._workloads: dict[str, int] = {}
        self._unavailable: dict[str, str] = {}
        self._cooling: set[str] = set()

    def forget(self, worker_id: str) -> None:
        """This worker's state changed another way (their location fix): read it again."""
        self._loaded.discard(worker_id)
        for held in (self._positions, self._workloads, self._unavailable):
            held.pop(worker_id, None)
        self._cooling.discard(worker_id)

    def near(self, grid_id: str) -> list[str]:
        settings = self.ctx.site.settings.dispatch
        return list(dict.fromkeys(n.worker.id for n in self.ctx.roster.near(grid_id, settings.max_rings)))

    def preload(self, grid_ids: Iterable[str]) -> None:
        """Read the state of every worker a decision in these grids can consider, in one round."""
        ids: dict[str, None] = {}
        for grid_id in dict.fromkeys(grid_ids):
            ids.update(dict.fromkeys(self.near(grid_id)))
        self._wanted.update(ids)
        self._load([w for w in ids if w not in self._loaded])

    def state(self, worker_ids: list[str]) -> WorkerState:
        """The state of these workers (read now if the book does not hold them yet)."""
        missing = [w for w in worker_ids if w not in self._loaded]
        if missing:  # with everyone else preloaded and dropped since: one round, not one per case
            self._load(list(dict.fromkeys([*missing, *(w for w in self._wanted if w not in self._loaded)])))
        settings = self.ctx.site.settings.dispatch
        return WorkerState(
            positions=self._positions,  # type: ignore[arg-type]
            workloads=self._workloads,
            unavailable=self._unavailable,
            cooling_down=frozenset(self._cooling) if settings.decline_cooldown_s else frozenset(),
        )

    def offered(self, worker_id: str) -> None:
        """The transaction offered this worker a task: one more active task."""
        if worker_id in self._loaded:
            self._workloads[worker_id] = self._workloads.get(worker_id, 0) + 1

    def _load(self, ids: list[str]) -> None:
        if not ids:
            return
        self.reads += 1
        settings = self.ctx.site.settings.dispatch
        since = self.now - timedelta(seconds=settings.decline_cooldown_s)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            load = task_queries.task_load(self.session, chunk, since, None)
            self._workloads.update(load.active)
            self._cooling.update(load.declined_recently)
            self._positions.update(worker_queries.latest_fixes(self.session, chunk))
            self._unavailable.update(worker_queries.unavailable(self.session, self.now, chunk))
            self._unavailable.update(people_queries.disabled_workers(self.session, chunk))
        self._loaded.update(ids)
