"""Per-source sequence numbers: gaps found and placed, and receipts of what is committed.

Every envelope carries ``seq``, a per-source counter. A jump opens a *gap* (a range
of numbers not seen). Because several gateways share the stream through an MQTT 5
shared subscription, a source's messages may commit out of order, so a gap is first
only *noticed*; a number that turns up later *fills* it (counted as late), and only
what is still missing after the grace period is counted *lost* — and placed:

- ``source``: the source says it dropped those numbers itself (an edge node's health
  lists what its full outbox dropped, ``outbox.dropped_seqs``);
- ``broker``: the source reports having handed out numbers past them
  (``outbox.last_seq``) and did not drop them, so the broker acknowledged them and no
  gateway got them: lost at the broker (restart without persistence, queue limit,
  nobody subscribed);
- ``unknown``: the source does not say what it sent (devices, phones, older nodes).

A gap its source has not reported on yet waits for the next health (up to
``DECLARATION_WAIT`` grace periods). The declared ``last_seq`` also counts like a
number seen, so a loss at the tail of a stream is noticed with the source's next
health even when nothing else follows. A lost number that arrives after all (an edge
node sends unreceipted events again) is counted as *recovered*.

Receipts: after the commit, each node and device whose messages were in the batch
is told what the gateway now holds of its stream (:class:`contracts.DeliveryReceipt`):
every number from ``base_seq`` (first contact, a restarted counter, or just past a
lost range no longer remembered) to ``max_seq``, minus the open and the lost ranges,
plus the batch's numbers from before ``base_seq``. Computed in the same transaction
as the bookkeeping, so a receipt never claims what was not committed.

The bookkeeping lives in the store (``source_progress``), not in memory, so that it
is right whichever gateway sees which message. On PostgreSQL the rows are locked in
source order at the end of a batch — the lock is held only for the final moments of
the transaction.

Not sequenced: ``seq`` 0 (use it for last-will messages, whose number would
otherwise be handed out long before the broker publishes them) and retained
messages (old state the broker repeats on every subscribe).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from contracts import EdgeHealth, Message, topics
from contracts.delivery import merge_ranges
from gateway import metrics
from gateway.events.models import SourceProgress
from gateway.store import sqlite_rows
from gateway.store.base import sqlite_datetime

log = logging.getLogger(__name__)

GRACE_S = 60.0
DECLARATION_WAIT = 5  # grace periods a gap waits for its source's report before it is placed "unknown"
MAX_OPEN_RANGES = 64  # beyond this the oldest range is counted lost at once (bounded row size)
MAX_LOST_RANGES = 64  # lost ranges remembered (a late arrival is recovered; receipts leave them out)
MAX_DECLARED_RANGES = 32
# A number at or below the highest, made this much later than the message holding the highest,
# means the source's counter started again. The margin keeps a re-sent message (made a moment
# after a higher-numbered one was queued, on another thread) from looking like a restart.
RESET_MARGIN = timedelta(seconds=3)
# Counters stop at what a BIGINT holds: a source jumping to the largest sequence number (valid, but
# a gap of 2^63) must not make the batch's UPDATE fail.
COUNT_MAX = 2**63 - 1
RECEIPT_ROLES = frozenset(role for role, down in topics.DOWNLINK.items() if topics.Channel.RECEIPT in down)
Ranges = list[tuple[int, int]]

_table = SourceProgress.__table__
_COLUMNS = (
    "source",
    "max_seq",
    "max_seq_ts",
    "open_gaps",
    "open_gap_count",
    "lost_total",
    "late_total",
    "resets_total",
    "messages_total",
    "last_seen_at",
    "base_seq",
    "lost_gaps",
    "recovered_total",
    "lost_at_source_total",
    "lost_at_broker_total",
    "declared_seq",
    "declared_dropped",
    "declared_at",
)
_UPDATE = (
    update(_table)
    .where(_table.c.source == bindparam("v_source"))
    .values({c: bindparam(f"v_{c}", type_=_table.c[c].type) for c in _COLUMNS if c != "source"})
)


# On SQLite the batch's read and write of its sources' rows go through the driver
# (gateway/store/sqlite_rows.py): for a handful of rows, SQLAlchemy's statement set-up and its
# JSON and datetime processors were most of the bookkeeping's cost. Same text stored: JSON as
# SQLAlchemy's JSON type writes it (json.dumps, None as 'null'), datetimes by sqlite_datetime
# (tests/gateway/test_sequences_sqlite.py compares both ways).
_JSON = frozenset({"open_gaps", "lost_gaps", "declared_dropped"})
_TIMES = frozenset({"max_seq_ts", "last_seen_at", "declared_at"})
_LOAD_SQLITE = f"SELECT {', '.join(_COLUMNS)} FROM source_progress WHERE source IN ({{}})"
_UPDATE_SQLITE = (
    f"UPDATE source_progress SET {', '.join(f'{c} = ?' for c in _COLUMNS if c != 'source')} WHERE source = ?"
)


def _sqlite_row(values: tuple[object, ...]) -> _Row:
    fields: dict[str, object] = {}
    for name, value in zip(_COLUMNS, values, strict=True):
        if value is not None and name in _JSON:
            value = json.loads(value)  # type: ignore[arg-type]
        elif value is not None and name in _TIMES:
            value = datetime.fromisoformat(value).replace(tzinfo=UTC)  # type: ignore[arg-type]
        fields[name] = value
    return _Row(**fields)  # type: ignore[arg-type]


def _sqlite_values(row: _Row | SourceProgress) -> tuple[object, ...]:
    out: list[object] = []
    for name in _COLUMNS[1:]:
        value = getattr(row, name)
        if name in _JSON:
            value = json.dumps(value)
        elif value is not None and name in _TIMES:
            value = sqlite_datetime(value)
        out.append(value)
    out.append(row.source)
    return tuple(out)


class Where(StrEnum):
    """Where a lost number went missing (a metrics label and the log line's words)."""

    SOURCE = "source"
    BROKER = "broker"
    UNKNOWN = "unknown"


_LOST_TEXT = {
    Where.SOURCE: "the source dropped them itself (its outbox was full)",
    Where.BROKER: "the source sent them and the broker acknowledged them, but no gateway received them: "
    "lost at the broker (restart without persistence, queue limit, or no gateway subscribed)",
    Where.UNKNOWN: "the source does not report what it sent, so where is unknown",
}


@dataclass
class _Row:
    """A source_progress row as plain data (the batch path avoids the ORM's per-object cost)."""

    source: str
    max_seq: int
    max_seq_ts: datetime | None
    open_gaps: list[list]
    open_gap_count: int
    lost_total: int
    late_total: int
    resets_total: int
    messages_total: int
    last_seen_at: datetime
    base_seq: int | None
    lost_gaps: list[list] | None
    recovered_total: int
    lost_at_source_total: int
    lost_at_broker_total: int
    declared_seq: int | None
    declared_dropped: list[list] | None
    declared_at: datetime | None


Row = SourceProgress | _Row


class ReceiptSink(Protocol):
    def offer(self, receipts: dict[str, tuple[str, Ranges]]) -> None: ...


@dataclass
class SequenceReport:
    """What one batch found; turned into metrics and log lines after the commit."""

    gaps: list[tuple[str, int, int]] = field(default_factory=list)  # (source, first, last) noticed
    late: int = 0
    lost: list[tuple[str, int, int, Where]] = field(default_factory=list)  # given up, and where
    recovered: list[tuple[str, int]] = field(default_factory=list)  # (source, seq) arrived after its loss
    resets: list[tuple[str, int, int]] = field(default_factory=list)  # (source, old max, new seq)
    receipts: dict[str, tuple[str, Ranges]] = field(default_factory=dict)  # source -> (topic, held)

    def publish(self) -> None:
        """Metrics and one log line per source and finding (not one per range)."""
        for source, ranges in _by_source(self.gaps).items():
            missing = sum(last - first + 1 for first, last in ranges)
            metrics.SEQ_GAPS.inc(missing)
            log.info(
                "source %s: sequence jumped, %d number(s) not seen yet (%s)",
                source,
                missing,
                _ranges(ranges),
                extra={"source": source},
            )
        if self.late:
            metrics.SEQ_LATE.inc(self.late)
        for where in Where:
            found = [(s, a, b) for s, a, b, w in self.lost if w is where]
            for source, ranges in _by_source(found).items():
                missing = sum(last - first + 1 for first, last in ranges)
                metrics.SEQ_LOST.labels(where.value).inc(missing)
                log.warning(
                    "source %s: %d message(s) never arrived (seq %s): %s",
                    source,
                    missing,
                    _ranges(ranges),
                    _LOST_TEXT[where],
                    extra={"source": source, "where": where.value},
                )
        for source, seqs in _by_source([(s, n, n) for s, n in self.recovered]).items():
            metrics.SEQ_RECOVERED.inc(len(seqs))
            log.info(
                "source %s: %d message(s) counted lost arrived after all (sent again): %s",
                source,
                len(seqs),
                _ranges(merge_ranges(seqs)),
                extra={"source": source},
            )
        for source, old, new in self.resets:
            metrics.SEQ_RESETS.inc()
            log.warning(
                "source %s restarted its sequence (%d after %d); tracking from here",
                source,
                new,
                old,
                extra={"source": source},
            )


def _by_source(found: list[tuple[str, int, int]]) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for source, first, last in found:
        out[source].append((first, last))
    return out


def _ranges(ranges: list[tuple[int, int]], show: int = 5) -> str:
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges[:show])
    return text + (f" and {len(ranges) - show} more range(s)" if len(ranges) > show else "")


