"""Validate, deduplicate and apply a batch of MQTT messages in one transaction.

The consumer acknowledges the batch to the broker only after :meth:`process`
returns, i.e. after the commit: an acknowledged message is never lost.

One batch, one transaction, few statements:

1. decode every payload against the contracts and admit it (a sender the
   site knows, not dated in the future; no database yet);
2. keep the refused ones as dead letters (one multi-row INSERT);
3. *claim* the (source, id) of state-changing messages in the ledger (one
   ``INSERT … ON CONFLICT DO NOTHING RETURNING``): what comes back is new,
   the rest are redeliveries, replays or another gateway's;
4. load the open cases of all the batch's places (one query) and fold the
   events into them, opening cases (and dispatching) where there are none;
5. settle the ledger (which case, which outcome) and the per-source
   sequence bookkeeping; commit;
6. only then: telemetry to its sink, metrics, log lines.

The contracts refuse what the database would (integers past BIGINT, NUL in
text, timestamps out of range), so a valid message does not fail its INSERT.
If a batch fails anyway it is retried (a deadlock or a lock timeout with
another gateway), or split in halves until the message that breaks it stands
alone (a bug triggered by one payload: about 2·log2(n) transactions, not n);
that message is dead-lettered so that it cannot block the stream. A store that
cannot take writes raises :class:`StoreUnavailable` and nothing is
acknowledged.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from contracts import (
    ContractError,
    DeviceStatus,
    EdgeHealth,
    EvidenceSnapshot,
    HazardCategory,
    HazardEvent,
    LocationFix,
    Message,
    NodeStatus,
    SensorReading,
    TaskUpdate,
    decode,
    topics,
)
from gateway import metrics
from gateway.cases import repeats as repeats_mod
from gateway.cases.correlation import CaseBook, PlaceKey
from gateway.cases.corroboration import WITNESSES
from gateway.cases.service import Place, resolve_place
from gateway.context import GatewayContext
from gateway.dispatch.book import WorkerBook
from gateway.events import service as ledger
from gateway.events.outcomes import Outcome
from gateway.events.service import EventKey, LateClears, key_of
from gateway.evidence.service import EvidenceRejected, link_evidence, store_evidence
from gateway.flows import fleet
from gateway.flows.hazard_events import LATE_CLEAR_WINDOW, take_hazard
from gateway.flows.location_fixes import apply_fix
from gateway.flows.task_updates import take_task_update
from gateway.ingest.admission import Admission
from gateway.ingest.incoming import Incoming
from gateway.ingest.sequences import SequenceReport, SequenceTracker, refused_envelope
from gateway.ingest.throttle import LogThrottle
from gateway.store import sqlite_rows
from gateway.store.errors import is_store_down, is_transient, sqlstate, unique_violation
from gateway.telemetry import NullTelemetry, TelemetrySink

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
PLACE_CACHE = 10_000  # resolved places remembered (devices x zones x locations)
# The one-open-case-per-place index, as PostgreSQL (its name) and SQLite (its columns) report it.
OPEN_PLACE_INDEX = frozenset({"uq_cases_open_place", "cases.hazard_type, cases.place_key"})


_LEDGERED = (HazardEvent, TaskUpdate)  # the kinds the ledger claims (exact classes: what decode makes)
# Enum members bound once: reading one through its class costs ~0.2 µs on Python 3.11.
_APPLIED, _TELEMETRY = Outcome.APPLIED, Outcome.TELEMETRY
_MAINTENANCE = HazardCategory.MAINTENANCE


class StoreUnavailable(RuntimeError):
    """The database cannot take writes; the consumer must not acknowledge."""


@dataclass(slots=True)
class _Item:
    incoming: Incoming
    message: Message | None = None
    error: ContractError | None = None
    outcome: Outcome | None = None
    place: Place | None = None  # where a hazard event happened, resolved once per batch
    repeat_of: repeats_mod.OpenCase | None = None  # folded without the ORM (cases/repeats.py)

    @property
    def kind(self) -> str:
        return self.message.kind if self.message is not None else "invalid"  # type: ignore[union-attr]


@dataclass
class _Work:
    """What one attempt at a batch did, acted upon only after its commit."""

    telemetry: list[SensorReading | EdgeHealth] = field(default_factory=list)
    counts: list[tuple[object, tuple[str, ...]]] = field(default_factory=list)
    dead_letters: list[ledger.Rejected] = field(default_factory=list)
    sequences: SequenceReport = field(default_factory=SequenceReport)
    case_of_event: dict[EventKey, str] = field(default_factory=dict)
    snapshots: list[EvidenceSnapshot] = field(default_factory=list)  # stored in this batch
    redriven: set[EventKey] = field(default_factory=set)  # refused task updates applied after all
    fleet: fleet.FleetBatch = field(default_factory=fleet.FleetBatch)  # what devices said of themselves

    def count(self, counter: object, *labels: str) -> None:
        self.counts.append((counter, labels))


@dataclass(frozen=True, slots=True)
class _Opening:
    """What a batch read once for the cases it opens (none when it opens none)."""

    workers: WorkerBook | None = None
    clears: LateClears | None = None


CommitHook = Callable[[list[Incoming], list[Outcome]], None]


class Pipeline:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        ctx: GatewayContext,
        telemetry: TelemetrySink | None = None,
        sequences: SequenceTracker | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.sessions = sessions
        self.ctx = ctx
        self.telemetry = telemetry or NullTelemetry()
        self.sequences = sequences or SequenceTracker()
        self.admission = admission or Admission(ctx.site)
        self.after_commit: list[CommitHook] = []  # e.g. a benchmark's clock; must be quick
        # A flood of bad input is one line per reason and minute, then a count of the rest.
        self._log = LogThrottle(log, per_minute=1)
        self._places: dict[tuple[object, ...], Place] = {}
        self.fleet = fleet.FleetMemo()

    # -- the batch -----------------------------------------------------------
    def process(self, batch: list[Incoming]) -> list[Outcome]:
        if not batch:
            return []
        started = time.perf_counter()
        now = self.ctx.now()
        items = [self._decode(m, now) for m in batch]
        done = self._isolate(items, now)
        for work in done:
            self._after_commit(work)
        outcomes = [item.outcome or _APPLIED for item in items]
        lag_now = self.ctx.now()
        # Counted per batch: a metric call per message was ~5 % of the batch loop (issue 19).
        tally = Counter(zip([item.kind for item in items], outcomes, strict=True))
        metrics.observe_many(
            metrics.INGEST_LAG,
            [
                max(0.0, (lag_now - item.message.ts).total_seconds())
                for item, outcome in zip(items, outcomes, strict=True)
                if outcome is _APPLIED and item.message is not None
            ],
        )
        for (kind, outcome), n in tally.items():
            metrics.MESSAGES.labels(kind, outcome.value).inc(n)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        metrics.BATCH_SIZE.observe(len(batch))
        for hook in self.after_commit:
            hook(batch, outcomes)
        return outcomes

    def _decode(self, m: Incoming, now: datetime) -> _Item:
        try:
            message = decode(m.topic, m.payload)
        except ContractError as exc:
            return _Item(m, error=exc)
        except Exception as exc:  # a decoder bug must cost one dead letter, not the gateway
            self._log.warning(
                "decoder_error",
                "decoder failed on a payload from %s",
                m.topic,
                extra={"topic": m.topic},
                exc_info=True,
            )
            return _Item(m, error=ContractError("decoder_error", f"{type(exc).__name__}: {exc}"[:500]))
        refusal = self.admission.refusal(topics.parse(m.topic), message, now)
        if refusal is not None:
            return _Item(m, error=refusal)
        return _Item(m, message=message)

    def _attempt(self, items: list[_Item], now: datetime) -> _Work:
        """Run the batch in one transaction, retrying what another writer caused."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            for item in items:
                item.outcome = None
                item.repeat_of = None  # read again in the next attempt's transaction
            try:
                return self._transaction(items, now)
            except DBAPIError as exc:
                if is_store_down(exc):
                    raise StoreUnavailable(str(exc.orig)) from exc
                # Another gateway opened a case of one of our new places after we looked: the next
                # attempt finds it and folds the events into it (cases are flushed with the batch).
                raced = unique_violation(exc) in OPEN_PLACE_INDEX
                if not (is_transient(exc) or raced) or attempt == MAX_ATTEMPTS:
                    raise
                metrics.BATCH_RETRIES.labels("transient").inc()
                log.info("batch hit %s; retrying (attempt %d)", sqlstate(exc) or "a lock", attempt + 1)
                time.sleep(random.uniform(0.005, 0.05) * attempt)
        raise AssertionError("unreachable")

    def _isolate(self, items: list[_Item], now: datetime) -> list[_Work]:
        """Apply the batch; if a message breaks it, split it until that message stands alone.

        Halves keep the batch's order (the first is committed before the second starts).
        """
        try:
            return [self._attempt(items, now)]
        except StoreUnavailable:
            raise
        except Exception as exc:
            if len(items) == 1:
                return [self._dead_letter_alone(items[0], exc, now)]
            metrics.BATCH_RETRIES.labels("bad_message").inc()
            self._log.warning(
                "batch_failed",
                "batch of %d failed (%s: %s); splitting it to find the message that breaks it",
                len(items),
                type(exc).__name__,
                exc,
            )
            half = len(items) // 2
            return self._isolate(items[:half], now) + self._isolate(items[half:], now)

    def _dead_letter_alone(self, item: _Item, exc: Exception, now: datetime) -> _Work:
        self._log.warning(
            "processing_error",
            "message on %s could not be applied; dead-lettering it",
            item.incoming.topic,
            extra={"topic": item.incoming.topic},
            exc_info=exc,
        )
        rejected = ledger.Rejected(
            item.incoming.topic, item.incoming.payload, "processing_error", f"{type(exc).__name__}: {exc}"
        )
        work = _Work(dead_letters=[rejected])
        try:
            with self.sessions.begin() as session:
                ledger.dead_letters(session, [rejected], now)
                # Held as a dead letter: receipted, so its node does not send it again and again.
                self.sequences.observe(session, [], now, work.sequences, refused=_refused([item]))
        except Exception as again:
            raise StoreUnavailable(f"cannot write even a dead letter: {again}") from again
        item.outcome = Outcome.DEAD_LETTER
        return work

    def _transaction(self, items: list[_Item], now: datetime) -> _Work:
        work = _Work()
        with self.sessions.begin() as session:
            # 1. refused payloads
            for item in items:
                if item.error is not None:
                    work.dead_letters.append(
                        ledger.Rejected(
                            item.incoming.topic, item.incoming.payload, item.error.reason, item.error.detail
                        )
                    )
                    item.outcome = Outcome.DEAD_LETTER
            # 2. claim state-changing messages: the ledger decides what is new
            first_of: dict[EventKey, _Item] = {}
            for item in items:
                message = item.message
                if type(message) in _LEDGERED:
                    key = (message.source, message.id)  # type: ignore[union-attr]  # key_of
                    if key in first_of:
                        item.outcome = Outcome.DUPLICATE  # twice in one batch
                    else:
                        first_of[key] = item
            # On SQLite the open cases are read before the claim (no other writer can change them
            # under the write lock the transaction holds): the ledger rows of the plain repeats are
            # then written with their case at once instead of updated again (attach_cases).
            open_cases, guessed = (None, {})
            if sqlite_rows.is_sqlite(session):
                open_cases, guessed = self._guess_cases(session, items, first_of)
            won = ledger.claim(
                session,
                [
                    ledger.Claim(i.message, i.incoming.topic, i.incoming.payload.decode(errors="replace"))  # type: ignore[arg-type]
                    for i in first_of.values()
                ],
                now,
                self.ctx.gateway_id,
                case_of=guessed,
            )
            for key, item in first_of.items():
                if key not in won:
                    item.outcome = Outcome.DUPLICATE
            # 3. cases: one query for every place in the batch; for the places with no open case,
            #    one for the cases near them and one round for the workers near them
            book = CaseBook(session, self.ctx, batched=True)
            hazards = [i for i in items if type(i.message) is HazardEvent and i.outcome is None]
            keys = [(i.message.hazard_type.value, (i.place or self._place(i)).key) for i in hazards]  # type: ignore[union-attr]
            repeats = self._plain_repeats(session, items, hazards, keys, open_cases)
            book.prefetch(k for k, i in zip(keys, hazards, strict=True) if i.repeat_of is None)
            opening = self._opening(session, book, hazards, now)
            for item in items:
                if item.outcome is None:
                    item.outcome = self._apply(session, item, now, book, work, opening)
            # Before anything below reads a case through the ORM (evidence links, the fleet's
            # offline cases): it then loads the row with the repeats in it.
            repeats_mod.write(session, repeats)
            if work.snapshots or work.case_of_event:
                link_evidence(session, work.case_of_event, work.snapshots)
            if work.fleet:
                fleet.apply(session, self.ctx, work.fleet, now, self.fleet)
            # 4. settle the ledger and the sequence bookkeeping (last: shortest locks)
            ledger.attach_cases(session, _unguessed(work.case_of_event, guessed, won))
            if work.dead_letters:
                ledger.dead_letters(session, work.dead_letters, now)
            self.sequences.observe(session, _observed(items), now, work.sequences)
        if work.redriven:
            for item in items:
                if item.message is not None and key_of(item.message) in work.redriven:
                    item.outcome = Outcome.APPLIED
        return work

    def _plain_repeats(
        self,
        session: Session,
        items: list[_Item],
        hazards: list[_Item],
        keys: list[PlaceKey],
        open_cases: dict[PlaceKey, repeats_mod.OpenCase] | None = None,
    ) -> list[repeats_mod.OpenCase]:
        """The open cases whose events in this batch are all plain repeats (gateway/cases/repeats.py),
        each such event marked with its case; the rest of the batch goes through the ORM.

        None of it when a place has no open case (its event may open one, or join a case nearby
        that the ORM then holds too) or the batch holds messages that may move a case (task
        updates, location fixes): then the whole batch goes the ORM's way, as before.
        ``open_cases``: read already in this transaction (for at least these keys).
        """
        plain = _plain_plan(session, items, hazards, keys, open_cases)
        for case, mine in plain:
            for item in mine:
                item.repeat_of = case
        return [case for case, _ in plain]

    def _guess_cases(
        self, session: Session, items: list[_Item], first_of: dict[EventKey, _Item]
    ) -> tuple[dict[PlaceKey, repeats_mod.OpenCase] | None, dict[EventKey, str]]:
        """Before the claim: the open cases of the batch's places, and the case each hazard event
        will be folded into as a plain repeat if the ledger finds it new.

        The plan of :func:`_plain_plan` over every candidate (the claim only takes some away) is a
        safe guess: fewer events of a case are still all plain, fewer places still all have an open
        case, a batch without task updates or fixes still has none — so each guessed event that is
        new is folded into the guessed case. (What goes another way anyway is set right by
        ``attach_cases``: see :func:`_unguessed`.)
        """
        hazards = [i for i in first_of.values() if type(i.message) is HazardEvent]
        if not hazards:
            return None, {}
        keys = [(i.message.hazard_type.value, self._place(i).key) for i in hazards]  # type: ignore[union-attr]
        open_cases = repeats_mod.read_open(session, keys) if _may_fold(items) else None
        plan = _plain_plan(session, items, hazards, keys, open_cases)
        return open_cases, {key_of(i.message): case.id for case, mine in plan for i in mine}  # type: ignore[arg-type]

    def _opening(self, session: Session, book: CaseBook, hazards: list[_Item], now: datetime) -> _Opening:
        """Read once what the batch's new cases need: the open cases near their places (correlation
        and corroboration), earlier clears of their devices, the workers near them."""
        new = [i for i in hazards if book.absent((i.message.hazard_type.value, i.place.key))]  # type: ignore[union-attr]
        if not new:
            return _Opening()
        types: set[str] = set()
        for i in new:
            hazard = i.message.hazard_type  # type: ignore[union-attr]
            types.add(hazard.value)
            types.update(w.value for w in WITNESSES.get(hazard, ()))
        book.prefetch_near(types, (i.place.location for i in new if i.place.location is not None))  # type: ignore[union-attr]
        clears = LateClears(session, (i.message.device_id for i in new), now - LATE_CLEAR_WINDOW)  # type: ignore[union-attr]
        workers = WorkerBook(session, self.ctx, now)
        workers.preload(
            i.place.grid_id  # type: ignore[union-attr]
            for i in new
            if i.place.grid_id is not None and i.message.category is HazardCategory.EMERGENCY  # type: ignore[union-attr]
        )
        return _Opening(workers, clears)

    def _place(self, item: _Item) -> Place:
        """Where the event happened; remembered, since the site does not change under a running gateway
        and the same devices report again and again (a grid lookup per event is not free)."""
        event: HazardEvent = item.message  # type: ignore[assignment]
        address = topics.parse(item.incoming.topic)
        node_id = address.owner if address.role is topics.Role.NODE else None
        loc = event.location
        key = (node_id, event.device_id, event.zone_id, loc.lon if loc else None, loc.lat if loc else None)
        place = self._places.get(key)
        if place is None:
            if len(self._places) >= PLACE_CACHE:
                self._places.clear()
            place = self._places[key] = resolve_place(self.ctx, event, node_id)
        item.place = place
        return place

    def _after_commit(self, work: _Work) -> None:
        if work.telemetry:
            write_many = getattr(self.telemetry, "write_many", None)  # test sinks may lack it
            if write_many is not None:
                write_many(work.telemetry)
            else:
                for message in work.telemetry:
                    self.telemetry.write(message)
        for counter, labels in work.counts:
            counter.labels(*labels).inc()  # type: ignore[attr-defined]
        for reason, n in Counter(r.reason for r in work.dead_letters).items():
            metrics.DEAD_LETTERS.labels(reason).inc(n)
        for r in work.dead_letters:
            self._log.warning(
                r.reason,
                "dead letter on %s: %s: %s",
                r.topic,
                r.reason,
                r.detail[:300],
                extra={"topic": r.topic, "reason": r.reason},
            )
        self.sequences.after_commit(work.sequences)  # metrics, logs, receipts

    # -- one message ---------------------------------------------------------
    def _apply(
        self, session: Session, item: _Item, now: datetime, book: CaseBook, work: _Work, opening: _Opening
    ) -> Outcome:
        message = item.message
        kind = type(message)
        # The two shapes of a busy stream first, whole here (the messages decode() makes are of these
        # exact classes): a reading, and a hazard event folded into its open case as a plain repeat.
        if kind is SensorReading:
            heard, ts = work.fleet.hear, message.ts  # type: ignore[union-attr]
            heard(message.source, ts)  # type: ignore[union-attr]
            heard(message.device_id, ts)  # type: ignore[union-attr]
            work.telemetry.append(message)  # type: ignore[arg-type]
            return _TELEMETRY
        if kind is HazardEvent and item.repeat_of is not None:
            work.fleet.hear(message.source, message.ts)  # type: ignore[union-attr]
            if message.category is _MAINTENANCE:  # type: ignore[union-attr]
                work.fleet.trouble(message)  # type: ignore[arg-type]
            else:
                work.fleet.hear(message.device_id, message.ts)  # type: ignore[union-attr]
            item.repeat_of.fold(message, now)  # type: ignore[arg-type]
            work.case_of_event[(message.source, message.id)] = item.repeat_of.id  # type: ignore[union-attr]
            return _APPLIED
        self._note_fleet(item, work.fleet)
        if isinstance(message, EdgeHealth):
            work.telemetry.append(message)
            return Outcome.TELEMETRY
        if opening.workers is not None:  # worker state changes another way: later decisions read again
            if isinstance(message, LocationFix):
                opening.workers.forget(message.worker_id)
            elif isinstance(message, TaskUpdate):
                opening.workers.clear()  # a decline may re-dispatch the case to anyone
        if isinstance(message, LocationFix):
            return Outcome.APPLIED if apply_fix(session, self.ctx, message, now) else Outcome.STALE
        if isinstance(message, EvidenceSnapshot):
            try:
                stored = store_evidence(session, message, now)
            except EvidenceRejected as exc:
                work.dead_letters.append(
                    ledger.Rejected(item.incoming.topic, item.incoming.payload, "bad_evidence", str(exc))
                )
                return Outcome.DEAD_LETTER
            if stored:
                work.snapshots.append(message)
            return Outcome.APPLIED if stored else Outcome.DUPLICATE
        if isinstance(message, TaskUpdate):
            return self._apply_task_update(session, message, now, work)
        if isinstance(message, HazardEvent):  # a plain repeat was folded above
            self._apply_hazard(session, item, message, now, book, work, opening)
            return Outcome.APPLIED
        return Outcome.APPLIED  # statuses: the registry keeps them (flows/fleet.py, via _note_fleet)

    @staticmethod
    def _note_fleet(item: _Item, batch: fleet.FleetBatch) -> None:
        """What a node or device said of itself, or showed by speaking (workers are not devices)."""
        message = item.message
        if message is None or isinstance(message, TaskUpdate | LocationFix):
            return
        if isinstance(message, NodeStatus):
            batch.status(message)  # a retained "offline" (its last will) is not the node speaking
            return
        if isinstance(message, EdgeHealth):
            batch.edge_health(message)
            return
        batch.hear(message.source, message.ts)
        if isinstance(message, DeviceStatus):
            batch.status(message)
        elif isinstance(message, HazardEvent) and message.category is HazardCategory.MAINTENANCE:
            batch.trouble(message)  # about the device, not from it: a camera offline does not speak
        elif isinstance(message, SensorReading | EvidenceSnapshot | HazardEvent):
            batch.hear(message.device_id, message.ts)

    def _apply_hazard(
        self,
        session: Session,
        item: _Item,
        event: HazardEvent,
        now: datetime,
        book: CaseBook,
        work: _Work,
        opening: _Opening,
    ) -> None:
        place = item.place or self._place(item)
        taken = take_hazard(session, self.ctx, event, place, now, book, opening.workers, opening.clears)
        work.case_of_event.update(taken.case_of_event)
        if taken.opened is not None:
            work.count(metrics.CASES_OPENED, event.hazard_type.value)
        if taken.decision is not None:
            work.count(metrics.DISPATCHES, taken.decision.reason_code)

    def _apply_task_update(self, session: Session, update: TaskUpdate, now: datetime, work: _Work) -> Outcome:
        reported = take_task_update(session, self.ctx, update, now)
        work.redriven.update(reported.redriven)
        return Outcome.APPLIED if reported.applied else Outcome.REFUSED


