"""Validate, deduplicate and apply a batch of MQTT messages in one transaction.

The consumer acknowledges the batch to the broker only after :meth:`process`
returns, i.e. after the commit: an acknowledged message is never lost. If the
batch fails (a race with another gateway, a bug triggered by one payload) it
is redone message by message, and a message that still fails is dead-lettered
so that it cannot block the stream.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from contracts import (
    ContractError,
    EdgeHealth,
    EvidenceSnapshot,
    HazardCategory,
    HazardEvent,
    LocationFix,
    Message,
    SensorReading,
    TaskUpdate,
    decode,
    topics,
)
from gateway import metrics
from gateway.cases.notices import notify_centre
from gateway.cases.service import record_hazard
from gateway.context import GatewayContext
from gateway.dispatch.service import start_case
from gateway.dispatch.updates import TaskUpdateRefused, apply_task_update
from gateway.events import service as ledger
from gateway.evidence.service import EvidenceRejected, store_evidence
from gateway.telemetry import NullTelemetry, TelemetrySink
from gateway.workers.fixes import apply_fix

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    DEAD_LETTER = "dead_letter"
    REFUSED = "refused"  # valid message that does not fit the current state
    TELEMETRY = "telemetry"
    STALE = "stale"  # older than what we have (location fixes)


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int = 0
    qos: int = 0
    received_at: float = field(default_factory=time.time)


class StoreUnavailable(RuntimeError):
    """The database cannot take writes; the consumer must not acknowledge."""


class Pipeline:
    def __init__(
        self, sessions: sessionmaker[Session], ctx: GatewayContext, telemetry: TelemetrySink | None = None
    ) -> None:
        self.sessions = sessions
        self.ctx = ctx
        self.telemetry = telemetry or NullTelemetry()
        # Counters to bump once the transaction commits (a redone batch must not count twice).
        self._on_commit: list[tuple[object, tuple[str, ...]]] = []

    def _count_after_commit(self, counter: object, *labels: str) -> None:
        self._on_commit.append((counter, labels))

    def _commit_counts(self) -> None:
        for counter, labels in self._on_commit:
            counter.labels(*labels).inc()  # type: ignore[attr-defined]
        self._on_commit.clear()

    def process(self, batch: list[Incoming]) -> list[Outcome]:
        if not batch:
            return []
        started = time.perf_counter()
        now = self.ctx.now()
        self._on_commit.clear()
        try:
            with self.sessions.begin() as session:
                results = [self._handle(session, m, now) for m in batch]
            self._commit_counts()
        except Exception as exc:
            self._on_commit.clear()
            if isinstance(exc, OperationalError) and _store_down(exc):
                raise StoreUnavailable(str(exc.orig)) from exc
            log.warning("batch of %d failed (%s); redoing one by one", len(batch), exc)
            results = [self._process_one(m, now) for m in batch]
        for kind, outcome, message in results:
            metrics.MESSAGES.labels(kind, outcome.value).inc()
            if message is not None and outcome is Outcome.APPLIED:
                metrics.INGEST_LAG.observe(max(0.0, (self.ctx.now() - message.ts).total_seconds()))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        metrics.BATCH_SIZE.observe(len(batch))
        return [outcome for _, outcome, _ in results]

    def _process_one(self, m: Incoming, now: datetime) -> tuple[str, Outcome, Message | None]:
        self._on_commit.clear()
        try:
            with self.sessions.begin() as session:
                result = self._handle(session, m, now)
            self._commit_counts()
            return result
        except Exception as exc:
            self._on_commit.clear()
            log.exception("message on %s could not be applied; dead-lettering it", m.topic)
            try:
                with self.sessions.begin() as session:
                    self._dead_letter(session, m, "processing_error", f"{type(exc).__name__}: {exc}", now)
                self._commit_counts()
            except Exception as again:
                raise StoreUnavailable(f"cannot write even a dead letter: {again}") from again
            return "unknown", Outcome.DEAD_LETTER, None

    def _dead_letter(self, session: Session, m: Incoming, reason: str, detail: str, now: datetime) -> None:
        ledger.dead_letter(session, m.topic, m.payload, reason, detail, now)
        self._count_after_commit(metrics.DEAD_LETTERS, reason)
        log.warning(
            "dead letter on %s: %s: %s",
            m.topic,
            reason,
            detail[:300],
            extra={"topic": m.topic, "reason": reason},
        )

    def _handle(self, session: Session, m: Incoming, now: datetime) -> tuple[str, Outcome, Message | None]:
        try:
            message = decode(m.topic, m.payload)
        except ContractError as exc:
            self._dead_letter(session, m, exc.reason, exc.detail, now)
            return "invalid", Outcome.DEAD_LETTER, None
        kind = message.kind
        if isinstance(message, SensorReading | EdgeHealth):
            self.telemetry.write(message)
            return kind, Outcome.TELEMETRY, message
        if isinstance(message, LocationFix):
            applied = apply_fix(session, self.ctx, message, now)
            return kind, (Outcome.APPLIED if applied else Outcome.STALE), message
        if isinstance(message, EvidenceSnapshot):
            try:
                stored = store_evidence(session, message, now)
            except EvidenceRejected as exc:
                self._dead_letter(session, m, "bad_evidence", str(exc), now)
                return kind, Outcome.DEAD_LETTER, message
            return kind, (Outcome.APPLIED if stored else Outcome.DUPLICATE), message
        if not isinstance(message, HazardEvent | TaskUpdate):
            # statuses: kept by later features (device registry); accepted here
            return kind, Outcome.APPLIED, message
        if ledger.already_seen(session, message.id):
            return kind, Outcome.DUPLICATE, message
        if isinstance(message, TaskUpdate):
            try:
                apply_task_update(session, self.ctx, message, now)
            except TaskUpdateRefused as exc:
                log.warning(
                    "task update %s refused: %s",
                    message.id,
                    exc,
                    extra={"worker_id": message.worker_id, "task_id": message.task_id},
                )
                ledger.record(session, message, m.topic, now)
                return kind, Outcome.REFUSED, message
            ledger.record(session, message, m.topic, now)
            return kind, Outcome.APPLIED, message
        self._apply_hazard(session, m.topic, message, now)
        return kind, Outcome.APPLIED, message

    def _apply_hazard(self, session: Session, topic: str, event: HazardEvent, now: datetime) -> None:
        address = topics.parse(topic)
        node_id = address.owner if address.role is topics.Role.NODE else None
        case, created = record_hazard(session, self.ctx, event, node_id, now)
        ledger.record(session, event, topic, now, case.id if case else None)
        if case is None or not created:
            return
        self._count_after_commit(metrics.CASES_OPENED, event.hazard_type.value)
        notify_centre(session, self.ctx, case, "opened", case.title, now)
        if event.category is not HazardCategory.EMERGENCY:
            return  # maintenance goes to installers via the centre, not to grid workers
        # SLA clock, first offer, and immediate escalation when nobody can go.
        decision = start_case(session, self.ctx, case, now)
        self._count_after_commit(metrics.DISPATCHES, decision.reason_code)


def _store_down(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return any(
        s in text
        for s in (
            "could not connect",
            "connection refused",
            "server closed",
            "terminating connection",
            "disk i/o error",
            "unable to open",
        )
    )
