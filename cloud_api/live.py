"""Live push to the pages: one reader of the change log per API process, fanned out to every page.

The gateway (and the API's own actions) write a ``change_log`` row in the same transaction
as each change a person would notice (gateway/store/change_log.py). The hub reads that log
every ``interval`` seconds — once for all open pages, not once per browser — loads the
current state of each touched case in one query, and hands each subscriber the updates it
may see. A page that lost its connection comes back with the id of the last update it got
(SSE ``Last-Event-ID``) and receives everything after it; if it was away longer than the
hub remembers, the older part is read from the log; if even the log has been pruned past
it, the page is told to reload (``reset``).

Ids: an update carries the hub's watermark (the highest change id read when it was sent),
so ids a page sees only grow. On PostgreSQL a transaction that took a change id may commit
after a later one; the hub keeps such holes open for ``hole_grace_s`` and sends the late
change when it appears.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.broadcasts import queries as broadcast_queries
from gateway.broadcasts.models import Broadcast, BroadcastRecipient, Sighting
from gateway.cases.models import Case
from gateway.cases.schemas import CaseView
from gateway.dispatch.models import Task
from gateway.sla.queries import deadlines
from gateway.store import change_log
from gateway.store.change_log import Change

log = logging.getLogger(__name__)

LIVE_SUBSCRIBERS = Gauge("gridwatch_live_subscribers", "Pages connected to the live feed")
LIVE_UPDATES = Counter("gridwatch_live_updates_total", "Updates sent to pages", ["kind"])
LIVE_DROPPED = Counter(
    "gridwatch_live_slow_subscribers_total", "Pages that fell too far behind and were told to reload"
)


@dataclass(frozen=True)
class Update:
    """What changed about one case (or one broadcast), as a page receives it."""

    id: int  # the hub's watermark when sent: only grows
    case_id: str
    grid_id: str | None
    worker_ids: frozenset[str]  # workers whose task on the case changed; a broadcast's recipients
    body: str  # JSON, ready for the wire
    event: str = "case"  # the SSE event: case, or broadcast (协查通报: new, read, closed)
    grids: frozenset[str] = frozenset()  # a broadcast's grids
    sender: str = ""  # a broadcast's sender (who sees its receipts, whatever their areas)

    def sse(self) -> str:
        return f"id: {self.id}\nevent: {self.event}\ndata: {self.body}\n\n"


_REPLAY_MARGIN = 500

# Decides whether a subscriber may see an update (the person's areas, or their own tasks).
Visible = Callable[[Update], bool]


def everyone(_update: Update) -> bool:
    return True


# A page further behind than this many updates is told to reload.
_MAX_PENDING = 2000


@dataclass(eq=False)  # compared by identity: kept in a set
class _Subscriber:
    visible: Visible
    # One item per read of the log: the SSE text of all its updates this page may see, so a
    # page costs one write per read, not one per update (50 consoles × 200 changes/s were
    # 10,000 socket writes a second). None: reload.
    queue: asyncio.Queue[tuple[str, int] | None] = field(default_factory=asyncio.Queue)
    pending: int = 0  # updates queued and not yet written


def build_updates(session: Session, changes: list[Change], watermark: int) -> list[Update]:
    """One update per touched case, carrying the case as it is now and what changed about it."""
    by_case: dict[str, list[Change]] = {}
    broadcasts: dict[str, None] = {}
    for change in changes:
        if change.case_id:
            by_case.setdefault(change.case_id, []).append(change)
        if change.entity in ("broadcast", "bc_receipt", "sighting"):  # a sighting: its case and its broadcast
            broadcasts[change.entity_id] = None
    updates = _broadcast_updates(session, changes, watermark) if broadcasts else []
    if not by_case:
        return updates
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(by_case)))}
    task_ids = [c.entity_id for cs in by_case.values() for c in cs if c.entity == "task"]
    tasks = {t.id: t for t in session.scalars(select(Task).where(Task.id.in_(task_ids)))} if task_ids else {}
    pressing = deadlines(session, list(cases))  # the console's SLA column: what each case waits for
    for case_id, case_changes in by_case.items():
        case = cases.get(case_id)
        if case is None:
            continue
        changed_tasks = [tasks[c.entity_id] for c in case_changes if c.entity_id in tasks]
        body = {
            "cursor": watermark,
            "case": CaseView.model_validate(case).model_dump(mode="json"),
            "changed": sorted({c.entity for c in case_changes}),
            "created": any(c.entity == "case" and c.kind == "created" for c in case_changes),
            "tasks": [{"id": t.id, "worker_id": t.worker_id, "status": t.status} for t in changed_tasks],
            "deadline": pressing[case_id].model_dump(mode="json") if case_id in pressing else None,
        }
        updates.append(
            Update(
                id=watermark,
                case_id=case_id,
                grid_id=case.grid_id,
                worker_ids=frozenset(t.worker_id for t in changed_tasks),
                body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
            )
        )
    return updates


def _broadcast_updates(session: Session, changes: list[Change], watermark: int) -> list[Update]:
    """One update per touched broadcast: its state, how many read it, who (for the sender)."""
    ids: dict[str, None] = {c.entity_id: None for c in changes if c.entity == "broadcast"}
    receipt_ids = [int(c.entity_id) for c in changes if c.entity == "bc_receipt" and c.entity_id.isdigit()]
    if receipt_ids:
        for row in session.scalars(select(BroadcastRecipient).where(BroadcastRecipient.id.in_(receipt_ids))):
            ids[row.broadcast_id] = None
    sighting_ids = [c.entity_id for c in changes if c.entity == "sighting"]
    if sighting_ids:
        for sighting in session.scalars(select(Sighting).where(Sighting.id.in_(sighting_ids))):
            ids[sighting.broadcast_id] = None
    if not ids:
        return []
    found = {b.id: b for b in session.scalars(select(Broadcast).where(Broadcast.id.in_(list(ids))))}
    rows = broadcast_queries.receipts(session, list(found))
    updates = []
    for broadcast_id in ids:
        b = found.get(broadcast_id)
        if b is None:
            continue
        receipts = rows[b.id]
        body = {
            "cursor": watermark,
            "broadcast": {
                "id": b.id,
                "title": b.title,
                "closed_at": b.closed_at.isoformat() if b.closed_at else None,
                "close_note": b.close_note,
                "recipients": len(receipts),
                "read": sum(1 for r in receipts if r.read_at is not None),
            },
        }
        updates.append(
            Update(
                id=watermark,
                case_id="",
                grid_id=None,
                worker_ids=frozenset(r.worker_id for r in receipts),
                body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                event="broadcast",
                grids=frozenset(b.grids),
                sender=b.sender,
            )
        )
    return updates


class LiveHub:
    def __init__(
        self,
        read_sessions: sessionmaker[Session],
        interval: float = 0.2,
        remember: int = 5000,
        hole_grace_s: float = 10.0,
        batch: int = 2000,
    ) -> None:
        self._sessions = read_sessions
        self.interval = interval
        self._batch = batch
        self._hole_grace_s = hole_grace_s
        self._subscribers: set[_Subscriber] = set()
        self._recent: deque[Update] = deque(maxlen=remember)
        self._holes: dict[int, float] = {}  # change id not yet seen -> monotonic time first missed
        self.watermark = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # --- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        self.watermark = await asyncio.to_thread(self._newest)
        self._task = asyncio.create_task(self._run(), name="live-hub")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for sub in list(self._subscribers):
            sub.queue.put_nowait(None)

    def poke(self) -> None:
        """Read the log now (an action of this process just committed)."""
        self._wake.set()

    def _newest(self) -> int:
        with self._sessions() as s:
            return change_log.newest_id(s)

    async def _run(self) -> None:
        while True:
            try:
                updates = await asyncio.to_thread(self._read)
            except Exception:  # a database hiccup must not end live updates for everyone
                log.exception("live feed: reading the change log failed; retrying")
                updates = []
            if updates:
                self._recent.extend(updates)
                LIVE_UPDATES.labels("live").inc(len(updates))
                self._fan_out(updates)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

    def _read(self) -> list[Update]:
        with self._sessions() as s:
            changes = change_log.changes_after(s, self.watermark, self._batch)
            late: list[Change] = []
            if self._holes:
                late = list(s.scalars(select(Change).where(Change.id.in_(list(self._holes)))))
            self._track_holes(changes, late)
            if changes:
                self.watermark = changes[-1].id
            return build_updates(s, late + changes, self.watermark)

    def _track_holes(self, changes: list[Change], late: list[Change]) -> None:
        now = time.monotonic()
        for change in late:
            self._holes.pop(change.id, None)
        expected = self.watermark + 1
        for change in changes:
            for missing in range(expected, change.id):  # taken by a transaction still open
                self._holes[missing] = now
            expected = change.id + 1
        for hole, since in list(self._holes.items()):
            if now - since > self._hole_grace_s:  # rolled back: that id will never appear
                del self._holes[hole]

    def _fan_out(self, updates: list[Update]) -> None:
        everything = "".join(u.sse() for u in updates)  # what most pages (the centre's) get
        for sub in list(self._subscribers):
            seen = [u for u in updates if sub.visible(u)]
            if not seen:
                continue
            if sub.pending + len(seen) > _MAX_PENDING:  # a page that stopped reading: tell it to reload
                LIVE_DROPPED.inc()
                self._subscribers.discard(sub)
                sub.queue = asyncio.Queue()
                sub.queue.put_nowait(None)
                continue
            sub.pending += len(seen)
            text = everything if len(seen) == len(updates) else "".join(u.sse() for u in seen)
            sub.queue.put_nowait((text, len(seen)))

    # --- subscribers ---------------------------------------------------------------
    async def stream(self, since: int | None, visible: Visible = everyone) -> AsyncIterator[str]:
        """The SSE text for one page: catch-up after ``since``, then live, with keep-alives."""
        sub = _Subscriber(visible)
        live_from = self.watermark  # everything after this arrives through the queue
        self._subscribers.add(sub)
        LIVE_SUBSCRIBERS.inc()
        try:
            yield "retry: 2000\n\n"
            # The hello's id is where a reconnecting browser resumes (Last-Event-ID): the page's own
            # cursor while its backlog is still to come, else this moment — a page that saw no
            # update before its connection dropped still misses nothing.
            resume = since if since is not None and since < live_from else live_from
            yield f"id: {resume}\nevent: hello\ndata: {json.dumps({'cursor': live_from})}\n\n"
            if since is not None and since < live_from:
                backlog = await self._backlog(since, live_from)
                if backlog is None:
                    yield f"id: {live_from}\nevent: reset\ndata: {{}}\n\n"
                else:
                    for update in backlog:
                        if visible(update):
                            LIVE_UPDATES.labels("catch_up").inc()
                            yield update.sse()
            while True:
                try:
                    item = await asyncio.wait_for(sub.queue.get(), 15)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if item is None:
                    yield "event: reset\ndata: {}\n\n"
                    return
                text, count = item
                sub.pending -= count
                yield text
        finally:
            self._subscribers.discard(sub)
            LIVE_SUBSCRIBERS.dec()

    async def _backlog(self, since: int, until: int) -> list[Update] | None:
        # A page's last id may name a batch it got only part of: replay from that batch
        # on (a page applies an update twice harmlessly, it replaces the case).
        if self._recent and self._recent[0].id < since:
            return [u for u in self._recent if since <= u.id <= until]
        return await asyncio.to_thread(self._backlog_from_log, since, until)

    def _backlog_from_log(self, since: int, until: int) -> list[Update] | None:
        with self._sessions() as s:
            oldest = change_log.oldest_id(s)
            if oldest and oldest > since + 1:
                return None  # pruned past it: the page must reload
            changes: list[Change] = []
            cursor = max(0, since - _REPLAY_MARGIN)  # the batch it got part of, and PostgreSQL holes
            while cursor < until:
                chunk = [c for c in change_log.changes_after(s, cursor, self._batch) if c.id <= until]
                if not chunk:
                    break
                changes.extend(chunk)
                cursor = chunk[-1].id
            return build_updates(s, changes, until)


def parse_since(header: str | None, query: int | None) -> int | None:
    """Last-Event-ID (what the browser sends on reconnect) wins over ``?since=``."""
    if header and header.strip().isdigit() and len(header.strip()) < 19:
        return int(header.strip())
    return query


def sse_headers() -> dict[str, Any]:
    # No proxy buffering (nginx), no caching: each update must leave at once.
    return {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
