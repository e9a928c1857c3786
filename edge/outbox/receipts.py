"""What the uplink has sent and waits to hear a gateway has committed.

A broker's PUBACK is one hop: the broker has the message, no gateway may ever get it
(a restart without persistence, a full queue, nobody subscribed). So events,
statuses and evidence (:data:`RECEIPTED`) stay in the outbox after their PUBACK, *awaiting
a receipt*: the gateway's :class:`contracts.DeliveryReceipt`, sent after the commit
that applied them. Telemetry and health leave on the PUBACK (one hop: a lost reading
is followed by the next one).

When is a row sent again?

- Its receipt is overdue: ``timeout_s`` after its PUBACK, doubling with every
  attempt up to ``resend_max_s`` — a gateway that is down for long is not flooded —
  unless receipts are still advancing towards it: a gateway working through a
  backlog is not sent the backlog again.
- The broker said "no matching subscribers" (PUBACK 0x10): no gateway is listening
  (it is reconnecting, or the broker forgot its subscription in a restart). Sent
  again soon — 0.5 s, doubling up to 4 s — and counted, and the node's health
  warns. Until a PUBACK says someone listens again, nothing new is sent: the node
  does not drain its backlog into a broker that hands it to nobody; the rows sent
  again are the probes.
- A receipt covers numbers sent after it but not it, ``REORDER_S`` after it was sent:
  the gateway is alive and has moved past it, so it was lost on the way.
- Receipts start again after a silence: the gateway is back. Every row is due at
  once and the back-off starts over — but rows above what the receipts cover wait
  while the receipts keep advancing (the gateway is still taking what the broker
  queued for it); ``REORDER_S`` after they stop, what is left goes.
- Every new connection sends everything still in the outbox, in order (the uplink
  replays from the oldest row), since a broker that restarted may have lost it.

A re-sent message is harmless: the gateway's ledger recognises its id, and it earns
a receipt like any other. Rows awaiting a receipt are bounded (``limit``): past it
the uplink sends nothing new until receipts come.

This book is touched only by the uplink thread; :class:`ReceiptStats` is what other
threads (health, metrics) read.
"""

from __future__ import annotations

import heapq
import logging
from bisect import bisect_right
from dataclasses import dataclass

from contracts import DeliveryReceipt
from contracts.delivery import merge_ranges
from edge.emit import Priority
from edge.outbox import metrics

log = logging.getLogger(__name__)

RECEIPTED = Priority.STATUS  # this priority and above wait for a receipt: statuses, evidence, events
# A row a receipt passed over is sent again once it is this old (shared subscriptions reorder a little).
REORDER_S = 2.0
NO_SUBSCRIBER_RETRY_S = 0.5
NO_SUBSCRIBER_RETRY_MAX_S = 4.0
MAX_COVERAGE_RANGES = 1024  # receipted ranges remembered (the lowest are forgotten first)


class Awaiting:
    """One row sent and waiting for a receipt (its PUBACK may still be on the way)."""

    __slots__ = (
        "backoff",
        "created_at",
        "done",
        "due",
        "no_subscriber",
        "pos",
        "priority",
        "sending",
        "sent_at",
        "seq",
    )

    def __init__(self, seq: int, pos: int, priority: Priority, created_at: float) -> None:
        self.seq = seq
        self.pos = pos
        self.priority = priority
        self.created_at = created_at  # unix seconds, when it was emitted
        self.sent_at = 0.0  # monotonic, last PUBACK
        self.due = 0.0  # monotonic, when it is sent again
        self.backoff = 0  # doublings of the wait
        self.sending = True  # published, PUBACK not in yet
        self.no_subscriber = False  # the last PUBACK said "no matching subscribers"
        self.done = False  # covered by a receipt (deleted)


