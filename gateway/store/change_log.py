"""The change log: one row per committed change that a person watching a page would notice.

Pages (the operators' console, the worker's phone) are pushed what changed instead
of polling every table. A change is written in the *same transaction* as the change
itself, by a flush hook, so the log holds exactly what committed — a rolled-back
transaction leaves no row, and no use case has to remember to announce itself.

A domain model opts in with a class attribute::

    __change_feed__ = ChangeFeed(entity="case", watch=("status", "severity"), case_id="id")

``watch`` names the columns whose change matters to a person (an event count going up
on an open case does not; its status does). New rows are always logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Integer, String, event, insert, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.store.base import Base

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
_Id = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class ChangeFeed:
    """How a model appears in the change log."""

    entity: str  # case, task, escalation, evidence, ...
    watch: tuple[str, ...] = ()
    case_id: str | None = None  # attribute holding the case this row belongs to
    id_attr: str = "id"


class Change(Base):
    __tablename__ = "change_log"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(8), doc="created or updated")


def _feed(obj: object) -> ChangeFeed | None:
    return getattr(type(obj), "__change_feed__", None)


def _changed(obj: object, feed: ChangeFeed) -> bool:
    state = inspect(obj)
    # committed_state holds the attributes set since the row was loaded: only those can have
    # changed (an event folded into an open case touches its counts, not what is watched), and
    # their history says whether the value really differs. Checking every watched attribute's
    # history was ~9 % of the ingest batch's CPU.
    touched = state.committed_state
    return any(name in touched and state.attrs[name].history.has_changes() for name in feed.watch)


def _record(session: Session, _context: Any) -> None:
    # after_flush: ids made by the database are known, the session still shows what the
    # flush wrote (new, dirty, each attribute's history), and the insert joins the
    # flush's transaction.
    seen: set[tuple[str, str]] = set()
    rows: list[dict[str, str | None]] = []
    for kind, objects in (("created", session.new), ("updated", session.dirty)):
        for obj in list(objects):
            feed = _feed(obj)
            if feed is None or (kind == "updated" and not _changed(obj, feed)):
                continue
            entity_id = str(getattr(obj, feed.id_attr))
            if (feed.entity, entity_id) in seen:
                continue
            seen.add((feed.entity, entity_id))
            case_id = getattr(obj, feed.case_id) if feed.case_id else None
            rows.append({"entity": feed.entity, "entity_id": entity_id, "case_id": case_id, "kind": kind})
    if rows:
        session.connection().execute(insert(Change.__table__), rows)


def install(session_class: type[Session] = Session) -> None:
    """Log changes from every session of this class (idempotent)."""
    if not event.contains(session_class, "after_flush", _record):
        event.listen(session_class, "after_flush", _record)


def changes_after(session: Session, after: int, limit: int = 500) -> list[Change]:
    return list(session.scalars(select(Change).where(Change.id > after).order_by(Change.id).limit(limit)))


def newest_id(session: Session) -> int:
    return int(session.scalar(select(Change.id).order_by(Change.id.desc()).limit(1)) or 0)


def oldest_id(session: Session) -> int:
    return int(session.scalar(select(Change.id).order_by(Change.id).limit(1)) or 0)
