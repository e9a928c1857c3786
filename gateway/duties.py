"""What the gateway does on time rather than on a message: SLA timers and edge nodes offline too
long on the main loop (``flows.sla_ticks``, ``flows.fleet``), webhook deliveries in the background
(``notify.sender``)."""

from __future__ import annotations

import logging
import time

from sqlalchemy.orm import Session, sessionmaker

from gateway.context import GatewayContext
from gateway.devices.metrics import NODE_OFFLINE_CASES
from gateway.flows import fleet
from gateway.flows.sla_ticks import SlaTicker
from gateway.notify.sender import WebhookSender

log = logging.getLogger(__name__)


class TimedDuties:
    def __init__(
        self, sessions: sessionmaker[Session], ctx: GatewayContext, timer_interval_s: float = 1.0
    ) -> None:
        self.ticker = SlaTicker(sessions, ctx)
        self.sessions = sessions
        self.ctx = ctx
        self.sender = WebhookSender(sessions, ctx.clock, ctx.site.settings.notify)
        self.interval = timer_interval_s
        self._last = 0.0

    def start(self) -> None:
        self.sender.start()

    def tick(self) -> int:
        """Fire due SLA timers, at most once per interval; never raises (the loop must go on)."""
        if time.monotonic() - self._last < self.interval:
            return 0
        self._last = time.monotonic()
        fired = 0
        try:
            fired += self.ticker.tick()
        except Exception:
            log.exception("SLA tick failed; retrying next interval")
        try:
            with self.sessions.begin() as session:
                opened = len(fleet.open_offline_cases(session, self.ctx, self.ctx.now()))
            NODE_OFFLINE_CASES.inc(opened)  # counted once committed
            fired += opened
        except Exception:
            log.exception("fleet tick failed; retrying next interval")
        return fired

    def stop(self) -> None:
        self.sender.stop()