@dataclass
class ReceiptStats:
    awaiting: int = 0
    oldest_created_at: float | None = None  # unix seconds: the oldest row awaiting a receipt
    receipts_total: int = 0
    receipted_total: int = 0
    resent_total: int = 0
    no_subscriber_total: int = 0
    last_no_subscriber_at: float | None = None  # monotonic
    last_receipt_at: float | None = None  # monotonic
    last_advance_at: float = float("-inf")  # monotonic: when a receipt last covered a higher number
    ignored_total: int = 0
    ignored_why: str = ""


class Coverage:
    """What the receipts so far cover, for quick look-ups."""

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        self.ranges = ranges
        self._starts = [a for a, _ in ranges]
        self.highest = ranges[-1][1] if ranges else 0

    def covers(self, seq: int) -> bool:
        i = bisect_right(self._starts, seq) - 1
        return i >= 0 and seq <= self.ranges[i][1]


class ReceiptBook:
    def __init__(self, node_id: str, timeout_s: float, resend_max_s: float, limit: int) -> None:
        self.node_id = node_id
        self.timeout_s = timeout_s
        self.resend_max_s = max(resend_max_s, timeout_s)
        self.limit = limit
        self.stats = ReceiptStats()
        self._awaiting: dict[int, Awaiting] = {}  # by seq; insertion order is seq order (sent in order)
        self._due: list[tuple[float, int]] = []  # heap of (due, seq); stale entries are skipped
        self.coverage = Coverage([])  # what receipts said: facts that stay true across connections
        self.nobody_listening = False  # the last PUBACK of an event said "no matching subscribers"

    # -- sending ---------------------------------------------------------------------
    def reset(self) -> None:
        """A new connection: the uplink sends everything in the outbox again, in order."""
        self.stats.resent_total += len(self._awaiting)
        metrics.RESENT.inc(len(self._awaiting))
        self._awaiting.clear()
        self._due.clear()
        self.nobody_listening = False  # a new connection: ask again
        self._publish_stats()

    @property
    def room(self) -> int:
        """How many new rows may be sent: up to the bound on awaiting rows, none while nobody listens."""
        return 0 if self.nobody_listening else max(0, self.limit - len(self._awaiting))

    def sending(self, seq: int, pos: int, priority: Priority, created_at: float) -> Awaiting:
        entry = self._awaiting.get(seq)
        if entry is None:
            entry = self._awaiting[seq] = Awaiting(seq, pos, priority, created_at)
        entry.sending = True
        return entry

    def due(self, now: float, limit: int) -> list[Awaiting]:
        """Rows to send again now (at most ``limit``), marked as being sent."""
        out: list[Awaiting] = []
        while self._due and self._due[0][0] <= now and len(out) < limit:
            due, seq = heapq.heappop(self._due)
            entry = self._awaiting.get(seq)
            if entry is None or entry.sending or entry.due != due:
                continue  # covered, already on its way, or rescheduled
            if seq > self.coverage.highest and now - self.stats.last_advance_at < REORDER_S:
                # Receipts are still coming towards it: the gateway is behind, not missing it.
                self._schedule(entry, self.stats.last_advance_at + REORDER_S)
                continue
            entry.sending = True
            entry.backoff += 1
            out.append(entry)
        if out:
            self.stats.resent_total += len(out)
            metrics.RESENT.inc(len(out))
        return out

    def acked(self, entry: Awaiting, now: float) -> bool:
        """The broker's PUBACK (success). True when a receipt already covers it: delete it now."""
        entry.sending = False
        if entry.done:
            return False  # a receipt covered it while it was on its way (already deleted)
        if self.coverage.covers(entry.seq):
            self._forget(entry)
            return True
        self.nobody_listening = False
        if entry.no_subscriber:  # someone listens again: the timeout starts over
            entry.no_subscriber, entry.backoff = False, 0
        entry.sent_at = now
        self._schedule(entry, now + min(self.timeout_s * 2**entry.backoff, self.resend_max_s))
        return False

    def no_subscriber(self, entry: Awaiting, now: float) -> None:
        """PUBACK 0x10: the broker took it and handed it to nobody."""
        entry.sending = False
        if entry.done:
            return
        entry.no_subscriber = True
        entry.sent_at = now
        self.nobody_listening = True
        self.stats.no_subscriber_total += 1
        self.stats.last_no_subscriber_at = now
        metrics.NO_SUBSCRIBER.inc()
        retry = min(NO_SUBSCRIBER_RETRY_S * 2**entry.backoff, NO_SUBSCRIBER_RETRY_MAX_S, self.timeout_s)
        self._schedule(entry, now + retry)

    def release(self) -> list[Awaiting]:
        """No receipts will come (the broker refused the subscription): the rows waiting for one
        are taken as delivered on their PUBACK, like telemetry. Returns those to delete."""
        released = [e for e in self._awaiting.values() if not e.sending]
        for entry in released:
            self._forget(entry)
        return released

    def gone(self, entry: Awaiting) -> None:
        """No longer in the outbox (refused for good, or evicted): nothing to wait for."""
        self._forget(entry)

    def _schedule(self, entry: Awaiting, due: float) -> None:
        entry.due = due
        heapq.heappush(self._due, (due, entry.seq))

    def _forget(self, entry: Awaiting) -> None:
        entry.done = True
        self._awaiting.pop(entry.seq, None)
        if not self._awaiting:
            self.nobody_listening = False  # no row left to probe with: the next new one does

    # -- receipts ----------------------------------------------------------------------
    def receipt(self, receipt: DeliveryReceipt, now: float, last_seq: int) -> list[Awaiting]:
        """Apply a gateway's receipt; returns the rows it covers (to delete)."""
        ranges = receipt.ranges()
        if ranges and ranges[-1][1] > last_seq:
            # It speaks of numbers this node never handed out: the gateway remembers an earlier
            # life of this node (its state was wiped). Trusting it would delete unsent rows.
            self.stats.ignored_total += 1
            self.stats.ignored_why = (
                f"gateway {receipt.source} reports numbers up to {ranges[-1][1]} but this node has handed "
                f"out only {last_seq}; its receipts are ignored until the gateway notices the restart"
            )
            log.warning("receipt ignored: %s", self.stats.ignored_why, extra={"node_id": self.node_id})
            return []
        silent = self.stats.last_receipt_at is None or now - self.stats.last_receipt_at > self.timeout_s
        self.stats.receipts_total += 1
        self.stats.last_receipt_at = now
        if ranges and ranges[-1][1] > self.coverage.highest:
            self.stats.last_advance_at = now
        # Receipts from several gateways may arrive out of order; each one is true, so keep both.
        merged = merge_ranges([*self.coverage.ranges, *ranges])
        self.coverage = coverage = Coverage(merged[-MAX_COVERAGE_RANGES:])
        covered: list[Awaiting] = []
        for seq, entry in self._awaiting.items():
            if seq > coverage.highest:
                break
            if coverage.covers(seq):
                covered.append(entry)
            elif not entry.sending and now - entry.sent_at >= REORDER_S and entry.due > now:
                self._schedule(entry, now)  # the gateway has moved past it: lost on the way
        for entry in covered:
            self._forget(entry)
        if silent:  # the gateway is back: what waited through the silence is due now
            for entry in self._awaiting.values():
                if not entry.sending:
                    entry.backoff = 0
                    self._schedule(entry, now)
        self.stats.receipted_total += len(covered)
        metrics.RECEIPTS.inc()
        metrics.RECEIPTED.inc(len(covered))
        return covered

    def _publish_stats(self) -> None:
        self.stats.awaiting = len(self._awaiting)
        first = next(iter(self._awaiting.values()), None)
        self.stats.oldest_created_at = first.created_at if first else None

    def settle(self) -> None:
        """Refresh what other threads read (called by the uplink after each round)."""
        self._publish_stats()

    @property
    def count(self) -> int:
        """Rows sent and waiting for a receipt (uplink thread; other threads read ``stats``)."""
        return len(self._awaiting)
