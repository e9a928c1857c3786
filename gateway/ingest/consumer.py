"""The gateway's MQTT connection: consume with manual acks, publish the outbox.

paho-mqtt's network thread only enqueues; the gateway thread batches,
commits, then acknowledges (``client.ack``) — so the broker redelivers
anything we had not committed when we crashed. The session is persistent
(MQTT 5 clean_start=False plus a session expiry), so messages published while
the gateway is down wait in the broker.

It subscribes again on every connection, whatever the CONNACK's session-present
flag says: Mosquitto 2.0 restores a persistent session from its file after a
restart but not its ``$share/...`` subscriptions, and without persistence there
is no session at all. A broker that comes back must find its gateways
subscribed within seconds, so reconnecting backs off only up to
``RECONNECT_MAX_S``, with jitter so that several gateways do not knock in step.
(What the broker drops meanwhile is sent again by the edge: see receipts in
docs/gateway-ingest.md.)

"Connected" (health, metrics, heartbeat, ``connected``) means the broker granted
every subscription in its SUBACK, not merely that it accepted the connection:
until then nothing arrives, and a subscription the broker refuses (an ACL that
denies it) means part of the stream never will. A refusal is logged as an error,
counted in ``gridwatch_gateway_mqtt_subscriptions_refused``, shown in the
heartbeat's warnings and asked again every ``RESUBSCRIBE_S``.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contracts import topics
from contracts.mqtt_client import new_client
from gateway import metrics
from gateway.ingest.incoming import Incoming
from gateway.ingest.paho_client import link_client_class
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

RESUBSCRIBE_S = 60.0  # refused subscriptions are asked for again this often (an ACL may be fixed live)
RECONNECT_MIN_S = 0.25  # first wait after a lost connection
_UNREACHABLE = " unreachable"  # a failed connection's key among the problems: no topic filter has a space
RECONNECT_MAX_S = 3.0  # back-off cap: an edge node reconnects within 5 s, the gateway must be there first


def reconnect_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (1, 2, ...): doubling up to the cap,
    each wait drawn from its upper half ("equal jitter": never zero, never in step)."""
    ceiling = min(RECONNECT_MAX_S, RECONNECT_MIN_S * 2 ** max(attempt - 1, 0))
    return (rng or random).uniform(ceiling / 2, ceiling)


