"""Store-and-forward: every outgoing message goes to disk first, then to the broker.

:class:`Outbox` is the node's :class:`edge.emit.Emitter`: ``emit`` returns once
the message is committed to SQLite (numbered for its source); the uplink
publishes queued rows at QoS 1 in order. Telemetry and health leave on the
broker's PUBACK; events, statuses and evidence stay until a gateway's delivery
receipt says it committed them, and are sent again when none comes. See
:mod:`edge.outbox.store`, :mod:`edge.outbox.uplink` and :mod:`edge.outbox.receipts`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from contracts import Envelope, OutboxHealth, topics
from contracts.clock import Clock, SystemClock
from edge.emit import Priority
from edge.outbox import metrics
from edge.outbox.receipts import RECEIPTED, ReceiptBook
from edge.outbox.store import OutboxError, OutboxStore
from edge.outbox.uplink import Birth, Downlink, Uplink
from edge.settings import BrokerSettings, OutboxSettings

__all__ = ["Outbox", "OutboxError", "OutboxStore", "Uplink"]

log = logging.getLogger(__name__)

NO_SUBSCRIBER_WARN_S = 300.0  # a 'no matching subscribers' this recent is a warning in health


class Outbox:
    def __init__(
        self,
        node_id: str,
        path: Path,
        broker: BrokerSettings,
        settings: OutboxSettings | None = None,
        clock: Clock | None = None,
        *,
        will: tuple[str, bytes] | None = None,
        birth: Birth | None = None,
        farewell: Birth | None = None,
        client_id: str | None = None,
        downlink: Downlink | None = None,
    ) -> None:
        self.node_id = node_id
        self.settings = settings or OutboxSettings()
        self._clock = clock or SystemClock()
        self.store = OutboxStore(path, self.settings.capacity, self._clock, self.settings.fsync_events)
        s = self.settings
        self.receipts = (
            ReceiptBook(node_id, s.receipt_timeout_s, s.resend_max_s, s.awaiting_max) if s.receipts else None
        )
        self.uplink = Uplink(
            self.store,
            broker,
            client_id or node_id,
            window=self.settings.window,
            publish_rate=self.settings.publish_rate,
            will=will,
            birth=birth,
            farewell=farewell,
            flush_on_stop_s=self.settings.flush_on_stop_s,
            downlink=downlink,
            receipts=self.receipts,
            clock=self._clock,
        )
        self._own_topics: set[str] = set()
        # Label lookups cost more than the increment: resolve them once (emit is the hot path).
        self._queued = {p: metrics.QUEUED.labels(p.name.lower()) for p in Priority}
        metrics.DEPTH.set_function(lambda: self.store.depth)
        if self.receipts is not None:
            stats = self.receipts.stats
            metrics.AWAITING.set_function(lambda: stats.awaiting)

    def start(self) -> None:
        self.uplink.start()

    def stop(self) -> None:
        self.uplink.stop()
        self.store.close()

    # -- Emitter ---------------------------------------------------------------
    def emit(self, topic: str, message: Envelope, priority: Priority, retain: bool = False) -> None:
        if topic not in self._own_topics:
            self._check_topic(topic)
        if message.source != self.node_id:
            raise ValueError(f"node {self.node_id!r} cannot send a message from {message.source!r}")
        done = self.store.append(topic, message, priority, retain)
        self._queued[priority].inc()
        if done.evicted is not None:
            metrics.EVICTED.labels(done.evicted.name.lower()).inc()
            if done.row is None or self.store.evicted_total % 1000 == 1:
                log.warning(
                    "outbox full (%d/%d): dropping %s messages to keep hazard events",
                    self.store.depth,
                    self.store.capacity,
                    done.evicted.name.lower(),
                    extra={"node_id": self.node_id},
                )
        if done.row is not None:
            self.uplink.offer(done.row)

    def _check_topic(self, topic: str) -> None:
        try:
            parsed = topics.parse(topic)
        except topics.TopicError as exc:
            raise ValueError(str(exc)) from None
        if parsed.role is not topics.Role.NODE or parsed.owner != self.node_id:
            raise ValueError(f"node {self.node_id!r} publishes only under {topics.ROOT}/node/{self.node_id}/")
        self._own_topics.add(topic)

    def drop(self, positions: list[int], priority: Priority) -> int:
        """Delete unsent rows (never events) that will not be sent after all (retention)."""
        dropped = self.store.drop(positions, priority)
        if dropped:
            self.uplink.forget_cached()
        return dropped

    # -- health ------------------------------------------------------------------
    def health(self) -> tuple[OutboxHealth, list[str]]:
        """The outbox part of EdgeHealth, and warnings a person should read."""
        stats = self.store.stats()
        now = self._clock.now().timestamp()
        age = max(0.0, now - stats.oldest_created_at) if stats.oldest_created_at else 0.0
        metrics.OLDEST_AGE.set(age)
        evicted = self.store.evicted_total + self.store.dropped_total
        warnings: list[str] = []
        capacity = self.store.capacity
        if stats.depth >= self.settings.warn_fill * capacity:
            warnings.append(
                f"outbox {stats.depth / capacity:.0%} full ({stats.depth}/{capacity}); "
                "telemetry is evicted first, hazard events are kept"
            )
        if evicted:
            warnings.append(f"outbox evicted {evicted} low-priority messages since start to make room")
        link = self.uplink.stats
        if link.refused_total:
            warnings.append(
                f"broker refused {link.refused_total} messages for good (kept in the outbox's "
                f"'refused' table); check the broker ACL for {self.node_id}"
            )
        if not link.connected and link.disconnected_since is not None:
            down = time.time() - link.disconnected_since
            warnings.append(f"uplink down for {down:.0f} s: {link.last_error or 'connecting'}")
        unreceipted_age = self._receipt_warnings(now, warnings)
        receipts = self.receipts.stats if self.receipts is not None else None
        return (
            OutboxHealth(
                depth=stats.depth,
                capacity=capacity,
                oldest_unsent_age_s=age,
                evicted_total=evicted,
                awaiting_receipt=receipts.awaiting if receipts is not None else 0,
                oldest_unreceipted_age_s=unreceipted_age,
                resent_total=receipts.resent_total if receipts is not None else 0,
                no_subscriber_total=receipts.no_subscriber_total if receipts is not None else 0,
                last_seq=self.store.last_seq(self.node_id),
                dropped_seqs=[(a, b) for a, b in self.store.dropped_seqs],
            ),
            warnings,
        )

    def _receipt_warnings(self, now: float, warnings: list[str]) -> float:
        """Warnings about receipts; returns the age of the oldest unreceipted event, status or evidence."""
        if self.receipts is None:
            return 0.0
        stats = self.receipts.stats
        oldest = stats.oldest_created_at or self.store.oldest_created_at(RECEIPTED)
        age = max(0.0, now - oldest) if oldest else 0.0
        metrics.OLDEST_UNRECEIPTED_AGE.set(age)
        since = time.monotonic() - (stats.last_no_subscriber_at or float("-inf"))
        if since < NO_SUBSCRIBER_WARN_S:
            warnings.append(
                f"no gateway is subscribed: the broker answered 'no matching subscribers' to "
                f"{stats.no_subscriber_total} events since start (last {since:.0f} s ago); "
                "they are kept and sent again"
            )
        refused = self.uplink.stats.receipts_refused
        if refused:
            warnings.append(
                f"broker refused the subscription to this node's receipts ({refused}): events leave the "
                f"outbox on the broker's acknowledgement alone; allow reading {self.uplink.receipt_topic} "
                "in the broker's ACL"
            )
        if stats.awaiting and age > 3 * self.settings.receipt_timeout_s:
            warnings.append(
                f"{stats.awaiting} events, statuses or snapshots wait for a gateway's receipt (oldest "
                f"{age:.0f} s): is a gateway running and subscribed? They are kept and sent again"
            )
        if stats.ignored_why:
            warnings.append(stats.ignored_why)
        return age
