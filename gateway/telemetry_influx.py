"""Telemetry to any InfluxDB v2 write-compatible server (InfluxDB, VictoriaMetrics, …).

The pipeline calls :meth:`InfluxTelemetry.write` after each commit; it only
puts the message in a bounded queue and never waits. A writer thread turns
messages into line protocol and hands them, a chunk at a time, to
influxdb-client's batching write API (which flushes by size and interval and
retries with back-off). What the server has not yet taken is bounded too:
while it is down the queue fills, and what does not fit is dropped and
counted — case handling never slows down for telemetry. A failing server
raises a health warning (log line, ``gridwatch_gateway_telemetry_healthy`` 0,
the gateway's heartbeat) until a write succeeds again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts import EdgeHealth, SensorReading
from gateway import metrics
from gateway.telemetry_points import line_protocol

log = logging.getLogger(__name__)


class InfluxSettings(BaseSettings):
    """Where telemetry goes. Without ``url`` readings are counted and not kept."""

    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_INFLUX_", extra="forbid")

    url: str | None = Field(default=None, description="e.g. http://127.0.0.1:8086 (InfluxDB) or :8428 (VM).")
    token: str = Field(default="", description="API token (VictoriaMetrics ignores it).")
    org: str = Field(default="gridwatch")
    bucket: str = Field(default="gridwatch", description="Bucket (VictoriaMetrics: a `db` label).")
    buffer_messages: int = Field(
        default=50_000,
        ge=100,
        description="Readings held while the server is slow or down; more are dropped.",
    )
    max_unconfirmed_lines: int = Field(
        default=20_000,
        ge=100,
        description="Lines handed to the client but not yet written (bounds its buffer).",
    )
    chunk_lines: int = Field(default=2_000, ge=1, description="Lines per request body.")
    flush_interval_ms: int = Field(default=1_000, ge=10, description="Longest a point waits to be sent.")
    timeout_ms: int = Field(default=5_000, ge=100, description="HTTP timeout of one write.")
    max_retry_time_ms: int = Field(
        default=15_000, ge=0, description="A chunk is retried this long, then dropped (counted)."
    )


class InfluxTelemetry:
    def __init__(self, settings: InfluxSettings) -> None:
        if not settings.url:
            raise ValueError("InfluxTelemetry needs GRIDWATCH_INFLUX_URL (or --influx-url)")
        self.settings = settings
        # Batches of messages; their count is bounded by ``buffer_messages`` (``_queued``).
        self._queue: queue.Queue[list[SensorReading | EdgeHealth]] = queue.Queue()
        self._queued = 0  # messages in the queue
        self._lock = threading.Lock()
        self._unconfirmed = 0  # lines handed to the client, not yet written or given up
        self._in_hand = 0  # messages taken from the queue, not yet handed over
        self.written = 0  # lines
        self.dropped_full = 0  # messages
        self.dropped_error = 0  # lines
        self.healthy = True
        self.last_error = ""
        # Imported here: a gateway without a time-series store (the default) never loads the client
        # (~1/10 of a gateway's start).
        from influxdb_client import InfluxDBClient, WriteOptions, WritePrecision

        self._precision = WritePrecision.MS
        self._client = InfluxDBClient(
            url=settings.url, token=settings.token, org=settings.org, timeout=settings.timeout_ms
        )
        self._write = self._client.write_api(
            write_options=WriteOptions(
                # Each item we hand over is a chunk of up to `chunk_lines` lines (one string: far
                # cheaper than one item per point), made when it is full, when nothing more is
                # waiting, or when its oldest line is `flush_interval_ms` old: the chunk is the batch,
                # written at once. (Four chunks to a batch kept the last chunks of a burst waiting
                # for the client's window to time out: up to `flush_interval_ms` more.)
                batch_size=1,
                flush_interval=settings.flush_interval_ms,
                retry_interval=500,
                max_retries=10,
                max_retry_delay=5_000,
                max_retry_time=settings.max_retry_time_ms,
                exponential_base=2,
                max_close_wait=5_000,
            ),
            success_callback=self._on_success,
            error_callback=self._on_error,
            retry_callback=self._on_retry,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="telemetry-writer", daemon=True)
        self._thread.start()
        metrics.TELEMETRY_HEALTHY.set(1)

    # -- the pipeline's side: never blocks -------------------------------------
    def write(self, message: SensorReading | EdgeHealth) -> None:
        self.write_many((message,))

    def write_many(self, messages: Sequence[SensorReading | EdgeHealth]) -> None:
        """A batch's telemetry in one hand-off: one queue operation, not one per reading (the
        writer thread then takes them as one too; both sides share the gateway's one GIL)."""
        if not messages:
            return
        with self._lock:
            # Held = queued + taken by the writer and not yet handed to the client (it takes a
            # batch's worth at once): the bound is on both, as it was on one queue before.
            room = self.settings.buffer_messages - self._queued - self._in_hand
            kept = list(messages[: max(room, 0)])
            self._queued += len(kept)
            dropped = len(messages) - len(kept)
            self.dropped_full += dropped
        if kept:
            self._queue.put_nowait(kept)
        if dropped:
            metrics.TELEMETRY_DROPPED.inc(dropped)

    # -- the writer thread -----------------------------------------------------
    def _run(self) -> None:
        chunk: list[str] = []
        chunk_since = 0.0  # when the chunk's first line was made
        max_age = self.settings.flush_interval_ms / 1000
        group: deque[SensorReading | EdgeHealth] = deque()  # taken from the queue, not yet lines
        while not self._stop.is_set() or not self._queue.empty() or group:
            with self._lock:
                room = self.settings.max_unconfirmed_lines - self._unconfirmed
            if room <= 0:
                time.sleep(0.05)  # the server is behind: let our queue absorb (and drop) the excess
                continue
            if not group:
                try:
                    taken = self._queue.get(timeout=0.1)
                except queue.Empty:
                    taken = []
                if taken:
                    with self._lock:
                        self._queued -= len(taken)
                        self._in_hand += len(taken)
                        buffered = self._queued
                    group.extend(taken)
                    metrics.TELEMETRY_BUFFERED.set(buffered)
            message = group.popleft() if group else None
            if message is not None:
                if not chunk:
                    chunk_since = time.monotonic()
                try:
                    chunk.extend(line_protocol(message))
                except Exception:  # a value influx cannot represent: skip the message, keep going
                    log.exception("cannot turn a %s from %s into points", message.kind, message.source)
            if chunk and (
                message is None
                or len(chunk) >= min(self.settings.chunk_lines, room)
                or (not group and time.monotonic() - chunk_since >= max_age)  # a steady trickle
            ):
                self._hand_over(chunk, len(group))
                chunk = []
            elif not chunk and not group:
                with self._lock:
                    self._in_hand = 0
        if chunk:
            self._hand_over(chunk, 0)

    def _hand_over(self, lines: list[str], still_in_hand: int) -> None:
        with self._lock:
            self._unconfirmed += len(lines)
            self._in_hand = still_in_hand
        self._write.write(
            self.settings.bucket, self.settings.org, "\n".join(lines), write_precision=self._precision
        )

    # -- influxdb-client callbacks (its scheduler thread) ------------------------
    @staticmethod
    def _lines(data: Any) -> int:
        body = data if isinstance(data, bytes | str) else b""
        return (body.count(b"\n" if isinstance(body, bytes) else "\n") + 1) if body else 0

    def _on_success(self, _conf: object, data: Any) -> None:
        n = self._lines(data)
        with self._lock:
            self._unconfirmed -= n
            self.written += n
            was_healthy, self.healthy = self.healthy, True
        metrics.TELEMETRY_LINES.labels("written").inc(n)
        metrics.TELEMETRY_HEALTHY.set(1)
        if not was_healthy:
            log.warning("telemetry store %s accepts writes again", self.settings.url)

    def _on_error(self, _conf: object, data: Any, exc: Exception) -> None:
        n = self._lines(data)
        with self._lock:
            self._unconfirmed -= n
            self.dropped_error += n
        metrics.TELEMETRY_LINES.labels("dropped").inc(n)
        self._unhealthy(exc, f"gave up on {n} line(s)")

    def _on_retry(self, _conf: object, _data: Any, exc: Exception) -> None:
        self._unhealthy(exc, "retrying")

    def _unhealthy(self, exc: Exception, what: str) -> None:
        with self._lock:
            was_healthy, self.healthy = self.healthy, False
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        metrics.TELEMETRY_HEALTHY.set(0)
        if was_healthy:
            log.warning(
                "telemetry store %s is failing (%s, %s); case handling goes on, up to %d readings are "
                "held and the rest dropped",
                self.settings.url,
                self.last_error,
                what,
                self.settings.buffer_messages,
            )

    # -- status ----------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "store": self.settings.url,
                "healthy": self.healthy,
                "buffered_messages": self._queued,
                "unconfirmed_lines": self._unconfirmed,
                "written_lines": self.written,
                "dropped_messages": self.dropped_full,
                "dropped_lines": self.dropped_error,
                "last_error": self.last_error,
            }

    def warnings(self) -> list[str]:
        s = self.status()
        out = []
        if not s["healthy"]:
            out.append(f"telemetry store {s['store']} failing: {s['last_error']}")
        if s["dropped_messages"] or s["dropped_lines"]:
            out.append(
                f"telemetry dropped: {s['dropped_messages']} reading(s) for want of room, "
                f"{s['dropped_lines']} line(s) after retries"
            )
        return out

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far has been written or given up (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                idle = self._unconfirmed == 0 and self._in_hand == 0 and self._queued == 0
            if idle and self._queue.empty():
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._write.close()  # flushes what it holds, waiting at most max_close_wait
        self._client.close()
