"""The gateway's retention sweep: evidence and dead letters by age, then by disk quota.

Rules, in order:

1. **Evidence of a case that is not finished** (anything but closed or dismissed; a resolved
   case still waits for the centre's verification) is never deleted, whatever its age or the
   quota. A snapshot or photo belongs to a case when the case lists it (``evidence_ids``), when
   it was taken for an event of the case (``event_id``), or when a worker took it for one of
   the case's tasks (``task_id``).
2. **Age**: evidence older than ``evidence_days`` goes — counted from the later of its arrival
   and its case's closing, so a case closed today keeps its evidence for the full period.
   Dead letters older than ``dead_letter_days`` go.
3. **Quota**: while the rest is over ``evidence_quota_mb`` (``dead_letter_quota_mb``), the
   oldest go first. Evidence protected by rule 1 counts but stays; a warning says when it
   alone is over the quota.

Deletes go in small batches, each its own transaction, so ingest never waits long for the
write lock. With several gateways on PostgreSQL one sweeps at a time (an advisory lock);
the others skip that round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from contracts.retention import Kept, select_for_deletion
from gateway.cases.lifecycle import FINISHED_STATUSES
from gateway.cases.models import Case
from gateway.dispatch.models import Task
from gateway.events.models import DeadLetter, EventRecord
from gateway.evidence.models import Evidence
from gateway.retention import metrics
from gateway.retention.settings import RetentionSettings

log = logging.getLogger(__name__)

FINISHED = tuple(sorted(s.value for s in FINISHED_STATUSES))
MB = 1024 * 1024
_CHUNK = 500  # ids per IN (...) list
SWEEP_LOCK = "gridwatch-retention"


@dataclass
class RetentionReport:
    evidence_expired: int = 0
    evidence_over_quota: int = 0
    evidence_bytes_freed: int = 0
    evidence_bytes: int = 0  # kept after the sweep
    evidence_kept_for_open_cases: int = 0  # past their days, kept because their case is open
    dead_letters_expired: int = 0
    dead_letters_over_quota: int = 0
    dead_letter_bytes: int = 0  # kept after the sweep
    skipped: str = ""  # why nothing was done (another gateway sweeps)
    deleted_ids: dict[str, list[str]] = field(default_factory=lambda: {"evidence": [], "dead_letters": []})

    @property
    def deleted(self) -> int:
        return (
            self.evidence_expired
            + self.evidence_over_quota
            + self.dead_letters_expired
            + self.dead_letters_over_quota
        )


def _chunks(items: list, size: int = _CHUNK) -> Iterator[list]:  # type: ignore[type-arg]
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _case_of(session: Session, model: type[EventRecord] | type[Task], ids: list[str]) -> dict[str, str]:
    """Case id of each event (or task) id that has one."""
    found: dict[str, str] = {}
    for chunk in _chunks(sorted(set(ids))):
        rows = session.execute(
            select(model.id, model.case_id).where(model.id.in_(chunk), model.case_id.is_not(None))
        )
        found.update({i: c for i, c in rows})
    return found


def _ts(when: datetime | None) -> float | None:
    return when.timestamp() if when is not None else None


class Retention:
    def __init__(
        self, engine: Engine, sessions: sessionmaker[Session], settings: RetentionSettings | None = None
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.settings = settings or RetentionSettings()

    def sweep(self, now: datetime, dry_run: bool = False) -> RetentionReport:
        """One sweep of evidence and dead letters; ``dry_run`` only says what would go."""
        if self.engine.dialect.name != "postgresql":
            return self._sweep(now, dry_run)
        with self.engine.connect() as lock:
            key = text("SELECT pg_try_advisory_lock(hashtext(:n || current_schema()))")
            if not lock.execute(key, {"n": SWEEP_LOCK}).scalar():
                lock.rollback()
                return RetentionReport(skipped="another gateway is sweeping")
            try:
                return self._sweep(now, dry_run)
            finally:
                lock.execute(
                    text("SELECT pg_advisory_unlock(hashtext(:n || current_schema()))"), {"n": SWEEP_LOCK}
                )
                lock.commit()

    def _sweep(self, now: datetime, dry_run: bool) -> RetentionReport:
        s = self.settings
        report = RetentionReport()
        ev_cutoff = now - timedelta(days=s.evidence_days) if s.evidence_days else None
        ev_quota = int(s.evidence_quota_mb * MB) if s.evidence_quota_mb else None
        with self.sessions() as session:
            evidence = select_for_deletion(self._evidence(session, ev_cutoff), _ts(ev_cutoff), ev_quota)
        report.evidence_expired, report.evidence_over_quota = len(evidence.expired), len(evidence.over_quota)
        report.evidence_bytes_freed, report.evidence_bytes = evidence.bytes_freed, evidence.bytes_kept
        report.evidence_kept_for_open_cases = evidence.protected_past_age
        report.deleted_ids["evidence"] = [str(i) for i in evidence.ids]

        dl_cutoff = now - timedelta(days=s.dead_letter_days) if s.dead_letter_days else None
        dl_quota = int(s.dead_letter_quota_mb * MB) if s.dead_letter_quota_mb else None
        with self.sessions() as session:
            rows = session.execute(
                select(DeadLetter.id, DeadLetter.received_at, func.length(DeadLetter.payload)).order_by(
                    DeadLetter.received_at, DeadLetter.id
                )
            )
            letters = select_for_deletion(
                [Kept(i, at.timestamp(), n or 0) for i, at, n in rows], _ts(dl_cutoff), dl_quota
            )
        report.dead_letters_expired, report.dead_letters_over_quota = (
            len(letters.expired),
            len(letters.over_quota),
        )
        report.dead_letter_bytes = letters.bytes_kept
        report.deleted_ids["dead_letters"] = [str(i) for i in letters.ids]

        if not dry_run:
            self._delete(Evidence, evidence.ids)
            self._delete(DeadLetter, letters.ids)
            self._count(report)
        if ev_quota is not None and evidence.bytes_kept > ev_quota:
            log.warning(
                "evidence of open cases alone uses %.0f MB, more than the %.0f MB quota: kept (close or "
                "dismiss finished cases, or raise GRIDWATCH_RETENTION_EVIDENCE_QUOTA_MB)",
                evidence.bytes_kept / MB,
                ev_quota / MB,
            )
        return report

    def _evidence(self, session: Session, cutoff: datetime | None) -> list[Kept]:
        """Every snapshot, oldest first, with what its age counts from and whether an open case holds it."""
        open_cases: dict[str, None] = {}
        closed_at: dict[str, datetime] = {}  # case id -> when it closed, for recently closed cases
        by_evidence: dict[str, str] = {}  # evidence id -> case id, from the cases' own lists
        wanted = Case.status.not_in(FINISHED)
        if cutoff is not None:  # closed within the period: their evidence counts from the closing
            wanted = wanted | (Case.updated_at >= cutoff)
        rows = session.execute(select(Case.id, Case.status, Case.updated_at, Case.evidence_ids).where(wanted))
        for case_id, status, updated_at, evidence_ids in rows:
            if status in FINISHED:
                closed_at[case_id] = updated_at
            else:
                open_cases[case_id] = None
            for ev in evidence_ids or ():
                by_evidence[ev] = case_id
        raw = session.execute(
            select(
                Evidence.id,
                Evidence.event_id,
                Evidence.task_id,
                Evidence.received_at,
                func.length(Evidence.jpeg),
            ).order_by(Evidence.received_at, Evidence.id)
        ).all()
        unlisted = [r for r in raw if r[0] not in by_evidence]
        # a snapshot taken for an event of the case, or a worker's photo for one of its tasks
        case_of_event = _case_of(session, EventRecord, [e for _, e, _, _, _ in unlisted if e])
        case_of_task = _case_of(session, Task, [t for _, _, t, _, _ in unlisted if t])
        items = []
        for ev_id, event_id, task_id, received_at, size in raw:
            case_id = (
                by_evidence.get(ev_id)
                or (case_of_event.get(event_id) if event_id else None)
                or (case_of_task.get(task_id) if task_id else None)
            )
            at = received_at
            if case_id in closed_at:
                at = max(at, closed_at[case_id])
            items.append(Kept(ev_id, at.timestamp(), size or 0, protected=case_id in open_cases))
        return items

    def _delete(self, model: type[Evidence] | type[DeadLetter], ids: list) -> None:  # type: ignore[type-arg]
        for chunk in _chunks(ids, self.settings.batch):
            with self.sessions.begin() as session:
                session.execute(delete(model).where(model.id.in_(chunk)))

    @staticmethod
    def _count(report: RetentionReport) -> None:
        metrics.DELETED.labels("evidence", "age").inc(report.evidence_expired)
        metrics.DELETED.labels("evidence", "quota").inc(report.evidence_over_quota)
        metrics.DELETED.labels("dead_letter", "age").inc(report.dead_letters_expired)
        metrics.DELETED.labels("dead_letter", "quota").inc(report.dead_letters_over_quota)
        metrics.BYTES.labels("evidence").set(report.evidence_bytes)
        metrics.BYTES.labels("dead_letter").set(report.dead_letter_bytes)
        metrics.KEPT_FOR_OPEN_CASES.set(report.evidence_kept_for_open_cases)
        if report.deleted:
            log.info(
                "retention: deleted %d evidence snapshot(s) (%d past their days, %d over the quota, %.1f MB) "
                "and %d dead letter(s) (%d past their days, %d over the quota); %d old snapshot(s) kept for "
                "open cases",
                report.evidence_expired + report.evidence_over_quota,
                report.evidence_expired,
                report.evidence_over_quota,
                report.evidence_bytes_freed / MB,
                report.dead_letters_expired + report.dead_letters_over_quota,
                report.dead_letters_expired,
                report.dead_letters_over_quota,
                report.evidence_kept_for_open_cases,
            )


class RetentionTimer:
    """Starts a sweep every ``interval_s`` from the gateway's loop, in a thread of its own so that
    ingest never waits for it; a failed sweep is logged and tried again next time."""

    def __init__(self, retention: Retention) -> None:
        self.retention = retention
        self._next: datetime | None = None
        self._thread: threading.Thread | None = None
        self.last: RetentionReport | None = None

    def maybe_start(self, now: datetime) -> bool:
        if (self._next is not None and now < self._next) or (self._thread and self._thread.is_alive()):
            return False
        self._next = now + timedelta(seconds=self.retention.settings.interval_s)
        self._thread = threading.Thread(target=self._run, args=(now,), name="retention", daemon=True)
        self._thread.start()
        return True

    def _run(self, now: datetime) -> None:
        try:
            self.last = self.retention.sweep(now)
        except Exception:
            log.exception(
                "retention sweep failed; trying again in %.0f s", self.retention.settings.interval_s
            )

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
