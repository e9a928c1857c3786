"""The outbox's disk queue: SQLite in WAL mode, one row per message not yet acknowledged.

Why each choice:

- ``pos`` (the rowid) is the publish order. Positions come from a counter that
  is persisted before rows are deleted, so a position is never reused, even
  after the queue empties or the process restarts: a drain cursor
  (``pos > cursor``) can never skip a new row.
- ``synchronous=NORMAL`` makes every commit survive the process being killed
  (the WAL is in the OS cache); hazard events are additionally committed with
  ``synchronous=FULL`` (an fsync) so they also survive a power cut, which is
  when gas leaks and fires happen. Telemetry does not pay for that.
- ``locking_mode=EXCLUSIVE``: one node process owns its outbox. A second
  process opening the same file fails at once instead of interleaving sequence
  numbers, and commits skip the shared-memory lock dance.
- The per-source sequence is assigned here, under the store's lock, in the same
  transaction as the insert, so sequence order is exactly queue order.
- No secondary index: a common insert is one single-statement transaction
  (this is what bounds throughput). Eviction candidates are kept in memory,
  per priority, oldest first (rebuilt from one scan at start-up).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from contracts import Envelope, encode
from contracts.clock import Clock, SystemClock
from edge.emit import Priority

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    pos        INTEGER PRIMARY KEY,
    msg_id     TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    topic      TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    priority   INTEGER NOT NULL,
    retain     INTEGER NOT NULL,
    created_at REAL    NOT NULL
);
-- 'pos' and 'seq:<source>': the last numbers handed out, saved before rows that carry them go.
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Small state the rest of the node keeps here, because one process owns this file and a
-- SIGKILL must not lose it: the alarm episodes in force ('episodes:<sensor id>').
CREATE TABLE IF NOT EXISTS node_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Messages the broker refused for good (not authorised, bad topic): kept for an operator.
CREATE TABLE IF NOT EXISTS refused (
    pos        INTEGER PRIMARY KEY,
    msg_id     TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    reason     TEXT    NOT NULL,
    refused_at REAL    NOT NULL
);
"""
_INSERT = (
    "INSERT INTO messages (pos, msg_id, source, seq, topic, payload, priority, retain, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SAVE_COUNTER = (
    "INSERT INTO counters (name, value) VALUES (?, ?)"
    " ON CONFLICT (name) DO UPDATE SET value = MAX(value, excluded.value)"
)
_EVICT = "DELETE FROM messages WHERE pos = ? RETURNING seq"
EVICTABLE = tuple(p for p in Priority if p < Priority.EVENT)
DROPPED_RUNS = 32  # recent runs of sequence numbers the outbox dropped itself, kept for health


def numbered_payload(message: Envelope, seq: int) -> bytes:
    """``encode(message)`` with ``seq`` as its sequence number, without copying the model.

    The envelope's first fields are always ``id`` (a UUID), ``source`` (an id: no
    characters JSON escapes) and ``seq``, so the number is spliced into the encoded
    bytes; a copy through pydantic cost as much as the encoding itself. Should the
    field order ever differ, the message is copied and encoded the slow way.
    """
    payload = encode(message)
    prefix = b'{"id":"%s","source":"%s","seq":' % (message.id.encode(), message.source.encode())
    if payload.startswith(prefix):
        end = payload.find(b",", len(prefix))
        if end > 0:
            return b"%s%d%s" % (prefix, seq, payload[end:])
    return encode(message.model_copy(update={"seq": seq}))


def _runs(positions: list[int]) -> list[tuple[int, int]]:
    """Sorted positions as (first, last) runs of consecutive numbers."""
    runs: list[tuple[int, int]] = []
    start = prev = positions[0]
    for p in positions[1:]:
        if p != prev + 1:
            runs.append((start, prev))
            start = p
        prev = p
    runs.append((start, prev))
    return runs


_COLUMNS = "pos, topic, payload, retain, priority, seq, created_at"


def _queued(r: tuple) -> QueuedMessage:  # type: ignore[type-arg]
    return QueuedMessage(r[0], r[1], r[2], bool(r[3]), Priority(r[4]), r[5], r[6])


class OutboxError(RuntimeError):
    """The outbox cannot be opened or written."""


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    pos: int
    topic: str
    payload: bytes
    retain: bool
    priority: Priority
    seq: int = 0
    created_at: float = 0.0  # unix seconds (the store's clock)


@dataclass(frozen=True, slots=True)
class Appended:
    """What :meth:`OutboxStore.append` did."""

    seq: int  # the sequence number the message was given
    row: QueuedMessage | None  # None: the message itself was dropped (nothing cheaper to evict)
    evicted: Priority | None  # priority of the row dropped to make room, if any


