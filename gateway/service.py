"""The gateway process: store + site + MQTT link + pipeline, in one loop."""

from __future__ import annotations

import gc
import logging
import threading
import time
from datetime import timedelta

from prometheus_client import start_http_server
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from contracts.clock import Clock, SystemClock
from contracts.site import load_site
from gateway import metrics
from gateway.cases.lifecycle import OPEN_STATUSES
from gateway.cases.models import Case
from gateway.context import GatewayContext
from gateway.devices.broker_watch import BrokerLogWatch
from gateway.devices.metrics import DEVICES
from gateway.devices.models import Device
from gateway.devices.registry import sync_from_site
from gateway.duties import TimedDuties
from gateway.flows.ingest import Incoming, Pipeline, StoreUnavailable
from gateway.heartbeat import service as heartbeat
from gateway.ingest.admission import Admission
from gateway.ingest.consumer import MqttLink
from gateway.ingest.receipts import ReceiptSender
from gateway.ingest.sequences import SequenceReport, SequenceTracker
from gateway.outbound.publisher import OutboundDrain
from gateway.retention.service import Retention, RetentionTimer
from gateway.schema.migrate import prepare_schema
from gateway.settings import GatewaySettings
from gateway.store.db import make_engine, session_factory
from gateway.telemetry import NullTelemetry, TelemetrySink
from gateway.telemetry_influx import InfluxTelemetry

log = logging.getLogger(__name__)