class Inbox:
    """What paho's network thread hands the batch loop: a bounded FIFO whose consumer takes a batch
    at a time.

    ``queue.Queue`` took a lock and signalled a condition for every message on both sides, and woke
    the batch loop for every message while a batch filled (~5 % of the gateway's CPU under load,
    all of it under the one GIL the batch loop needs). Here the network thread only appends, and
    takes the lock only to wake a consumer that waits — for its first message, or for a full batch;
    the consumer takes up to a batch in one go. When ``limit`` messages wait, the network thread
    blocks (back-pressure: the broker holds what follows instead of us growing without bound).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: deque[Incoming] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._taken = threading.Condition(self._lock)
        # How many waiting messages would wake the consumer (0: it is not waiting). Set and read
        # under the lock by the consumer; read without it by the producer after its append, which
        # then takes the lock to signal: an append the consumer's check missed is always signalled.
        self._wake_at = 0
        self._producer_waits = False

    def qsize(self) -> int:
        return len(self._items)

    def put(self, item: Incoming) -> None:
        if len(self._items) >= self.limit:
            with self._lock:
                self._producer_waits = True
                while len(self._items) >= self.limit:
                    self._taken.wait(0.5)
                self._producer_waits = False
        self._items.append(item)
        wake_at = self._wake_at
        if wake_at and len(self._items) >= wake_at:
            with self._lock:
                self._arrived.notify()

    def _wait_for(self, count: int, timeout: float) -> None:
        """Until ``count`` messages wait or ``timeout`` passed."""
        if len(self._items) >= count or timeout <= 0:
            return
        deadline = time.monotonic() + timeout
        with self._lock:
            self._wake_at = count
            try:
                while len(self._items) < count:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._arrived.wait(remaining)
            finally:
                self._wake_at = 0

    def take(self, max_size: int, wait_s: float, idle_timeout_s: float) -> list[Incoming]:
        """Up to ``max_size`` messages: waits ``idle_timeout_s`` for the first, then ``wait_s`` for
        the batch to fill."""
        self._wait_for(1, idle_timeout_s)
        if not self._items:
            return []
        self._wait_for(max_size, wait_s)
        items = self._items
        batch = [items.popleft() for _ in range(min(max_size, len(items)))]
        if self._producer_waits:
            with self._lock:
                self._taken.notify()
        return batch


class MqttLink:
    def __init__(self, settings: GatewaySettings, inbox_limit: int = 10_000) -> None:
        self.settings = settings
        self.inbox = Inbox(inbox_limit)
        # online: the broker accepted the connection (we may publish);
        # connected: and it granted every subscription (we receive the whole stream).
        self.online = threading.Event()
        self.connected = threading.Event()
        self.on_connected: Callable[[], None] | None = None  # after CONNACK
        self.on_subscribed: Callable[[], None] | None = None  # after a SUBACK granting everything
        self.filters = topics.gateway_subscriptions(settings.share_group)
        self._lock = threading.Lock()
        self._problems: dict[str, str] = {}  # topic filter (or "connection") -> what the broker said
        self._pending_mid: int | None = None
        self._asked: list[str] = []
        self._refused_at = 0.0
        self._reconnects = 0  # failed or lost connections since the last good one
        client = new_client(
            settings.gateway_id,
            username=settings.mqtt.username,
            password=settings.mqtt.password,
            tls=settings.mqtt.tls_context(),
            client_class=link_client_class(),  # reads ahead of paho's parser where the paho allows
            manual_ack=True,
        )
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_connect_fail = self._on_connect_fail
        # paho keeps QoS>0 messages it could not send and retries them on reconnect.
        client.max_queued_messages_set(0)
        client.max_inflight_messages_set(100)
        self.client = client
        self.reconnect_wait_s = 0.0
        self._plan_reconnect()  # also the wait after a failed first connection

    # -- connection ----------------------------------------------------------
    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.session_expiry_s
        self.client.connect_async(
            self.settings.mqtt.host,
            self.settings.mqtt.port,
            keepalive=self.settings.mqtt.keepalive_s,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def state(self) -> str:
        """connected, subscribing, subscriptions refused, or disconnected (for logs and tests)."""
        if self.connected.is_set():
            return "connected"
        if not self.online.is_set():
            return "disconnected"
        return "subscriptions refused" if self.problems() else "subscribing"

    def problems(self) -> list[str]:
        """What the broker refused, one line each, for the heartbeat's warnings."""
        with self._lock:
            return [
                f"MQTT broker refused the connection: {why}"
                if what == "connection"
                else why
                if what == _UNREACHABLE
                else f"MQTT broker refused the subscription to {what}: {why} (check its ACL for this gateway)"
                for what, why in sorted(self._problems.items())
            ]

    def _plan_reconnect(self) -> None:
        """Set paho's next reconnect wait (its own back-off has no jitter and grows to 30 s here).

        paho waits ``min_delay`` after ``reconnect_delay_set`` resets it, so both bounds are
        set to the wait we chose; called (from paho's network thread) after a lost or failed
        connection, before paho waits.
        """
        self._reconnects += 1
        self.reconnect_wait_s = wait = reconnect_delay(self._reconnects)
        self.client.reconnect_delay_set(min_delay=wait, max_delay=wait)  # type: ignore[arg-type]

    def _on_connect_fail(self, _c: mqtt.Client, _ud: object) -> None:
        """paho could not open the connection (nothing listens, no route, TLS refused): said once
        per outage in the log, and in the heartbeat's warnings until a connection is made."""
        exc = sys.exc_info()[1]  # paho calls this from its ``except OSError``
        why = f"{type(exc).__name__}: {exc}" if exc is not None else "no answer"
        where = f"{self.settings.mqtt.host}:{self.settings.mqtt.port}"
        with self._lock:
            first = _UNREACHABLE not in self._problems
            self._problems[_UNREACHABLE] = f"cannot reach the MQTT broker at {where}: {why}"
        self._plan_reconnect()
        if first:
            log.warning(
                "cannot reach the MQTT broker at %s (%s): nothing is received until it answers; "
                "trying again every %.0f s at most",
                where,
                why,
                RECONNECT_MAX_S,
            )

    def _on_connect(
        self, client: mqtt.Client, _ud: object, flags: mqtt.ConnectFlags, rc: ReasonCode, _props: object
    ) -> None:
        if rc.is_failure:
            with self._lock:
                self._problems = {"connection": str(rc)}
            log.error("broker refused the connection: %s", rc)
            return
        self._reconnects = 0  # a lost connection waits the shortest again
        with self._lock:
            self._problems = {}
        self.online.set()
        if self.on_connected:
            self.on_connected()  # in-flight publishes of the old connection are re-sent from the table
        log.info(
            "connected to %s:%d (session present: %s); subscribing to %d filters",
            self.settings.mqtt.host,
            self.settings.mqtt.port,
            flags.session_present,
            len(self.filters),
        )
        self._subscribe(client, self.filters)

    def _subscribe(self, client: mqtt.Client, filters: list[str]) -> None:
        with self._lock:
            self._asked = list(filters)
            rc, mid = client.subscribe([(f, 1) for f in filters])
            self._pending_mid = mid if rc == mqtt.MQTT_ERR_SUCCESS else None
        if rc != mqtt.MQTT_ERR_SUCCESS:
            log.warning("could not send SUBSCRIBE (rc %s); paho reconnects and we ask again", rc)

    def _on_subscribe(
        self, _c: mqtt.Client, _ud: object, mid: int, codes: list[ReasonCode], _props: object
    ) -> None:
        with self._lock:
            if mid != self._pending_mid:
                return  # the answer to a subscription of an earlier connection
            self._pending_mid = None
            asked = self._asked
            refused = {f: str(code) for f, code in zip(asked, codes, strict=False) if code.is_failure}
            for f in asked:
                self._problems.pop(f, None)
            self._problems.update(refused)
            all_refused = dict(self._problems)
        downgraded = [
            f for f, code in zip(asked, codes, strict=False) if not code.is_failure and code.value < 1
        ]
        for f in downgraded:
            # QoS 0 means no redelivery: a crash between receipt and commit would lose events.
            log.warning("broker granted only QoS 0 for %s; events on it may be lost in a crash", f)
        metrics.MQTT_SUBSCRIPTIONS_REFUSED.set(len(all_refused))
        if all_refused:
            self._refused_at = time.monotonic()
            self.connected.clear()
            metrics.MQTT_CONNECTED.set(0)
            for f, why in sorted(refused.items()):
                log.error(
                    "broker refused subscription to %s: %s; this gateway does not receive that part of "
                    "the stream until the broker's ACL allows it (asked again every %.0f s)",
                    f,
                    why,
                    RESUBSCRIBE_S,
                    extra={"topic": f},
                )
            return
        self.connected.set()
        metrics.MQTT_CONNECTED.set(1)
        log.info("subscribed: the broker granted all %d filters; connected", len(self.filters))
        if self.on_subscribed:
            self.on_subscribed()

    def retry_refused(self) -> None:
        """Ask again for refused subscriptions, at most every RESUBSCRIBE_S (called from the gateway loop)."""
        with self._lock:
            refused = [f for f in self._problems if f not in ("connection", _UNREACHABLE)]
            waiting = self._pending_mid is not None
        if not refused or waiting or not self.online.is_set():
            return
        if time.monotonic() - self._refused_at < RESUBSCRIBE_S:
            return
        self._refused_at = time.monotonic()
        log.info("asking the broker again for %d refused subscription(s)", len(refused))
        self._subscribe(self.client, refused)

    def _on_disconnect(
        self, _c: mqtt.Client, _ud: object, _flags: object, rc: ReasonCode, _props: object
    ) -> None:
        self.online.clear()
        self.connected.clear()
        with self._lock:
            self._pending_mid = None
        metrics.MQTT_CONNECTED.set(0)
        self._plan_reconnect()
        log.warning("disconnected from the broker (%s); reconnecting in %.1f s", rc, self.reconnect_wait_s)

    def _on_message(self, _c: mqtt.Client, _ud: object, msg: mqtt.MQTTMessage) -> None:
        # Blocks when the gateway falls behind: back-pressure reaches the broker,
        # which holds further messages instead of us growing without bound.
        self.inbox.put(Incoming(msg.topic, msg.payload, msg.mid, msg.qos, retain=bool(msg.retain)))

    # -- consuming -----------------------------------------------------------
    def next_batch(self, max_size: int, wait_s: float, idle_timeout_s: float = 0.2) -> list[Incoming]:
        return self.inbox.take(max_size, wait_s, idle_timeout_s)

    def ack(self, batch: list[Incoming]) -> None:
        """Acknowledge a committed batch to the broker (never before its commit)."""
        # One PUBACK packet per message, in order. Coalescing a batch's PUBACKs into one write was
        # tried twice and measured: it added ~5 ms to the p50 publish→commit latency at 500 events/s
        # the first time, 23–63 ms in a loaded same-run comparison the second (issue 19; not
        # understood), so it is not used. The link's client queues the packets and wakes paho's
        # network thread once for them (ReadAheadClient.ack_many); paho's own client, one by one.
        ack_many = getattr(self.client, "ack_many", None)
        run: list[int] = []  # consecutive QoS 1 message ids, acknowledged together
        for m in batch:
            if m.qos == 1 and ack_many is not None:
                run.append(m.mid)
                continue
            if run:
                ack_many(run)  # type: ignore[misc]
                run = []
            if m.qos > 0:
                self.client.ack(m.mid, m.qos)
        if run:
            ack_many(run)  # type: ignore[misc]

    # -- publishing ----------------------------------------------------------
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=qos, retain=retain)
