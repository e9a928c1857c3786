"""Drain the outbound table to the broker; mark rows sent once the broker acknowledged.

Several gateways drain one table: each publishes only rows it has claimed
(``outbound.claim``: a lease that it renews on every poll while a row is in
flight), so a task offer or a notice goes out once, not once per gateway. A
gateway that dies holding claims loses them when the lease runs out and another
gateway publishes those rows.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Protocol

import paho.mqtt.client as mqtt
from sqlalchemy.orm import Session, sessionmaker

from contracts.clock import Clock
from gateway import metrics
from gateway.outbound import service as outbound
from gateway.store.db import read_session_factory

log = logging.getLogger(__name__)


class Publisher(Protocol):
    def publish(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False
    ) -> mqtt.MQTTMessageInfo: ...


class OutboundDrain:
    """At-least-once delivery of what the gateway committed to say.

    A crash after the broker's PUBACK but before we mark the row sends it again
    at start-up; receivers deduplicate by the envelope id.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        gateway_id: str = "gateway-1",
        lease_s: float = 30.0,
        poll_s: float = 0.05,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.gateway_id = gateway_id
        self.lease = timedelta(seconds=lease_s)
        # The table is polled at most this often (it is written by the pipeline, timers
        # and the API alike); every poll is a write transaction, so not one per batch.
        self.poll_s = poll_s
        # A poll first asks, without the write lock, whether there is anything to claim: a write
        # transaction 20 times a second that finds nothing was ~6 % of the main thread under load.
        engine = sessions.kw.get("bind")
        self._reads = read_session_factory(engine) if engine is not None else None
        self._polled_at = 0.0
        self._inflight: dict[int, mqtt.MQTTMessageInfo] = {}

    def _anything_to_claim(self, now: datetime) -> bool:
        if self._reads is None:
            return True
        with self._reads() as session:
            return outbound.anything_to_claim(session, self.gateway_id, now)

    def reset(self) -> None:
        """Forget in-flight publishes (after a reconnect they are re-sent from the table)."""
        self._inflight.clear()

    def pump(self, link: Publisher, connected: bool) -> int:
        """Publish what is pending, record what the broker acknowledged; returns rows marked."""
        done = [row_id for row_id, info in self._inflight.items() if info.is_published()]
        if not done and time.monotonic() - self._polled_at < self.poll_s:
            return 0
        self._polled_at = time.monotonic()
        for row_id in done:
            del self._inflight[row_id]
        now = self.clock.now()
        # In-flight rows need their claim renewed anyway: then the read would only add to the poll.
        if not done and (not connected or (not self._inflight and not self._anything_to_claim(now))):
            metrics.OUTBOUND_PENDING.set(len(self._inflight))
            return 0
        with self.sessions.begin() as session:
            outbound.mark_sent(session, done, now)
            # The claim commits before anything is published: no publish without a claim.
            rows = outbound.claim(session, self.gateway_id, now, self.lease) if connected else []
        for row in rows:
            if row.id in self._inflight:
                continue
            info = link.publish(row.topic, row.payload, qos=row.qos, retain=row.retain)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                log.warning("publish to %s failed (rc %s); will retry", row.topic, info.rc)
                break
            self._inflight[row.id] = info
        metrics.OUTBOUND_PENDING.set(len(self._inflight))
        return len(done)
