"""Repeats of open cases folded in bulk: one read and one UPDATE per batch, no ORM objects.

Most of a busy stream is the same alarms again and again (a smoke detector reports every few
seconds while the smoke is there). Folding such a *plain* repeat into its open case changes three
columns — ``event_count``, ``last_seen_at``, ``updated_at`` — none of which the change log watches
and none of which writes the case's trail. Through the ORM each batch paid for loading the cases as
objects, the unit of work's autoflush and flush, and an attribute event per set (~25 % of the
gateway's main thread under load, issue 19). Here the batch reads the open cases of its places as
plain rows, adds its plain repeats up in memory, and writes them with one executemany.

A repeat is plain when :func:`gateway.cases.service._absorb` would do nothing else with it: not a
clear, the case not cleared at the source, no new evidence id, no severity above the case's.
Anything else about a case (a severity raised, a clear, a return, evidence, and everything that
opens, moves or correlates cases) goes through the ORM as before: the caller sends *all* of a
case's events that way as soon as one of them is not plain, and the whole batch that way when one
of its places has no open case (correlation by distance, opening) or it carries messages that may
move cases themselves (task updates, location fixes). Both ways leave the same rows
(tests/gateway/test_repeat_fold.py).

On PostgreSQL the rows are read ``FOR UPDATE`` in id order, as :class:`CaseBook` reads them, so two
gateways folding into the same case still take turns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy.orm import Session

from contracts import EventState, HazardEvent, Severity
from gateway.cases.correlation import PlaceKey
from gateway.cases.lifecycle import OPEN_STATUSES
from gateway.cases.models import Case
from gateway.store import sqlite_rows
from gateway.store.base import sqlite_datetime

_OPEN = [s.value for s in OPEN_STATUSES]
_CHUNK = 400  # places per read, as CaseBook.prefetch
_cases = Case.__table__


@dataclass(slots=True)
class OpenCase:
    """What folding a plain repeat reads of an open case, and what it changes."""

    id: str
    hazard_type: str
    place_key: str
    severity: str
    source_cleared_at: datetime | None
    evidence_ids: list[str]
    event_count: int
    last_seen_at: datetime
    updated_at: datetime
    folded: int = 0  # plain repeats added in this batch

    def plain(self, event: HazardEvent) -> bool:
        """Whether folding ``event`` only counts it (see the module's docstring)."""
        if event.state is EventState.CLEAR or self.source_cleared_at is not None:
            return False
        if event.evidence is not None and event.evidence.evidence_id not in self.evidence_ids:
            return False
        if event.severity.value == self.severity:
            return True
        mine = Severity(self.severity)
        return Severity.highest(mine, event.severity) is mine

    def fold(self, event: HazardEvent, now: datetime) -> None:
        """What ``_absorb`` does with a plain repeat."""
        self.event_count += 1
        self.folded += 1
        if event.ts > self.last_seen_at:
            self.last_seen_at = event.ts
        self.updated_at = now


_READ_COLUMNS = (
    _cases.c.id,
    _cases.c.hazard_type,
    _cases.c.place_key,
    _cases.c.severity,
    _cases.c.source_cleared_at,
    _cases.c.evidence_ids,
    _cases.c.event_count,
    _cases.c.last_seen_at,
    _cases.c.updated_at,
)


_READ_SQLITE = (
    f"SELECT {', '.join(c.name for c in _READ_COLUMNS)} FROM cases"
    f" WHERE status IN ({', '.join(repr(s) for s in _OPEN)}) AND (hazard_type, place_key) IN (VALUES {{}})"
)


def _from_sqlite(row: tuple[Any, ...]) -> OpenCase:
    """A row read through the driver as SQLAlchemy's types would give it (JSON, aware UTC times)."""
    case_id, hazard, place, severity, cleared, evidence, count, seen, updated = row
    return OpenCase(
        case_id,
        hazard,
        place,
        severity,
        None if cleared is None else datetime.fromisoformat(cleared).replace(tzinfo=UTC),
        [] if evidence is None else json.loads(evidence),
        count,
        datetime.fromisoformat(seen).replace(tzinfo=UTC),
        datetime.fromisoformat(updated).replace(tzinfo=UTC),
    )


def read_open(session: Session, keys: Iterable[PlaceKey]) -> dict[PlaceKey, OpenCase]:
    """The open cases of these (hazard type, place key)s, as plain rows (one query per few hundred)."""
    wanted = sorted(set(keys))
    found: dict[PlaceKey, OpenCase] = {}
    if sqlite_rows.is_sqlite(session):
        # Through the driver: SQLAlchemy rendered the 2-tuple IN afresh for every batch and ran
        # three datetime processors per row — more than SQLite's lookups of the few rows.
        session.flush()  # what SQLAlchemy's autoflush would have done before its query
        cursor = sqlite_rows.driver(session).cursor()
        try:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                sql = _READ_SQLITE.format(", ".join(["(?, ?)"] * len(chunk)))
                for row in cursor.execute(sql, [v for key in chunk for v in key]).fetchall():
                    case = _from_sqlite(row)
                    found[(case.hazard_type, case.place_key)] = case
        finally:
            cursor.close()
        return found
    lock = session.get_bind().dialect.name == "postgresql"
    for start in range(0, len(wanted), _CHUNK):
        query = (
            select(*_READ_COLUMNS)
            .where(
                _cases.c.status.in_(_OPEN),
                tuple_(_cases.c.hazard_type, _cases.c.place_key).in_(wanted[start : start + _CHUNK]),
            )
            .order_by(_cases.c.id)
        )
        if lock:
            query = query.with_for_update()
        for row in session.execute(query):
            case = OpenCase(*row)
            found[(case.hazard_type, case.place_key)] = case
    return found


_UPDATE = (
    update(_cases)
    .where(_cases.c.id == bindparam("k_id"))
    .values(
        event_count=bindparam("v_count"),
        last_seen_at=bindparam("v_seen", type_=_cases.c.last_seen_at.type),
        updated_at=bindparam("v_updated", type_=_cases.c.updated_at.type),
    )
)


def write(session: Session, cases: Iterable[OpenCase]) -> int:
    """One executemany for the cases that took plain repeats; returns how many cases."""
    folded = sorted((c for c in cases if c.folded), key=lambda c: c.id)  # lock order, as read
    if not folded:
        return 0
    if sqlite_rows.is_sqlite(session):
        sqlite_rows.executemany(
            session,
            "UPDATE cases SET event_count = ?, last_seen_at = ?, updated_at = ? WHERE id = ?",
            [
                (c.event_count, sqlite_datetime(c.last_seen_at), sqlite_datetime(c.updated_at), c.id)
                for c in folded
            ],
        )
    else:
        session.execute(
            _UPDATE,
            [
                {"k_id": c.id, "v_count": c.event_count, "v_seen": c.last_seen_at, "v_updated": c.updated_at}
                for c in folded
            ],
        )
    return len(folded)
