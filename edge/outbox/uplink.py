"""Drain the outbox to the broker: QoS 1, in order, a row deleted only after its PUBACK.

Each connection is a fresh paho client, and the drain restarts from the
oldest queued row. We never let paho retransmit its own in-memory copies after
a reconnect: it does so *after* ``on_connect``, which would race our next
publishes and break order. The outbox is the only copy that matters; paho is
the transport.

One thread does everything for the link: it drives paho's external-loop API
(``loop_read``/``loop_write``/``loop_misc`` around our own ``select``), so
publishes go straight to the socket and PUBACKs are handled in the same
thread, without paho's network thread and its wake-up socket per publish.
Producers only commit rows and poke a pipe.

MQTT 5 is used so the broker can say *why* it refused a publish (PUBACK
reason code): permanent refusals (not authorised, bad topic) are moved aside
(kept, counted, warned about) instead of blocking the queue forever;
temporary ones (quota, busy) reconnect and retry.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from contracts.mqtt_client import new_client
from edge.emit import Priority
from edge.outbox import metrics
from edge.outbox.buffered import BufferedSocket
from edge.outbox.paho_client import uplink_client_class
from edge.outbox.ratelimit import TokenBucket
from edge.outbox.store import OutboxStore, QueuedMessage
from edge.settings import BrokerSettings

log = logging.getLogger(__name__)

# PUBACK reason codes that retrying cannot fix (MQTT 5, 3.4.2.1).
PERMANENT_REFUSALS = frozenset({0x87, 0x90, 0x95, 0x99})  # not authorised, topic invalid, too large, format
CONNECT_TIMEOUT_S = 10.0
BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 5.0  # an edge node must be back soon after its broker is
DELETE_BATCH = 256  # acknowledged rows deleted per transaction
READ_BATCH = 256  # rows read from the outbox per query
LIVE_MAX = 4096  # freshly queued rows kept in memory for the drain
IDLE_POLL_S = 0.5  # also paces keep-alive pings

Birth = Callable[[], list[tuple[str, bytes]]]  # retained (topic, payload) published on a connection


Downlink = tuple[list[str], Callable[[str, bytes], None]]


class SessionLost(Exception):
    """The connection to the broker ended (or must be ended and replayed)."""


@dataclass
class UplinkStats:
    connected: bool = False
    connects: int = 0
    published_total: int = 0
    acked_total: int = 0
    refused_total: int = 0
    last_error: str = ""
    disconnected_since: float | None = None  # time.time() when the link went down


class Uplink:
    def __init__(
        self,
        store: OutboxStore,
        broker: BrokerSettings,
        client_id: str,
        *,
        window: int = 500,
        publish_rate: float = 0,
        will: tuple[str, bytes] | None = None,
        birth: Birth | None = None,
        farewell: Birth | None = None,
        flush_on_stop_s: float = 3.0,
        downlink: Downlink | None = None,
    ) -> None:
        """``downlink``: topics this client reads (retained configuration for the node) and
        the callback that gets each message; it runs in the uplink thread, so it must be
        quick, and an exception in it is logged, never fatal."""
        self.downlink = downlink
        self.store = store
        self.broker = broker
        self.client_id = client_id
        self.window = window
        self.will = will
        self.birth = birth
        self.farewell = farewell
        self.flush_on_stop_s = flush_on_stop_s
        self.stats = UplinkStats(disconnected_since=time.time())
        self._tls = broker.tls_context()  # checked here: a wrong file fails at start, not per reconnect
        self.connected = threading.Event()
        # A small burst: the bound should hold over any second, not only on average.
        self._limiter = TokenBucket(publish_rate, burst=min(window, max(publish_rate / 10, 1)))
        self._stopping = threading.Event()
        self._stop_deadline = 0.0
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._wake_pending = False
        self._live: deque[QueuedMessage] = deque()
        self._live_stale = False
        # Per-connection state, touched only by the uplink thread (paho callbacks run in it).
        self._acks: list[tuple[int, ReasonCode]] = []
        self._ready = False
        self._lost = False
        self._session_window = window
        self._thread: threading.Thread | None = None
        self.client: mqtt.Client | None = None  # the current connection's client (diagnostics, tests)

    # -- life ----------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-uplink", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Flush for up to ``flush_on_stop_s``, say goodbye (retained), disconnect."""
        self._stop_deadline = time.monotonic() + self.flush_on_stop_s
        self._stopping.set()
        self.wake()
        if self._thread:
            self._thread.join(timeout=timeout + self.flush_on_stop_s)
        self._wake_r.close()
        self._wake_w.close()

    def wake(self) -> None:
        """Something was queued: publish it now instead of at the next poll."""
        if not self._wake_pending:  # one syscall per idle period, not per message
            self._wake_pending = True
            with contextlib.suppress(BlockingIOError, OSError):
                self._wake_w.send(b"x")

    def offer(self, row: QueuedMessage) -> None:
        """A row just committed to the outbox; sent from memory when the drain is caught up.

        Only a cache: the drain falls back to reading the outbox whenever the
        rows it holds do not continue exactly where the drain stands.
        """
        if len(self._live) < LIVE_MAX:
            self._live.append(row)
        self.wake()

    def forget_cached(self) -> None:
        """Rows were deleted from the outbox without being sent (retention): the in-memory cache may
        still hold some, so the drain reads the outbox again. Emptied by the uplink thread itself."""
        self._live_stale = True
        self.wake()

    def _next_rows(self, cursor: int, limit: int) -> list[QueuedMessage]:
        live = self._live
        if self._live_stale:
            self._live_stale = False
            live.clear()
        while live and live[0].pos <= cursor:
            live.popleft()
        if not live or live[0].pos != cursor + 1:
            return self.store.pending(cursor, limit)
        rows: list[QueuedMessage] = []
        expected = cursor + 1
        while live and len(rows) < limit and live[0].pos == expected:
            rows.append(live.popleft())
            expected += 1
        return rows

    # -- paho callbacks (they run in the uplink thread, inside loop_read/loop_write) ----
    def _on_connect(self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, props: object) -> None:
        if rc.is_failure:
            self.stats.last_error = f"broker refused the connection: {rc}"
            log.error("broker refused the connection: %s", rc, extra={"node_id": self.client_id})
            self._lost = True
            return
        receive_max = getattr(props, "ReceiveMaximum", None)
        self._session_window = min(self.window, int(receive_max)) if receive_max else self.window
        self._ready = True

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        self._lost = True
        if not self._stopping.is_set():
            self.stats.last_error = f"disconnected: {rc}"

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: object) -> None:
        self._acks.append((mid, rc))

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if self.downlink is None:
            return
        try:
            self.downlink[1](msg.topic, msg.payload)
        except Exception:  # a bad configuration message must not end the uplink
            log.exception("downlink message on %s failed", msg.topic, extra={"node_id": self.client_id})

    # -- the uplink thread ---------------------------------------------------------
    def _new_client(self) -> mqtt.Client:
        client = new_client(
            self.client_id,
            username=self.broker.username,
            password=self.broker.password,
            tls=self._tls,
            client_class=uplink_client_class(),
            reconnect_on_failure=False,
        )
        if self.will:
            client.will_set(self.will[0], self.will[1], qos=1, retain=True)
        # Our window bounds what is in flight. paho must not: its own limit rescans every
        # queued message on each PUBACK (quadratic in the window).
        client.max_inflight_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _run(self) -> None:
        backoff = BACKOFF_MIN_S
        while not self._stopping.is_set():
            client = self.client = self._new_client()
            self._ready = self._lost = False
            self._acks.clear()
            try:
                client.connect(self.broker.host, self.broker.port, keepalive=self.broker.keepalive_s)
                deadline = time.monotonic() + CONNECT_TIMEOUT_S
                while not self._ready:
                    if self._lost or time.monotonic() > deadline or self._stopping.is_set():
                        raise SessionLost(self.stats.last_error or "no CONNACK from the broker")
                    self._pump(client, 0.1)
            except (OSError, SessionLost) as exc:
                why = str(exc) if isinstance(exc, SessionLost) else f"cannot reach the broker: {exc}"
                self._close(client)
                self._note_down(why)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            backoff = BACKOFF_MIN_S
            self._note_up()
            try:
                self._session(client)
            except SessionLost as exc:
                self.stats.last_error = str(exc) or self.stats.last_error
            except Exception:  # a bug must not end the uplink: log, reconnect, replay
                log.exception("uplink session failed", extra={"node_id": self.client_id})
            self._close(client)
            if not self._stopping.is_set():
                self._note_down(self.stats.last_error or "connection lost")
                self._stopping.wait(BACKOFF_MIN_S)
        self.connected.clear()

    def _pump(self, client: mqtt.Client, timeout: float) -> None:
        """Flush, wait up to ``timeout`` for the socket or a wake-up, let paho read/write/ping."""
        sock = client.socket()
        if sock is None:
            self._lost = True
            raise SessionLost(self.stats.last_error or "connection lost")
        buffered = sock if isinstance(sock, BufferedSocket) else None
        try:
            if buffered:
                buffered.flush()
            if buffered and buffered.pending():
                timeout = 0.0  # already read, not yet handed to paho
            want_write = client.want_write() or bool(buffered and buffered.wants_flush)
            readable, writable, _ = select.select(
                [sock, self._wake_r], [sock] if want_write else [], [], timeout
            )
            if self._wake_r in readable:
                self._wake_pending = False
                try:
                    while self._wake_r.recv(4096):
                        pass
                except (BlockingIOError, OSError):
                    pass
            rc = MQTTErrorCode.MQTT_ERR_SUCCESS
            if sock in readable or (buffered and buffered.pending()):
                rc = client.loop_read()
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and (sock in writable or client.want_write()):
                rc = client.loop_write()
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                rc = client.loop_misc()
            if buffered and client.socket() is buffered:
                buffered.flush()
        except OSError as exc:
            self._lost = True
            raise SessionLost(f"connection lost: {exc}") from None
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or self._lost:
            self._lost = True
            raise SessionLost(self.stats.last_error or f"connection lost: {mqtt.error_string(rc)}")

    def _note_up(self) -> None:
        self.stats.connects += 1
        self.stats.connected = True
        self.stats.disconnected_since = None
        self.connected.set()
        metrics.CONNECTED.set(1)
        log.info(
            "uplink connected to %s:%d; %d queued",
            self.broker.host,
            self.broker.port,
            self.store.depth,
            extra={"node_id": self.client_id},
        )

    def _note_down(self, why: str) -> None:
        if self.stats.connected or self.stats.connects == 0:
            log.warning("uplink down: %s", why, extra={"node_id": self.client_id})
        if self.stats.connected:
            self.stats.disconnected_since = time.time()
        self.stats.connected = False
        self.stats.last_error = why
        self.connected.clear()
        metrics.CONNECTED.set(0)

    def _close(self, client: mqtt.Client) -> None:
        with contextlib.suppress(Exception):  # already gone
            client.disconnect()  # writes DISCONNECT and closes the socket (no will is sent)
        with contextlib.suppress(Exception):
            client.loop_misc()

    def _session(self, client: mqtt.Client) -> None:
        for topic, payload in self.birth() if self.birth else []:
            client.publish(topic, payload, qos=1, retain=True)
        if self.downlink is not None and self.downlink[0]:
            client.subscribe([(t, 1) for t in self.downlink[0]])
        cursor = 0  # replay from the oldest queued row on every connection
        inflight: dict[int, tuple[int, Priority]] = {}  # paho mid -> (outbox position, priority)
        acked: list[tuple[int, Priority]] = []  # deleted in batches: one transaction per batch
        try:
            while True:
                self._settle_acks(inflight, acked)
                if len(acked) >= DELETE_BATCH:
                    self._delete(acked)
                if self._stopping.is_set():
                    flushed = not inflight and not self.store.pending(cursor, 1)
                    if flushed or time.monotonic() >= self._stop_deadline:
                        self._delete(acked)
                        self._say_goodbye(client)
                        return
                room = self._session_window - len(inflight)
                sent = 0
                # Refill in chunks, not one row per PUBACK: one query per chunk.
                if room >= min(READ_BATCH, max(1, self._session_window // 4)) or (room > 0 and not inflight):
                    tokens = self._limiter.available()
                    rows = self._next_rows(cursor, min(room, tokens, READ_BATCH)) if tokens > 0 else []
                    for row in rows:
                        info = client.publish(row.topic, row.payload, qos=1, retain=row.retain)
                        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                            raise SessionLost(f"publish failed: {mqtt.error_string(info.rc)}")
                        inflight[info.mid] = (row.pos, row.priority)
                        cursor = row.pos
                    sent = len(rows)
                    if sent:
                        self._limiter.take(sent)
                        self.stats.published_total += sent
                        metrics.PUBLISHED.inc(sent)
                if sent:
                    self._pump(client, 0)  # read what has come back, keep going
                    continue
                # Idle, window full or rate-bound: delete what was acknowledged, then wait.
                self._delete(acked)
                if room > 0 and not self._limiter.available():
                    # Rate-bound: let a chunk of tokens build up rather than one row per wake-up.
                    wait = self._limiter.wait_s(min(room, READ_BATCH))
                else:
                    wait = IDLE_POLL_S
                self._pump(client, min(IDLE_POLL_S, max(wait, 0.001)))
        finally:
            self._delete(acked)

    def _settle_acks(
        self, inflight: dict[int, tuple[int, Priority]], acked: list[tuple[int, Priority]]
    ) -> None:
        if not self._acks:
            return
        acks, self._acks = self._acks, []
        for mid, rc in acks:
            row = inflight.pop(mid, None)
            if row is None:
                continue  # the birth message
            if rc.is_failure:
                if rc.value in PERMANENT_REFUSALS:
                    self.store.refuse(row[0], row[1], str(rc))
                    self.stats.refused_total += 1
                    metrics.REFUSED.inc()
                    log.error(
                        "broker refused outbox message %d permanently (%s); kept aside",
                        row[0],
                        rc,
                        extra={"node_id": self.client_id, "reason": str(rc)},
                    )
                    continue
                # Temporary (quota, busy): replay from the oldest row on a new connection.
                raise SessionLost(f"broker refused a message for now: {rc}")
            acked.append(row)

    def _delete(self, acked: list[tuple[int, Priority]]) -> None:
        if acked:
            self.store.delete(acked)
            self.stats.acked_total += len(acked)
            metrics.ACKED.inc(len(acked))
            acked.clear()

    def _say_goodbye(self, client: mqtt.Client) -> None:
        pending = [
            client.publish(t, p, qos=1, retain=True) for t, p in (self.farewell() if self.farewell else [])
        ]
        deadline = time.monotonic() + 2
        while any(not i.is_published() for i in pending) and time.monotonic() < deadline:
            self._pump(client, 0.05)