def _may_fold(items: list[_Item]) -> bool:
    """No message that may move a case (task updates, location fixes) is left to apply."""
    return not any(type(i.message) in _MOVES_CASES and i.outcome is None for i in items)


_MOVES_CASES = (TaskUpdate, LocationFix)


def _plain_plan(
    session: Session,
    items: list[_Item],
    hazards: list[_Item],
    keys: list[PlaceKey],
    open_cases: dict[PlaceKey, repeats_mod.OpenCase] | None,
) -> list[tuple[repeats_mod.OpenCase, list[_Item]]]:
    """The open cases whose events among ``hazards`` are all plain repeats, with those events
    (see :meth:`Pipeline._plain_repeats`)."""
    if not hazards or not _may_fold(items):
        return []
    if open_cases is None:
        open_cases = repeats_mod.read_open(session, keys)
    places = set(keys)
    if not places <= open_cases.keys():
        return []
    events: dict[str, list[_Item]] = {}
    for item, key in zip(hazards, keys, strict=True):
        events.setdefault(open_cases[key].id, []).append(item)
    plain: list[tuple[repeats_mod.OpenCase, list[_Item]]] = []
    for key in places:  # the cases of these places only (open_cases may hold more)
        case = open_cases[key]
        mine = events[case.id]
        if all(case.plain(i.message) for i in mine):  # type: ignore[arg-type]
            plain.append((case, mine))
    return plain


