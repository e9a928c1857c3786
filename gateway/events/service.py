"""The ingest ledger and the dead-letter store.

The ledger is how exactly-once works: (source, envelope id) is the primary key
of ``events``, and a batch *claims* its messages with ``INSERT … ON CONFLICT DO
NOTHING RETURNING`` before it applies anything. A key that comes back was ours
to apply; one that does not is a redelivery or a replay — or another gateway's,
which on PostgreSQL makes us wait for that gateway's commit rather than apply it
twice. Keys are per source: an id one source made up cannot shadow another's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from contracts import Envelope, HazardEvent
from contracts.codec import MAX_PAYLOAD_BYTES
from gateway.events.models import DeadLetter, EventRecord
from gateway.store import sqlite_rows
from gateway.store.base import sqlite_datetime

# A dead letter keeps the whole payload when it could ever be valid (≤ the decoder's
# limit), so that it can be replayed after a fix; of a too-large one only the start.
MAX_KEPT_PAYLOAD = MAX_PAYLOAD_BYTES
TOO_LARGE_KEPT = 4096
_TOPIC_OWNER = re.compile(r"^gridwatch/v1/[^/]+/([^/]{1,64})/")
_CHUNK = 500  # rows per multi-row INSERT: far below SQLite's and PostgreSQL's parameter limits

_events = EventRecord.__table__
_dead_letters = DeadLetter.__table__

EventKey = tuple[str, str]  # (source, message id): what the ledger knows a message by


def key_of(message: Envelope) -> EventKey:
    return (message.source, message.id)


@dataclass(frozen=True, slots=True)
class Claim:
    """A state-changing message a batch wants to apply."""

    message: Envelope
    topic: str
    payload: str


_LEDGER_COLUMNS = (
    "id",
    "kind",
    "source",
    "seq",
    "ts",
    "received_at",
    "topic",
    "device_id",
    "hazard_type",
    "severity",
    "state",
    "case_id",
    "payload",
    "handled_by",
    "task_id",
    "outcome",
)


def _ledger_values(
    claim: Claim, received_at: Any, gateway_id: str, ts: Any, case_id: str | None = None
) -> tuple[Any, ...]:
    """A ledger row in :data:`_LEDGER_COLUMNS` order (``ts``: the message's, as the store takes it)."""
    message = claim.message
    fields = message.__dict__  # a field a message kind lacks: getattr on pydantic models is slow
    hazard = message if isinstance(message, HazardEvent) else None
    return (
        message.id,
        message.kind,  # type: ignore[attr-defined]
        message.source,
        message.seq,
        ts,
        received_at,
        claim.topic,
        fields.get("device_id"),
        hazard.hazard_type.value if hazard else None,
        hazard.severity.value if hazard else None,
        hazard.state.value if hazard else None,
        case_id,  # known up front for a plain repeat; otherwise set once the batch folded it (attach_cases)
        claim.payload,
        gateway_id,
        fields.get("task_id"),
        "applied",
    )


def claim(
    session: Session,
    claims: Sequence[Claim],
    now: datetime,
    gateway_id: str,
    case_of: Mapping[EventKey, str] | None = None,
) -> set[EventKey]:
    """Insert ledger rows for messages not seen before; returns the keys that were new.

    Rows are inserted in key order so that two gateways claiming overlapping
    sets on PostgreSQL always wait for each other in the same order (no deadlock).
    ``case_of`` (SQLite): the case a message will be folded into when the caller already knows it,
    written with the row instead of by :func:`attach_cases` afterwards (one write of the row and
    of its ``case_id`` index entry instead of two).
    """
    if not claims:
        return set()
    if sqlite_rows.is_sqlite(session):
        received_at = sqlite_datetime(now)
        case_of = case_of or {}
        rows = sorted(
            (
                _ledger_values(
                    c,
                    received_at,
                    gateway_id,
                    sqlite_datetime(c.message.ts),
                    case_of.get((c.message.source, c.message.id)),
                )
                for c in claims
            ),
            key=lambda r: (r[2], r[0]),
        )
        won = sqlite_rows.insert(
            session, "events", _LEDGER_COLUMNS, rows, conflict="source, id", returning="source, id"
        )
        return {(source, message_id) for source, message_id in won}
    if case_of:
        raise ValueError("case_of is for SQLite's driver path; PostgreSQL attaches cases afterwards")
    dicts = sorted(
        (
            dict(zip(_LEDGER_COLUMNS, _ledger_values(c, now, gateway_id, c.message.ts), strict=True))
            for c in claims
        ),
        key=lambda r: (r["source"], r["id"]),
    )
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # One cached statement run with many parameter sets: SQLAlchemy's "insertmanyvalues"
    # turns it into a few multi-row INSERTs (compiling a fresh VALUES list costs more).
    stmt = (
        insert(_events)
        .on_conflict_do_nothing(index_elements=["source", "id"])
        .returning(_events.c.source, _events.c.id)
    )
    return {(source, message_id) for source, message_id in session.execute(stmt, dicts)}


_BY_KEY = (_events.c.source == bindparam("key_source")) & (_events.c.id == bindparam("key_id"))


def attach_cases(session: Session, case_of_event: Mapping[EventKey, str | None]) -> None:
    """Record which case each applied hazard event went into (None: none, undoing a guess of
    :func:`claim`'s ``case_of``)."""
    if not case_of_event:
        return
    if sqlite_rows.is_sqlite(session):
        sqlite_rows.executemany(
            session,
            "UPDATE events SET case_id = ? WHERE source = ? AND id = ?",
            [(c, s, e) for (s, e), c in case_of_event.items()],
        )
        return
    session.execute(
        update(_events).where(_BY_KEY).values(case_id=bindparam("case")),
        [{"key_source": s, "key_id": e, "case": c} for (s, e), c in case_of_event.items()],
        execution_options={"synchronize_session": False},
    )


def set_outcomes(session: Session, outcome_of_event: dict[EventKey, str]) -> None:
    if not outcome_of_event:
        return
    session.execute(
        update(_events).where(_BY_KEY).values(outcome=bindparam("result")),
        [{"key_source": s, "key_id": e, "result": o} for (s, e), o in outcome_of_event.items()],
        execution_options={"synchronize_session": False},
    )


def refused_updates(session: Session, task_id: str, since: datetime) -> list[EventRecord]:
    """Task updates for this task that were refused recently, oldest first (for a re-drive)."""
    return list(
        session.scalars(
            select(EventRecord)
            .where(
                EventRecord.task_id == task_id,
                EventRecord.outcome == "refused",
                EventRecord.received_at >= since,
            )
            .order_by(EventRecord.ts, EventRecord.seq)
        )
    )


def later_clear(
    session: Session, device_id: str, hazard_type: str, after: datetime, since: datetime
) -> EventRecord | None:
    """A clear from this device that was ledgered without a case and is newer than ``after``.

    Out-of-order delivery can hand a gateway the clear before the alarm it ends.
    """
    return session.scalars(
        select(EventRecord)
        .where(
            EventRecord.device_id == device_id,
            EventRecord.hazard_type == hazard_type,
            EventRecord.state == "clear",
            EventRecord.case_id.is_(None),
            EventRecord.ts > after,
            EventRecord.received_at >= since,
        )
        .order_by(EventRecord.ts.desc())
        .limit(1)
    ).first()


class LateClears:
    """:func:`later_clear` for the new cases of one batch, answered from one query.

    Loads the clears ledgered without a case for the batch's devices once; each answer is the
    query's over those rows (attaching a clear to its case happens at the end of the batch, as
    for the query, so the rows loaded stay what the query would see).
    """

    def __init__(self, session: Session, device_ids: Iterable[str], since: datetime) -> None:
        self._since = since
        self._by_device: dict[tuple[str, str], list[EventRecord]] = {}
        wanted = sorted(set(device_ids))
        for start in range(0, len(wanted), _CHUNK):
            rows = session.scalars(
                select(EventRecord).where(
                    EventRecord.device_id.in_(wanted[start : start + _CHUNK]),
                    EventRecord.state == "clear",
                    EventRecord.case_id.is_(None),
                    EventRecord.received_at >= since,
                )
            )
            for row in rows:
                self._by_device.setdefault((row.device_id or "", row.hazard_type or ""), []).append(row)
        self.devices = frozenset(wanted)

    def later(self, device_id: str, hazard_type: str, after: datetime, since: datetime) -> EventRecord | None:
        newer = [
            r
            for r in self._by_device.get((device_id, hazard_type), ())
            if r.ts > after and r.received_at >= since and r.case_id is None
        ]
        return max(newer, key=lambda r: (r.ts, r.id)) if newer else None


@dataclass(frozen=True, slots=True)
class Rejected:
    topic: str
    payload: bytes
    reason: str
    detail: str


def dead_letter_row(r: Rejected, now: datetime) -> dict[str, Any]:
    match = _TOPIC_OWNER.match(r.topic)
    keep = TOO_LARGE_KEPT if len(r.payload) > MAX_KEPT_PAYLOAD else MAX_KEPT_PAYLOAD
    return {
        "received_at": now,
        "topic": r.topic[:512],
        "source": match.group(1) if match else None,
        "reason": r.reason[:32],
        "detail": r.detail[:4000],
        "payload": r.payload[:keep],
        "payload_size": len(r.payload),
        "replay_count": 0,
    }


def dead_letters(session: Session, rejected: Iterable[Rejected], now: datetime) -> int:
    """Keep refused payloads (one multi-row INSERT per chunk); returns how many."""
    rows = [dead_letter_row(r, now) for r in rejected]
    for start in range(0, len(rows), _CHUNK):
        session.execute(_dead_letters.insert(), rows[start : start + _CHUNK])
    return len(rows)
