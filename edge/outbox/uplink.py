"""Drain the outbox to the broker: QoS 1, in order; a row leaves on its receipt (or PUBACK).

Telemetry and health are deleted on the broker's PUBACK. Events, statuses and
evidence wait for a gateway's delivery receipt after their PUBACK and are sent
again when none comes (:mod:`edge.outbox.receipts`); the uplink subscribes to the
node's ``receipt`` topic on every connection. A broker that refuses that
subscription (an ACL without it) leaves the node one hop — PUBACK means
delivered — and its health says so.

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

from contracts import ContractError, DeliveryReceipt, decode, topics
from contracts.clock import Clock, SystemClock
from contracts.mqtt_client import new_client
from edge.emit import Priority
from edge.outbox import metrics
from edge.outbox.buffered import BufferedSocket
from edge.outbox.paho_client import uplink_client_class
from edge.outbox.ratelimit import TokenBucket
from edge.outbox.receipts import RECEIPTED, Awaiting, ReceiptBook
from edge.outbox.store import OutboxStore, QueuedMessage
from edge.settings import BrokerSettings

log = logging.getLogger(__name__)

# PUBACK reason codes that retrying cannot fix (MQTT 5, 3.4.2.1).
PERMANENT_REFUSALS = frozenset({0x87, 0x90, 0x95, 0x99})  # not authorised, topic invalid, too large, format
NO_MATCHING_SUBSCRIBERS = 0x10  # a success code: the broker took it and handed it to nobody
NO_SUBSCRIBER_LOG_S = 60.0  # one log line per minute while no gateway listens
CONNECT_TIMEOUT_S = 10.0
BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 5.0  # an edge node must be back soon after its broker is
DELETE_BATCH = 256  # acknowledged rows deleted per transaction
READ_BATCH = 256  # rows read from the outbox per query
LIVE_MAX = 4096  # freshly queued rows kept in memory for the drain
IDLE_POLL_S = 0.5  # also paces keep-alive pings

Birth = Callable[[], list[tuple[str, bytes]]]  # retained (topic, payload) published on a connection
Settled = Callable[[str, list[int]], None]  # ("acked" | "receipted", outbox positions deleted)
Flight = tuple[int, Priority] | Awaiting  # a one-hop row (position, priority), or one awaiting a receipt


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
    receipts_refused: str = ""  # the broker refused the receipt subscription: one hop on this connection


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
        receipts: ReceiptBook | None = None,
        clock: Clock | None = None,
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
        # None: one hop (a row leaves on its PUBACK). Otherwise events, statuses and evidence wait.
        self.receipts = receipts
        self.receipt_topic = topics.node_receipt(receipts.node_id) if receipts is not None else None
        self.clock = clock or SystemClock()
        self.on_settled: Settled | None = None  # told which positions left the outbox (benchmarks)
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
        self._receipts_in: list[DeliveryReceipt] = []
        self._receipt_sub: int | None = None  # mid of the receipt SUBSCRIBE
        self._one_hop = receipts is None
        self._no_subscriber_logged = 0.0
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
        if msg.topic == self.receipt_topic:
            try:
                receipt = decode(msg.topic, msg.payload)
            except ContractError as exc:
                log.warning("unreadable receipt on %s: %s", msg.topic, exc, extra={"node_id": self.client_id})
                return
            if isinstance(receipt, DeliveryReceipt):
                self._receipts_in.append(receipt)
            return
        if self.downlink is None:
            return
        try:
            self.downlink[1](msg.topic, msg.payload)
        except Exception:  # a bad configuration message must not end the uplink
            log.exception("downlink message on %s failed", msg.topic, extra={"node_id": self.client_id})

    def _on_subscribe(
        self, _c: mqtt.Client, _u: object, mid: int, codes: list[ReasonCode], _p: object
    ) -> None:
        if mid != self._receipt_sub or not codes:
            return
        if codes[0].is_failure:
            self.stats.receipts_refused = str(codes[0])
            log.error(
                "broker refused the subscription to %s (%s): without receipts a PUBACK counts as delivered "
                "(one hop); let this node read its receipt topic in the broker's ACL",
                self.receipt_topic,
                codes[0],
                extra={"node_id": self.client_id},
            )
        else:
            self.stats.receipts_refused = ""

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
        client.on_subscribe = self._on_subscribe
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
        book = self.receipts
        self._one_hop = book is None
        self.stats.receipts_refused = ""
        self._receipts_in.clear()
        if book is not None:
            book.reset()  # everything still in the outbox goes again, in order
            rc, self._receipt_sub = client.subscribe(self.receipt_topic, qos=1)  # type: ignore[arg-type]
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise SessionLost(f"subscribe failed: {mqtt.error_string(rc)}")
        for topic, payload in self.birth() if self.birth else []:
            client.publish(topic, payload, qos=1, retain=True)
        if self.downlink is not None and self.downlink[0]:
            client.subscribe([(t, 1) for t in self.downlink[0]])
        cursor = 0  # replay from the oldest queued row on every connection
        inflight: dict[int, Flight] = {}  # paho mid -> what was published
        acked: list[tuple[int, Priority]] = []  # deleted in batches: one transaction per batch
        receipted: list[int] = []
        try:
            while True:
                self._settle_acks(inflight, acked)
                if book is not None:
                    self._settle_receipts(book, acked, receipted)
                if len(acked) >= DELETE_BATCH:
                    self._delete(acked, receipted)
                if self._stopping.is_set():
                    flushed = not inflight and not self.store.pending(cursor, 1) and not (book and book.count)
                    if flushed or time.monotonic() >= self._stop_deadline:
                        self._delete(acked, receipted)
                        self._say_goodbye(client)
                        return
                room = self._session_window - len(inflight)
                sent = 0
                # Refill in chunks, not one row per PUBACK: one query per chunk.
                if room >= min(READ_BATCH, max(1, self._session_window // 4)) or (room > 0 and not inflight):
                    tokens = self._limiter.available()
                    budget = min(room, tokens, READ_BATCH)
                    if book is not None and budget > 0:
                        sent = self._resend(client, book, inflight, acked, receipted, budget)
                        budget -= sent
                    if book is not None and not self._one_hop:
                        budget = min(budget, book.room)  # bounded, and nothing new while nobody listens
                    rows = self._next_rows(cursor, budget) if budget > 0 else []
                    for row in rows:
                        cursor = row.pos
                        flight = self._flight(row, book, acked, receipted)
                        if flight is None:
                            continue  # a receipt already covers it (sent before a reconnect)
                        info = client.publish(row.topic, row.payload, qos=1, retain=row.retain)
                        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                            raise SessionLost(f"publish failed: {mqtt.error_string(info.rc)}")
                        inflight[info.mid] = flight
                        sent += 1
                    if sent:
                        self._limiter.take(sent)
                        self.stats.published_total += sent
                        metrics.PUBLISHED.inc(sent)
                if book is not None:
                    book.settle()
                if sent:
                    self._pump(client, 0)  # read what has come back, keep going
                    continue
                # Idle, window full or rate-bound: delete what was acknowledged, then wait.
                self._delete(acked, receipted)
                if room > 0 and not self._limiter.available():
                    # Rate-bound: let a chunk of tokens build up rather than one row per wake-up.
                    wait = self._limiter.wait_s(min(room, READ_BATCH))
                else:
                    wait = IDLE_POLL_S
                self._pump(client, min(IDLE_POLL_S, max(wait, 0.001)))
        finally:
            self._delete(acked, receipted)

    def _flight(
        self,
        row: QueuedMessage,
        book: ReceiptBook | None,
        acked: list[tuple[int, Priority]],
        receipted: list[int],
    ) -> Flight | None:
        """What to remember of a row about to be published; None when it need not be."""
        if book is None or self._one_hop or row.priority < RECEIPTED:
            return (row.pos, row.priority)
        if book.coverage.covers(row.seq):
            acked.append((row.pos, row.priority))
            receipted.append(row.pos)
            return None
        return book.sending(row.seq, row.pos, row.priority, row.created_at)

    def _resend(
        self,
        client: mqtt.Client,
        book: ReceiptBook,
        inflight: dict[int, Flight],
        acked: list[tuple[int, Priority]],
        receipted: list[int],
        budget: int,
    ) -> int:
        """Send again what no receipt covered in time; returns how many were published."""
        due = book.due(time.monotonic(), budget)
        if not due:
            return 0
        rows = {r.pos: r for r in self.store.rows([e.pos for e in due])}
        sent = 0
        for entry in due:
            row = rows.get(entry.pos)
            if row is None:  # evicted to make room while it waited
                book.gone(entry)
                continue
            if book.coverage.covers(entry.seq):
                book.gone(entry)
                acked.append((row.pos, row.priority))
                receipted.append(row.pos)
                continue
            info = client.publish(row.topic, row.payload, qos=1, retain=row.retain)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise SessionLost(f"publish failed: {mqtt.error_string(info.rc)}")
            inflight[info.mid] = entry
            sent += 1
        return sent

    def _settle_acks(self, inflight: dict[int, Flight], acked: list[tuple[int, Priority]]) -> None:
        if not self._acks:
            return
        acks, self._acks = self._acks, []
        now = time.monotonic()
        book = self.receipts
        good = 0
        for mid, rc in acks:
            item = inflight.pop(mid, None)
            if item is None:
                continue  # the birth message
            pos, priority = (item.pos, item.priority) if isinstance(item, Awaiting) else item
            if rc.is_failure:
                if rc.value in PERMANENT_REFUSALS:
                    if isinstance(item, Awaiting) and book is not None:
                        book.gone(item)
                    self.store.refuse(pos, priority, str(rc))
                    self.stats.refused_total += 1
                    metrics.REFUSED.inc()
                    log.error(
                        "broker refused outbox message %d permanently (%s); kept aside",
                        pos,
                        rc,
                        extra={"node_id": self.client_id, "reason": str(rc)},
                    )
                    continue
                # Temporary (quota, busy): replay from the oldest row on a new connection.
                raise SessionLost(f"broker refused a message for now: {rc}")
            good += 1
            if not isinstance(item, Awaiting) or book is None:
                acked.append((pos, priority))
            elif self._one_hop or self.stats.receipts_refused:
                self._one_hop = True
                book.gone(item)
                acked.append((pos, priority))
            elif rc.value == NO_MATCHING_SUBSCRIBERS:
                book.no_subscriber(item, now)
                self._note_no_subscriber(now)
            elif book.acked(item, now):
                acked.append((pos, priority))
        self.stats.acked_total += good
        metrics.ACKED.inc(good)

    def _note_no_subscriber(self, now: float) -> None:
        if now - self._no_subscriber_logged >= NO_SUBSCRIBER_LOG_S:
            self._no_subscriber_logged = now
            log.warning(
                "the broker has no subscriber for this node's events (PUBACK 'no matching subscribers'): "
                "no gateway is listening; they stay in the outbox and are sent again",
                extra={"node_id": self.client_id},
            )

    def _settle_receipts(
        self, book: ReceiptBook, acked: list[tuple[int, Priority]], receipted: list[int]
    ) -> None:
        if self.stats.receipts_refused and not self._one_hop:
            self._one_hop = True  # the broker will never send receipts on this connection
            acked.extend((e.pos, e.priority) for e in book.release())
        if not self._receipts_in:
            return
        receipts, self._receipts_in = self._receipts_in, []
        last_seq = self.store.last_seq(book.node_id)
        now, wall = time.monotonic(), self.clock.now().timestamp()
        for receipt in receipts:
            for entry in book.receipt(receipt, now, last_seq):
                acked.append((entry.pos, entry.priority))
                receipted.append(entry.pos)
                metrics.RECEIPT_SECONDS.observe(max(0.0, wall - entry.created_at))

    def _delete(self, acked: list[tuple[int, Priority]], receipted: list[int] | None = None) -> None:
        if acked:
            self.store.delete(acked)
            if self.on_settled is not None:
                done = set(receipted or ())
                self.on_settled("acked", [p for p, _ in acked if p not in done])
                if done:
                    self.on_settled("receipted", sorted(done))
            acked.clear()
        if receipted:
            receipted.clear()

    def _say_goodbye(self, client: mqtt.Client) -> None:
        pending = [
            client.publish(t, p, qos=1, retain=True) for t, p in (self.farewell() if self.farewell else [])
        ]
        deadline = time.monotonic() + 2
        while any(not i.is_published() for i in pending) and time.monotonic() < deadline:
            self._pump(client, 0.05)