@dataclass(frozen=True, slots=True)
class StoreStats:
    depth: int
    oldest_created_at: float | None  # unix seconds


class OutboxStore:
    """Thread-safe; one connection guarded by one lock (every statement is short)."""

    def __init__(
        self,
        path: Path,
        capacity: int,
        clock: Clock | None = None,
        fsync_events: bool = True,
    ) -> None:
        if capacity < 1:
            raise ValueError("outbox capacity must be at least 1")
        self.path = path
        self.capacity = capacity
        self.fsync_events = fsync_events
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0.5)
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._check_version()
            self._load_counters()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise OutboxError(
                    f"outbox {path} is in use by another process; run one edge node per state directory"
                ) from None
            raise OutboxError(f"cannot open outbox {path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise OutboxError(
                f"outbox {path} is not a readable SQLite database ({exc}); move it aside to start empty"
            ) from None
        if mode.lower() != "wal":
            raise OutboxError(f"outbox {path}: the file system refused WAL mode (got {mode!r})")
        self.evicted_total = 0  # rows evicted to make room (since start)
        self.dropped_total = 0  # new messages dropped because nothing cheaper could go
        # Sequence numbers given out but never sent (evicted or dropped), as recent [first, last]
        # runs: the node's health tells the gateway, which then places such a gap at the source.
        self.dropped_seqs: deque[list[int]] = deque(maxlen=DROPPED_RUNS)

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif int(row[0]) != SCHEMA_VERSION:
            raise OutboxError(
                f"outbox {self.path} has schema version {row[0]}; this build reads {SCHEMA_VERSION}"
            )

    def _load_counters(self) -> None:
        saved = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
        last_pos = self._db.execute("SELECT MAX(pos) FROM messages").fetchone()[0] or 0
        self._pos = max(int(saved.get("pos", 0)), int(last_pos))
        self._seq: dict[str, int] = {
            name.removeprefix("seq:"): int(value) for name, value in saved.items() if name.startswith("seq:")
        }
        for source, top in self._db.execute("SELECT source, MAX(seq) FROM messages GROUP BY source"):
            self._seq[source] = max(self._seq.get(source, 0), int(top))
        self._evictable: dict[Priority, deque[int]] = {p: deque() for p in EVICTABLE}
        depth = 0
        for pos, priority in self._db.execute("SELECT pos, priority FROM messages ORDER BY pos"):
            depth += 1
            if priority < Priority.EVENT:
                self._evictable[Priority(priority)].append(pos)
        self._depth = depth

    def _save_counters(self) -> None:
        """Persist the last numbers handed out; called before rows that carry them are deleted.

        In-memory counters only hold committed (or deliberately consumed) numbers.
        """
        self._db.executemany(
            _SAVE_COUNTER, [("pos", self._pos), *((f"seq:{s}", v) for s, v in self._seq.items())]
        )

    # -- writing -----------------------------------------------------------------
    def append(self, topic: str, message: Envelope, priority: Priority, retain: bool = False) -> Appended:
        """Number the message for its source and queue it durably.

        When the queue is full the oldest row of the lowest priority at or below
        ``priority`` (never an event) is evicted; a message with nothing cheaper
        to evict is itself dropped (its sequence number is still consumed, so the
        gateway sees the gap). Events are never evicted nor dropped: with only
        events left they are queued past capacity, and health warns.
        """
        with self._lock:
            seq = self._seq.get(message.source, 0) + 1
            victim: tuple[int, Priority] | None = None
            if self._depth >= self.capacity:
                victim = self._pick_victim(priority)
                if victim is None and priority < Priority.EVENT:
                    self._seq[message.source] = seq
                    self._write(lambda: self._save_counters(), "record a dropped message")
                    self.dropped_total += 1
                    self._note_dropped(seq)
                    return Appended(seq, None, priority)
            pos = self._pos + 1
            payload = numbered_payload(message, seq)
            row = (
                pos,
                message.id,
                message.source,
                seq,
                topic,
                payload,
                int(priority),
                int(retain),
                self._clock.now().timestamp(),
            )
            sync_full = self.fsync_events and priority >= Priority.EVENT
            if sync_full:
                self._db.execute("PRAGMA synchronous=FULL")
            try:
                if victim is None:  # the common case, inline: no closure, no message text unless it fails
                    try:
                        self._db.execute(_INSERT, row)
                    except sqlite3.Error as exc:
                        raise OutboxError(f"cannot queue {message.kind} on {topic}: {exc}") from exc
                else:
                    evicted_seq: list[int] = []

                    def evict_and_insert() -> None:
                        self._save_counters()
                        gone = self._db.execute(_EVICT, (victim[0],)).fetchall()
                        evicted_seq.extend(r[0] for r in gone)
                        self._db.execute(_INSERT, row)

                    self._write(evict_and_insert, f"queue {message.kind} on {topic}", transaction=True)
            except BaseException:
                if victim is not None:
                    self._evictable[victim[1]].appendleft(victim[0])
                raise
            finally:
                if sync_full:
                    self._db.execute("PRAGMA synchronous=NORMAL")
            self._pos = pos
            self._seq[message.source] = seq
            if priority < Priority.EVENT:
                self._evictable[priority].append(pos)
            if victim is None:
                self._depth += 1
            else:
                self.evicted_total += 1
                for gone in evicted_seq:
                    self._note_dropped(gone)
            queued = QueuedMessage(pos, topic, payload, retain, priority, seq, row[8])
            return Appended(seq, queued, victim[1] if victim else None)

    def _note_dropped(self, seq: int) -> None:
        runs = self.dropped_seqs
        if runs and runs[-1][1] + 1 == seq:
            runs[-1][1] = seq
        else:
            runs.append([seq, seq])

    def _pick_victim(self, priority: Priority) -> tuple[int, Priority] | None:
        for p in EVICTABLE:  # lowest first
            if p > priority:
                break
            if self._evictable[p]:
                return self._evictable[p].popleft(), p
        return None

    def _write(self, work: object, what: str, transaction: bool = False) -> None:
        try:
            if not transaction:
                work()  # type: ignore[operator]
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                work()  # type: ignore[operator]
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot {what}: {exc}") from exc

    def delete(self, acked: list[tuple[int, Priority]]) -> int:
        """Drop acknowledged rows (position, priority); returns how many were still there.

        PUBACKs come in publish order, so the positions are nearly always one unbroken
        run: deleted as a range (one statement, one walk of the table's b-tree) rather
        than row by row. Each run is exactly the acknowledged positions, and positions
        are never reused, so a range never takes a row that was not acknowledged.
        """
        if not acked:
            return 0
        runs = _runs(sorted(p for p, _ in acked))
        with self._lock:
            removed = self._delete_rows(
                "DELETE FROM messages WHERE pos BETWEEN ? AND ?", runs, "delete acknowledged messages"
            )
            self._forget(acked)
            self._depth -= removed
            return removed

    def _delete_rows(self, sql: str, params: list[tuple[int, ...]], what: str, counters: bool = True) -> int:
        """One transaction of deletes (after saving the counters); how many rows went. Holds the lock."""
        removed = 0

        def work() -> None:
            nonlocal removed
            if counters:
                self._save_counters()
            before = self._db.total_changes
            self._db.executemany(sql, params)
            removed = self._db.total_changes - before

        self._write(work, what, transaction=True)
        return removed

    def _forget(self, gone: list[tuple[int, Priority]]) -> None:
        # Acknowledgements come in publish order, so a gone row is nearly always the
        # oldest of its priority; anything else (rare) pays a linear remove.
        for pos, priority in gone:
            if priority >= Priority.EVENT:
                continue
            candidates = self._evictable[priority]
            if candidates and candidates[0] == pos:
                candidates.popleft()
            else:
                with contextlib.suppress(ValueError):  # already evicted
                    candidates.remove(pos)

    def refuse(self, pos: int, priority: Priority, reason: str) -> None:
        """Move a row the broker will never accept out of the queue, keeping it for an operator."""
        with self._lock:
            removed = 0

            def work() -> None:
                nonlocal removed
                self._save_counters()
                self._db.execute(
                    "INSERT OR REPLACE INTO refused (pos, msg_id, topic, payload, reason, refused_at)"
                    " SELECT pos, msg_id, topic, payload, ?, ? FROM messages WHERE pos = ?",
                    (reason, self._clock.now().timestamp(), pos),
                )
                removed = self._db.execute("DELETE FROM messages WHERE pos = ?", (pos,)).rowcount

            self._write(work, f"set refused message {pos} aside", transaction=True)
            self._forget([(pos, priority)])
            self._depth -= removed

    # -- retention (edge/outbox/retention.py decides what goes) ------------------------
    def sizes(self, priority: Priority) -> list[tuple[int, float, int]]:
        """(position, created at, payload bytes) of every queued row of ``priority``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT pos, created_at, length(payload) FROM messages WHERE priority = ? ORDER BY pos",
                (int(priority),),
            ).fetchall()
        return [(int(p), float(c), int(n)) for p, c, n in rows]

    def drop(self, positions: list[int], priority: Priority) -> int:
        """Delete queued rows of ``priority`` (never events) that will not be sent; returns how many
        went. Their sequence numbers stay used, so the gateway sees the gap."""
        if priority >= Priority.EVENT:
            raise ValueError("hazard events are never dropped")
        if not positions:
            return 0
        with self._lock:
            marks = ",".join("?" * len(positions))
            seqs = self._db.execute(  # told to the gateway (health): lost at the source, not the broker
                f"SELECT seq FROM messages WHERE priority = ? AND pos IN ({marks}) ORDER BY seq",
                [int(priority), *positions],
            ).fetchall()
            removed = self._delete_rows(
                "DELETE FROM messages WHERE pos = ? AND priority = ?",
                [(p, int(priority)) for p in positions],
                f"drop {len(positions)} {priority.name.lower()} message(s)",
            )
            for (seq,) in seqs:
                self._note_dropped(seq)
            self._forget([(p, priority) for p in positions])
            self._depth -= removed
            return removed

    def refused_sizes(self) -> list[tuple[int, float, int]]:
        """(position, refused at, payload bytes) of the messages set aside, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT pos, refused_at, length(payload) FROM refused ORDER BY pos"
            ).fetchall()
        return [(int(p), float(c), int(n)) for p, c, n in rows]

    def forget_refused(self, positions: list[int]) -> int:
        if not positions:
            return 0
        with self._lock:
            return self._delete_rows(
                "DELETE FROM refused WHERE pos = ?",
                [(p,) for p in positions],
                f"forget {len(positions)} refused message(s)",
                counters=False,
            )

    def refused(self) -> list[tuple[str, str, str]]:
        """(message id, topic, reason) of every message the broker refused for good."""
        with self._lock:
            rows = self._db.execute("SELECT msg_id, topic, reason FROM refused ORDER BY pos").fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    # -- the node's small state ---------------------------------------------------
    def load_state(self, prefix: str) -> dict[str, str]:
        """Saved values whose key starts with ``prefix``, by key."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, value FROM node_state WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
            ).fetchall()
        return {str(k): str(v) for k, v in rows}

    def save_state(self, key: str, value: str | None) -> None:
        """Save (or, with None, forget) one value; committed when this returns."""
        with self._lock:
            if value is None:
                self._write(
                    lambda: self._db.execute("DELETE FROM node_state WHERE key = ?", (key,)), f"forget {key}"
                )
            else:
                self._write(
                    lambda: self._db.execute(
                        "INSERT INTO node_state (key, value) VALUES (?, ?)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (key, value),
                    ),
                    f"save {key}",
                )

    # -- reading -----------------------------------------------------------------
    def pending(self, after: int, limit: int) -> list[QueuedMessage]:
        """Queued messages after position ``after``, in publish order."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE pos > ? ORDER BY pos LIMIT ?", (after, limit)
            ).fetchall()
        return [_queued(r) for r in rows]

    def rows(self, positions: list[int]) -> list[QueuedMessage]:
        """The messages still queued at these positions (sent again for want of a receipt), in order."""
        if not positions:
            return []
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE pos IN ({','.join('?' * len(positions))})"
                " ORDER BY pos",
                positions,
            ).fetchall()
        return [_queued(r) for r in rows]

    def stats(self) -> StoreStats:
        with self._lock:
            oldest = self._db.execute("SELECT created_at FROM messages ORDER BY pos LIMIT 1").fetchone()
            return StoreStats(self._depth, float(oldest[0]) if oldest else None)

    def oldest_created_at(self, at_least: Priority) -> float | None:
        """When the oldest queued message of ``at_least`` this priority was made (unix seconds)."""
        with self._lock:
            row = self._db.execute(
                "SELECT created_at FROM messages WHERE priority >= ? ORDER BY pos LIMIT 1", (int(at_least),)
            ).fetchone()
        return float(row[0]) if row else None

    def count_by_priority(self) -> dict[Priority, int]:
        with self._lock:
            rows = self._db.execute("SELECT priority, COUNT(*) FROM messages GROUP BY priority").fetchall()
        return {Priority(p): int(n) for p, n in rows}

    def last_seq(self, source: str) -> int:
        with self._lock:
            return self._seq.get(source, 0)

    @property
    def depth(self) -> int:
        return self._depth

    def close(self) -> None:
        with self._lock:
            self._db.close()