def settle_heap() -> int:
    """Take what start-up made out of the cyclic garbage collector's sight; returns how many objects.

    Start-up leaves a large, long-lived heap (the site and its geometry, SQLAlchemy's mappers and
    statement caches, pydantic's validators, every imported module). Ingest allocates briskly, so
    the collector runs tens of times a second under load, and each full collection walked all of
    that again: ~25 µs of the main thread per ingested message in ``bench/ingest_profile.py``, 15 %
    of its time. Frozen (``gc.freeze``: the permanent generation), the collector still runs over
    what the loop makes, ~3 µs per message. ``Gateway.run`` unfreezes when its loop ends.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class Gateway:
    def __init__(
        self,
        settings: GatewaySettings,
        clock: Clock | None = None,
        telemetry: TelemetrySink | None = None,
    ) -> None:
        self.settings = settings
        site = load_site(settings.site_dir)
        self.engine = make_engine(settings.database_url)
        prepare_schema(self.engine, settings.db_schema, settings.db_schema_wait_s)
        self.sessions = session_factory(self.engine)
        self.ctx = GatewayContext(site, settings.gateway_id, clock or SystemClock())
        self._sync_registry()
        if telemetry is None:
            telemetry = InfluxTelemetry(settings.influx) if settings.influx.url else NullTelemetry()
        self.telemetry = telemetry
        self.sequences = SequenceTracker(settings.sequence_grace_s, settings.gateway_id)
        self.receipts = ReceiptSender(settings.gateway_id, self.ctx.clock, settings.receipt_interval_s)
        self.sequences.receipts = self.receipts
        admission = Admission(site, timedelta(seconds=settings.max_clock_skew_s))
        self.pipeline = Pipeline(self.sessions, self.ctx, self.telemetry, self.sequences, admission)
        self.link = MqttLink(settings)
        self.drain = OutboundDrain(
            self.sessions, self.ctx.clock, settings.gateway_id, settings.outbound_lease_s
        )
        self.link.on_connected = self.drain.reset
        self.broker_log = (
            BrokerLogWatch(settings, self.sessions, self.ctx.clock) if settings.watch_broker_log else None
        )
        self.duties = TimedDuties(self.sessions, self.ctx, settings.timer_interval_s)
        self.retention = RetentionTimer(Retention(self.engine, self.sessions, settings.retention))
        self.stop_event = threading.Event()
        self._gauges_at = 0.0
        self._retry: list[Incoming] = []
        self.started_at = self.ctx.now()
        self.processed = 0  # messages committed by this process
        self._rate_mark = (time.monotonic(), 0)

    def _sync_registry(self) -> None:
        """The device registry follows the site files (docs/devices.md); another process may race."""
        for _attempt in range(3):
            try:
                with self.sessions.begin() as session:
                    sync_from_site(session, self.ctx.site, self.ctx.grids, self.ctx.now())
                return
            except IntegrityError:
                continue

    def run(self) -> None:
        if self.settings.metrics_port:
            start_http_server(self.settings.metrics_port)
        self.link.start()
        if self.broker_log is not None:
            self.broker_log.start()
        self.duties.start()
        log.info(
            "gateway %s serving site %s (%d grids, %d workers) on %s",
            self.settings.gateway_id,
            self.ctx.site.settings.site.id,
            len(self.ctx.grids),
            len(self.ctx.site.workers),
            self.engine.url.render_as_string(hide_password=True),
        )
        log.debug("froze %d objects made at start", settle_heap())
        try:
            while not self.stop_event.is_set():
                self.step()
        finally:
            gc.unfreeze()  # a process that runs a gateway for a while (tests) gets its garbage back
            self.duties.stop()
            self.retention.join(timeout=10)
            self.link.stop()
            if self.broker_log is not None:
                self.broker_log.stop()
            self.telemetry.close()
            self.engine.dispose()

    def step(self) -> None:
        # Waiting receipts must not wait for the next message: poll sooner while there are some.
        idle = min(0.2, self.settings.receipt_interval_s) if self.receipts.waiting else 0.2
        batch = self._retry or self.link.next_batch(
            self.settings.batch_max, self.settings.batch_wait_s, idle_timeout_s=idle
        )
        self._retry = []
        if batch:
            try:
                self.pipeline.process(batch)
            except StoreUnavailable as exc:
                # Not acknowledged: the broker redelivers once we come back.
                log.error("store unavailable, %d messages left unacknowledged: %s", len(batch), exc)
                self._retry = batch  # same batch first, in order, when the store is back
                time.sleep(1)
                return
            self.link.ack(batch)
            self.processed += len(batch)
        self.receipts.flush(self.link, self.link.online.is_set())  # what this and earlier batches committed
        self.duties.tick()  # SLA warnings, breaches, accept deadlines (state in the database)
        self.drain.pump(self.link, self.link.online.is_set())  # publishing needs no SUBACK
        if time.monotonic() - self._gauges_at > self.settings.heartbeat_s:
            self._housekeeping()

    def _housekeeping(self) -> None:
        """Gauges, lost-sequence sweep and the heartbeat; never stops the loop."""
        self._gauges_at = time.monotonic()
        self.link.retry_refused()
        self.retention.maybe_start(self.ctx.now())  # evidence and dead letters past their days or quota
        try:
            self._update_gauges()
        except Exception:
            log.exception("housekeeping failed; trying again in %.0f s", self.settings.heartbeat_s)

    def _update_gauges(self) -> None:
        mark, seen = self._rate_mark
        now_m = time.monotonic()
        metrics.INGEST_RATE.set((self.processed - seen) / max(now_m - mark, 1e-6))
        self._rate_mark = (now_m, self.processed)
        metrics.INBOX_DEPTH.set(self.link.inbox.qsize())
        with self.sessions() as session:
            rows = session.execute(
                select(Case.hazard_type, func.count())
                .where(Case.status.in_([s.value for s in OPEN_STATUSES]))
                .group_by(Case.hazard_type)
            )
            for hazard, n in rows:
                metrics.OPEN_CASES.labels(hazard).set(n)
            fleet_rows = session.execute(
                select(Device.kind, Device.status, func.count()).group_by(Device.kind, Device.status)
            )
            DEVICES.clear()
            for kind, status, n in fleet_rows:
                DEVICES.labels(kind, status).set(n)
        report = SequenceReport()
        now = self.ctx.now()
        status, warnings = self.telemetry.status(), self.link.problems() + self.telemetry.warnings()
        with self.sessions.begin() as session:
            self.sequences.sweep(session, now, report)
            heartbeat.beat(
                session,
                self.settings.gateway_id,
                self.started_at,
                now,
                self.processed,
                self.link.connected.is_set(),
                warnings,
                status,
            )
        report.publish()

    def stop(self) -> None:
        self.stop_event.set()
