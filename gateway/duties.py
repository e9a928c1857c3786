"""What the gateway does on time rather than on a message: SLA timers and edge nodes offline too
long on the main loop (``flows.sla_ticks``, ``flows.fleet``), webhook deliveries in the background
(``notify.sender``), the weekly report when it is due (``flows.weekly_report``, drawn in a thread
of its own: charts take seconds, the loop must not wait)."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.orm import Session, sessionmaker

from gateway.context import GatewayContext
from gateway.devices.metrics import NODE_OFFLINE_CASES
from gateway.flows import fleet
from gateway.flows.sla_ticks import SlaTicker
from gateway.flows.weekly_report import make_due
from gateway.notify.sender import WebhookSender

log = logging.getLogger(__name__)
REPORT_CHECK_S = 60.0  # the report is due at a minute of the day


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
        self.report_check_s = REPORT_CHECK_S
        self._last_report_check = time.monotonic()  # first look a minute after start
        self._reporting: threading.Thread | None = None

    def start(self) -> None:
        self.sender.start()

    def tick(self) -> int:
        """Fire due SLA timers, at most once per interval; never raises (the loop must go on)."""
        self._reports()
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
        if self._reporting is not None:
            self._reporting.join(timeout=30)

    def _reports(self) -> None:
        """Now and then, make the weekly reports that are due (in a thread; one at a time)."""
        if time.monotonic() - self._last_report_check < self.report_check_s:
            return
        self._last_report_check = time.monotonic()
        if self._reporting is not None and self._reporting.is_alive():
            return
        if not self.ctx.site.analytics.weekly_report.editions:
            return
        self._reporting = threading.Thread(target=self.make_reports, name="weekly-report", daemon=True)
        self._reporting.start()

    def make_reports(self) -> int:
        try:
            return len(make_due(self.sessions, self.ctx))
        except Exception:
            log.exception("weekly report failed; retrying at the next check")
            return 0