def _unguessed(
    case_of_event: dict[EventKey, str], guessed: dict[EventKey, str], won: set[EventKey]
) -> dict[EventKey, str | None]:
    """What ``attach_cases`` still has to write: the cases not written with the claim, and None for
    a guessed event that is new but went into no case (not expected: a guess is a plain repeat)."""
    if not guessed:
        return case_of_event  # type: ignore[return-value]
    out: dict[EventKey, str | None] = {k: c for k, c in case_of_event.items() if guessed.get(k) != c}
    for key in guessed.keys() - case_of_event.keys():
        if key in won:
            out[key] = None
    return out


def _refused(items: Iterable[_Item]) -> list[tuple[str, str, int]]:
    """(topic, source, seq) of dead-lettered payloads whose envelope says whose they are."""
    out = []
    for item in items:
        if item.incoming.retain:
            continue
        message = item.message
        found = (
            (message.source, message.seq)
            if message is not None
            else refused_envelope(item.incoming.topic, item.incoming.payload)
        )
        if found is not None and found[1] > 0:
            out.append((item.incoming.topic, *found))
    return out


def _observed(items: list[_Item]) -> list[tuple[str, Message] | tuple[str, str, int]]:
    """What the sequence bookkeeping takes from a batch, in the batch's order: (topic, message) of
    what was decoded, (topic, source, seq) of refused payloads whose envelope says whose they are
    — the order one message per batch would give."""
    out: list[tuple[str, Message] | tuple[str, str, int]] = []
    for item in items:
        if item.incoming.retain:
            continue
        if item.message is not None:
            out.append((item.incoming.topic, item.message))
        elif item.error is not None:
            out.extend(_refused([item]))
    return out
