"""Send delivery receipts: what the gateway has committed of each source's stream.

The pipeline hands over, after each commit, the ranges it now holds per source
(:meth:`gateway.ingest.sequences.SequenceTracker.observe` computed them inside the
transaction). They wait here and go out on the source's ``receipt`` topic at QoS 1,
at most once per ``interval_s`` per source: receipts are cumulative, so a newer one
replaces an older one still waiting (their ranges are merged — both are true), and
a busy source gets a few receipts a second, not one per batch.

A receipt that is lost (the source was offline; receipts are not queued for it) is
healed by the next one, or by the source sending again: a re-sent message is a
duplicate to the ledger and earns a fresh receipt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from contracts import DeliveryReceipt, encode
from contracts.clock import Clock
from contracts.delivery import merge_ranges
from gateway import metrics
from gateway.outbound.publisher import Publisher

log = logging.getLogger(__name__)

Ranges = list[tuple[int, int]]


class ReceiptSender:
    def __init__(
        self,
        gateway_id: str,
        clock: Clock,
        interval_s: float = 0.05,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gateway_id = gateway_id
        self.clock = clock
        self.interval_s = interval_s
        self._monotonic = monotonic
        self._waiting: dict[str, tuple[str, Ranges]] = {}  # source -> (topic, held ranges)
        self._sent_at: dict[str, float] = {}
        self.sent_total = 0

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def offer(self, receipts: dict[str, tuple[str, Ranges]]) -> None:
        """Ranges committed per source (called after the commit)."""
        for source, (topic, ranges) in receipts.items():
            earlier = self._waiting.get(source)
            self._waiting[source] = (topic, merge_ranges([*earlier[1], *ranges]) if earlier else ranges)

    def flush(self, link: Publisher, connected: bool, force: bool = False) -> int:
        """Publish the receipts that are due; returns how many went out."""
        if not self._waiting or not connected:
            return 0
        now = self._monotonic()
        sent = 0
        for source in list(self._waiting):
            if not force and now - self._sent_at.get(source, 0.0) < self.interval_s:
                continue
            topic, ranges = self._waiting.pop(source)
            receipt = DeliveryReceipt.of(self.gateway_id, source, ranges, ts=self.clock.now())
            info = link.publish(topic, encode(receipt), qos=1)
            if info.rc != 0:  # the connection just went: keep it for the next one
                self._waiting.setdefault(source, (topic, ranges))
                log.info("could not publish a receipt to %s (rc %s); sending it later", topic, info.rc)
                break
            self._sent_at[source] = now
            sent += 1
        if len(self._sent_at) > 4 * len(self._waiting) + 10_000:  # forget sources long quiet
            self._sent_at = {s: t for s, t in self._sent_at.items() if now - t < self.interval_s}
        self.sent_total += sent
        metrics.RECEIPTS_SENT.inc(sent)
        return sent