def _gap_count(gaps: list[list]) -> int:
    return min(sum(g[1] - g[0] + 1 for g in gaps), COUNT_MAX)


def _plus(total: int, n: int) -> int:
    return min(total + n, COUNT_MAX)


def _take(ranges: list[list], seq: int) -> bool:
    """Remove ``seq`` from the [first, last, ...] range holding it; False when none does."""
    for i, r in enumerate(ranges):
        first, last = r[0], r[1]
        if first <= seq <= last:
            pieces = [[first, seq - 1, *r[2:]]] if first < seq else []
            if seq < last:
                pieces.append([seq + 1, last, *r[2:]])
            ranges[i : i + 1] = pieces
            return True
    return False


def refused_envelope(topic: str, payload: bytes) -> tuple[str, int] | None:
    """(source, seq) of a refused payload whose envelope says whose and which it is: a JSON
    object whose ``source`` is the topic's own id (the broker's ACL vouches for that) and whose
    ``seq`` is a usable number. None for anything else (it cannot be receipted)."""
    try:
        owner = topics.parse(topic).owner
        data = json.loads(payload)
    except (topics.TopicError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    seq = data.get("seq")
    if data.get("source") != owner or type(seq) is not int or not 0 < seq <= COUNT_MAX:
        return None
    return owner, seq


def held(row: Row, gaps: list[list], lost: list[list]) -> Ranges:
    """What the gateway holds of the source: base_seq..max_seq minus open and lost ranges."""
    base = row.base_seq
    if base is None or row.max_seq < base:
        return []
    out: Ranges = []
    at = base
    for first, last in sorted((int(g[0]), int(g[1])) for g in (*gaps, *lost)):
        if last < at:
            continue
        if first > at:
            out.append((at, min(first - 1, row.max_seq)))
        at = max(at, last + 1)
    if at <= row.max_seq:
        out.append((at, row.max_seq))
    return out


class SequenceTracker:
    def __init__(self, grace_s: float = GRACE_S, gateway_id: str = "gateway-1") -> None:
        self.grace = timedelta(seconds=grace_s)
        self.gateway_id = gateway_id
        self.receipts: ReceiptSink | None = None  # where receipts go after the commit (None: not sent)

    def observe(
        self,
        session: Session,
        messages: Iterable[tuple[str, Message] | tuple[str, str, int]],
        now: datetime,
        report: SequenceReport,
        refused: Iterable[tuple[str, str, int]] = (),
    ) -> None:
        """Fold one batch's committed (topic, message) pairs into the store; note their receipts.

        A (topic, source, seq) entry, in ``messages`` or ``refused``, is a payload kept only as a
        dead letter: it arrived (no gap) and the gateway holds it, so it is receipted too — a node
        must not send a message the gateway refuses again and again; an operator replays the dead
        letter. Give them in ``messages``, in the batch's order: numbers are taken in the order
        given, and a dead letter's higher number taken before the good messages below it made
        those look like a restarted counter (``refused`` entries are taken first).
        """
        seen: dict[str, list[tuple[int, datetime | None]]] = defaultdict(list)
        declared: dict[str, EdgeHealth] = {}
        receipt_topic: dict[str, str] = {}
        for topic, source, seq in refused:
            seen[source].append((seq, None))
            self._receipt_topic(receipt_topic, topic, source)
        for entry in messages:
            if len(entry) == 3:  # a dead letter's (topic, source, seq)
                topic, source, seq = entry  # type: ignore[misc]
                seen[source].append((seq, None))
                self._receipt_topic(receipt_topic, topic, source)
                continue
            topic, message = entry  # type: ignore[misc]
            source = message.source
            if isinstance(message, EdgeHealth) and message.outbox is not None and message.outbox.last_seq:
                declared[source] = message  # also from an unsequenced (seq 0) health
            if message.seq <= 0:
                continue
            seen[source].append((message.seq, message.ts))
            self._receipt_topic(receipt_topic, topic, source)
        if not seen and not declared:
            return
        sources = sorted(seen.keys() | declared.keys())
        dialect = session.get_bind().dialect.name
        rows = self._load(session, sources, dialect)
        missing = [s for s in sources if s not in rows]
        if missing:
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            fresh = [
                {
                    "source": s,
                    "max_seq": -1,
                    "open_gaps": [],
                    "open_gap_count": 0,
                    "lost_total": 0,
                    "late_total": 0,
                    "resets_total": 0,
                    "messages_total": 0,
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "lost_gaps": [],
                    "recovered_total": 0,
                    "lost_at_source_total": 0,
                    "lost_at_broker_total": 0,
                }
                for s in missing
            ]
            # Another gateway may be adding the same new source right now.
            session.execute(insert(_table).values(fresh).on_conflict_do_nothing(index_elements=["source"]))
            rows.update(self._load(session, missing, dialect))
        changes = []
        for source in sources:
            row = rows[source]
            gaps = [list(g) for g in row.open_gaps]
            lost = [list(g) for g in row.lost_gaps or []]
            for seq, ts in seen.get(source, ()):
                self._one(row, gaps, lost, seq, ts, now, report)
            if source in declared:
                self._declared(row, gaps, declared[source], now, report)
            self._expire(row, gaps, lost, now, report)
            self._store(row, gaps, lost)
            row.messages_total += len(seen.get(source, ()))
            row.last_seen_at = now
            changes.append(row)
            if source in receipt_topic:
                base = row.base_seq if row.base_seq is not None else row.max_seq + 1
                before_base = [(seq, seq) for seq, _ in seen[source] if seq < base]
                report.receipts[source] = (
                    receipt_topic[source],
                    merge_ranges([*held(row, gaps, lost), *before_base]),
                )
        # One executemany for all sources of the batch (plain rows: no ORM unit of work).
        if sqlite_rows.is_sqlite(session):
            sqlite_rows.executemany(session, _UPDATE_SQLITE, [_sqlite_values(r) for r in changes])
        else:
            session.execute(_UPDATE, [{f"v_{c}": getattr(r, c) for c in _COLUMNS} for r in changes])

    @staticmethod
    def _receipt_topic(topics_of: dict[str, str], topic: str, source: str) -> None:
        if source not in topics_of:
            role = topics.parse(topic).role
            if role in RECEIPT_ROLES:
                topics_of[source] = topics.receipt_topic(role, source)

    def after_commit(self, report: SequenceReport) -> None:
        """Metrics, log lines, and the receipts handed to the sender (only after the commit)."""
        report.publish()
        if self.receipts is not None and report.receipts:
            self.receipts.offer(report.receipts)

    def sweep(self, session: Session, now: datetime, report: SequenceReport) -> None:
        """Give up on gaps past the grace period for sources that went quiet."""
        query = (
            select(SourceProgress).where(SourceProgress.open_gap_count > 0).order_by(SourceProgress.source)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        for row in session.scalars(query):
            gaps = [list(g) for g in row.open_gaps]
            lost = [list(g) for g in row.lost_gaps or []]
            self._expire(row, gaps, lost, now, report)
            self._store(row, gaps, lost)

    @staticmethod
    def _load(session: Session, sources: list[str], dialect: str) -> dict[str, _Row]:
        if sqlite_rows.is_sqlite(session):
            return {r[0]: _sqlite_row(r) for r in sqlite_rows.select_in(session, _LOAD_SQLITE, sources)}
        query = select(*(_table.c[c] for c in _COLUMNS)).where(_table.c.source.in_(sources))
        query = query.order_by(_table.c.source)
        if dialect == "postgresql":
            query = query.with_for_update()
        return {r.source: _Row(**r._mapping) for r in session.execute(query)}

    @staticmethod
    def _store(row: Row, gaps: list[list], lost: list[list]) -> None:
        row.open_gaps = gaps
        row.open_gap_count = _gap_count(gaps)
        row.lost_gaps = lost

    def _one(
        self,
        row: Row,
        gaps: list[list],
        lost: list[list],
        seq: int,
        ts: datetime | None,
        now: datetime,
        report: SequenceReport,
    ) -> None:
        """``ts``: when the source made it; None for a dead letter (not to be trusted)."""
        if row.max_seq < 0:  # first contact: we cannot know what came before
            row.max_seq, row.max_seq_ts, row.base_seq = seq, ts, seq
            return
        if seq > row.max_seq:
            if seq > row.max_seq + 1:
                gaps.append([row.max_seq + 1, seq - 1, now.isoformat()])
                report.gaps.append((row.source, row.max_seq + 1, seq - 1))
            row.max_seq, row.max_seq_ts = seq, ts or row.max_seq_ts
            return
        if _take(gaps, seq):
            row.late_total += 1
            report.late += 1
            return
        if _take(lost, seq):
            row.recovered_total += 1
            report.recovered.append((row.source, seq))
            return
        # Not above the highest and not missing: a redelivery or a replay — unless the source
        # made it well after the message that holds the highest number, which means its counter
        # started again (a device reinstalled without its state).
        if ts and row.max_seq_ts is not None and ts > row.max_seq_ts + RESET_MARGIN and seq < row.max_seq:
            report.resets.append((row.source, row.max_seq, seq))
            row.resets_total += 1
            for first, last, _ in gaps:
                self._lose(row, [], first, last, Where.UNKNOWN, report)
            gaps.clear()
            lost.clear()
            row.max_seq, row.max_seq_ts, row.base_seq = seq, ts, seq
            row.declared_seq, row.declared_dropped = None, None  # that was the old counter's

    def _declared(
        self, row: Row, gaps: list[list], health: EdgeHealth, now: datetime, report: SequenceReport
    ) -> None:
        """The source's own account (an edge node's health): the last number it handed out,
        and what it dropped itself. A number it handed out that never came is a gap (the tail)."""
        outbox = health.outbox
        assert outbox is not None
        row.declared_seq = max(row.declared_seq or 0, outbox.last_seq)
        dropped = merge_ranges([*((a, b) for a, b in row.declared_dropped or []), *outbox.dropped_seqs])
        row.declared_dropped = [list(r) for r in dropped[-MAX_DECLARED_RANGES:]]
        row.declared_at = now
        if outbox.last_seq > row.max_seq >= 0:
            gaps.append([row.max_seq + 1, outbox.last_seq, now.isoformat()])
            report.gaps.append((row.source, row.max_seq + 1, outbox.last_seq))
            row.max_seq, row.max_seq_ts = outbox.last_seq, health.ts

    def _place(self, row: Row, first: int, last: int) -> list[tuple[int, int, Where]] | None:
        """Split a lost range by where it was lost; None while the source has yet to report on it."""
        if row.declared_seq is None:
            return [(first, last, Where.UNKNOWN)]
        parts: list[tuple[int, int, Where]] = []
        at = first
        for a, b in row.declared_dropped or []:
            if b < at or a > last:
                continue
            if a > at:
                parts.append((at, a - 1, Where.BROKER))
            parts.append((max(a, at), min(b, last), Where.SOURCE))
            at = min(b, last) + 1
        if at <= last:
            parts.append((at, last, Where.BROKER))
        if any(w is Where.BROKER and b > row.declared_seq for _, b, w in parts):
            return None  # handed out after its last report: it may yet say it dropped them
        return parts

    def _expire(
        self, row: Row, gaps: list[list], lost: list[list], now: datetime, report: SequenceReport
    ) -> None:
        cutoff = now - self.grace
        patience = now - self.grace * DECLARATION_WAIT
        keep = []
        for gap in gaps:
            first, last, noticed = gap
            noticed_at = datetime.fromisoformat(noticed)
            if noticed_at > cutoff:
                keep.append(gap)
                continue
            parts = self._place(row, first, last)
            if parts is None:
                if noticed_at > patience:  # its source has not reported on it yet: wait a little
                    keep.append(gap)
                    continue
                parts = [(first, last, Where.UNKNOWN)]
            for a, b, where in parts:
                self._lose(row, lost, a, b, where, report)
        while len(keep) > MAX_OPEN_RANGES:
            first, last, _ = keep.pop(0)
            for a, b, where in self._place(row, first, last) or [(first, last, Where.UNKNOWN)]:
                self._lose(row, lost, a, b, where, report)
        gaps[:] = keep

    @staticmethod
    def _lose(
        row: Row, lost: list[list], first: int, last: int, where: Where, report: SequenceReport
    ) -> None:
        n = last - first + 1
        row.lost_total = _plus(row.lost_total, n)
        if where is Where.SOURCE:
            row.lost_at_source_total = _plus(row.lost_at_source_total, n)
        elif where is Where.BROKER:
            row.lost_at_broker_total = _plus(row.lost_at_broker_total, n)
        report.lost.append((row.source, first, last, where))
        lost.append([first, last, where.value])
        lost.sort(key=lambda r: r[0])
        while len(lost) > MAX_LOST_RANGES:
            # Forgotten, so it can no longer be told from a committed number: receipts start past it.
            _, forgotten, _ = lost.pop(0)
            row.base_seq = min(max(row.base_seq or 0, forgotten + 1), COUNT_MAX)
