"""Per-source sequence gaps: detected and reported, never fatal.

Every envelope carries ``seq``, a per-source counter. A jump opens a *gap*
(a range of numbers not seen). Because several gateways share the stream
through an MQTT 5 shared subscription, a source's messages may commit out of
order, so a gap is first only *noticed*; a number that turns up later
*fills* it (counted as late), and only what is still missing after the grace
period is counted and logged as *lost*.

The bookkeeping lives in the store (``source_progress``), not in memory, so
that it is right whichever gateway sees which message. On PostgreSQL the rows
are locked in source order at the end of a batch — the lock is held only
for the final moments of the transaction.

Not sequenced: ``seq`` 0 (use it for last-will messages, whose number would
otherwise be handed out long before the broker publishes them) and retained
messages (old state the broker repeats on every subscribe).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway import metrics
from gateway.events.models import SourceProgress

log = logging.getLogger(__name__)

GRACE_S = 60.0
MAX_OPEN_RANGES = 64  # beyond this the oldest range is counted lost at once (bounded row size)
# Counters stop at what a BIGINT holds: a source jumping to the largest sequence number (valid, but
# a gap of 2^63) must not make the batch's UPDATE fail.
COUNT_MAX = 2**63 - 1


def _gap_count(gaps: list[list]) -> int:
    return min(sum(g[1] - g[0] + 1 for g in gaps), COUNT_MAX)


def _plus(total: int, n: int) -> int:
    return min(total + n, COUNT_MAX)


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
)
_UPDATE = (
    update(_table)
    .where(_table.c.source == bindparam("v_source"))
    .values({c: bindparam(f"v_{c}", type_=_table.c[c].type) for c in _COLUMNS if c != "source"})
)


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


@dataclass
class SequenceReport:
    """What one batch found; turned into metrics and log lines after the commit."""

    gaps: list[tuple[str, int, int]] = field(default_factory=list)  # (source, first, last) noticed
    late: int = 0
    lost: list[tuple[str, int, int]] = field(default_factory=list)  # (source, first, last) given up
    resets: list[tuple[str, int, int]] = field(default_factory=list)  # (source, old max, new seq)

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
        for source, ranges in _by_source(self.lost).items():
            missing = sum(last - first + 1 for first, last in ranges)
            metrics.SEQ_LOST.inc(missing)
            log.warning(
                "source %s: %d message(s) never arrived, lost before the broker (seq %s)",
                source,
                missing,
                _ranges(ranges),
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


class SequenceTracker:
    def __init__(self, grace_s: float = GRACE_S) -> None:
        self.grace = timedelta(seconds=grace_s)

    def observe(
        self,
        session: Session,
        seen: dict[str, list[tuple[int, datetime]]],
        now: datetime,
        report: SequenceReport,
    ) -> None:
        """Fold one batch's (seq, source ts) per source into the store."""
        seen = {s: v for s, v in seen.items() if v}
        if not seen:
            return
        sources = sorted(seen)
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
            for seq, ts in seen[source]:
                self._one(row, gaps, seq, ts, now, report)  # type: ignore[arg-type]
            self._expire(row, gaps, now, report)  # type: ignore[arg-type]
            row.open_gaps = gaps
            row.open_gap_count = _gap_count(gaps)
            row.messages_total += len(seen[source])
            row.last_seen_at = now
            changes.append({f"v_{c}": getattr(row, c) for c in _COLUMNS})
        # One executemany for all sources of the batch (plain rows: no ORM unit of work).
        session.execute(_UPDATE, changes)

    def sweep(self, session: Session, now: datetime, report: SequenceReport) -> None:
        """Give up on gaps past the grace period for sources that went quiet."""
        query = (
            select(SourceProgress).where(SourceProgress.open_gap_count > 0).order_by(SourceProgress.source)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        for row in session.scalars(query):
            gaps = [list(g) for g in row.open_gaps]
            self._expire(row, gaps, now, report)
            row.open_gaps = gaps
            row.open_gap_count = _gap_count(gaps)

    @staticmethod
    def _load(session: Session, sources: list[str], dialect: str) -> dict[str, _Row]:
        query = select(*(_table.c[c] for c in _COLUMNS)).where(_table.c.source.in_(sources))
        query = query.order_by(_table.c.source)
        if dialect == "postgresql":
            query = query.with_for_update()
        return {r.source: _Row(**r._mapping) for r in session.execute(query)}

    def _one(
        self,
        row: SourceProgress | _Row,
        gaps: list[list],
        seq: int,
        ts: datetime,
        now: datetime,
        report: SequenceReport,
    ) -> None:
        if row.max_seq < 0:  # first contact: we cannot know what came before
            row.max_seq, row.max_seq_ts = seq, ts
            return
        if seq > row.max_seq:
            if seq > row.max_seq + 1:
                gaps.append([row.max_seq + 1, seq - 1, now.isoformat()])
                report.gaps.append((row.source, row.max_seq + 1, seq - 1))
            row.max_seq, row.max_seq_ts = seq, ts
            return
        for i, (first, last, noticed) in enumerate(gaps):
            if first <= seq <= last:
                pieces = [[first, seq - 1, noticed]] if first < seq else []
                if seq < last:
                    pieces.append([seq + 1, last, noticed])
                gaps[i : i + 1] = pieces
                row.late_total += 1
                report.late += 1
                return
        # Not above the highest and not filling a gap: a redelivery or a replay — unless
        # the source made it after the message that holds the highest number, which
        # means its counter started again (a device reinstalled without its state).
        if row.max_seq_ts is not None and ts > row.max_seq_ts and seq < row.max_seq:
            report.resets.append((row.source, row.max_seq, seq))
            row.resets_total += 1
            row.max_seq, row.max_seq_ts = seq, ts
            for first, last, _ in gaps:
                row.lost_total = _plus(row.lost_total, last - first + 1)
                report.lost.append((row.source, first, last))
            gaps.clear()

    def _expire(
        self, row: SourceProgress | _Row, gaps: list[list], now: datetime, report: SequenceReport
    ) -> None:
        cutoff = now - self.grace
        keep = []
        for first, last, noticed in gaps:
            if datetime.fromisoformat(noticed) <= cutoff:
                row.lost_total = _plus(row.lost_total, last - first + 1)
                report.lost.append((row.source, first, last))
            else:
                keep.append([first, last, noticed])
        while len(keep) > MAX_OPEN_RANGES:
            first, last, _ = keep.pop(0)
            row.lost_total = _plus(row.lost_total, last - first + 1)
            report.lost.append((row.source, first, last))
        gaps[:] = keep


def group_by_source(items: list[tuple[str, int, datetime]]) -> dict[str, list[tuple[int, datetime]]]:
    out: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    for source, seq, ts in items:
        if seq > 0:
            out[source].append((seq, ts))
    return out
