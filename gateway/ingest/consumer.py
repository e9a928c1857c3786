"""The gateway's MQTT connection: consume with manual acks, publish the outbox.

paho-mqtt's network thread only enqueues; the gateway thread batches,
commits, then acknowledges (``client.ack``) — so the broker redelivers
anything we had not committed when we crashed. The session is persistent
(MQTT 5 clean_start=False plus a session expiry), so messages published while
the gateway is down wait in the broker.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contracts import topics
from gateway import metrics
from gateway.ingest.pipeline import Incoming
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


class MqttLink:
    def __init__(self, settings: GatewaySettings, inbox_limit: int = 10_000) -> None:
        self.settings = settings
        self.inbox: queue.Queue[Incoming] = queue.Queue(maxsize=inbox_limit)
        self.connected = threading.Event()
        self.on_connected: Callable[[], None] | None = None
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=settings.gateway_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if settings.mqtt.username:
            client.username_pw_set(settings.mqtt.username, settings.mqtt.password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        # paho keeps QoS>0 messages it could not send and retries them on reconnect.
        client.max_queued_messages_set(0)
        client.max_inflight_messages_set(100)
        self.client = client

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

    def _on_connect(
        self, client: mqtt.Client, _ud: object, flags: mqtt.ConnectFlags, rc: ReasonCode, _props: object
    ) -> None:
        if rc.is_failure:
            log.error("broker refused the connection: %s", rc)
            return
        filters = topics.gateway_subscriptions(self.settings.share_group)
        client.subscribe([(f, 1) for f in filters])
        self.connected.set()
        metrics.MQTT_CONNECTED.set(1)
        log.info(
            "connected to %s:%d (session present: %s), subscribed to %d filters",
            self.settings.mqtt.host,
            self.settings.mqtt.port,
            flags.session_present,
            len(filters),
        )
        if self.on_connected:
            self.on_connected()

    def _on_disconnect(
        self, _c: mqtt.Client, _ud: object, _flags: object, rc: ReasonCode, _props: object
    ) -> None:
        self.connected.clear()
        metrics.MQTT_CONNECTED.set(0)
        log.warning("disconnected from the broker (%s); paho reconnects with back-off", rc)

    def _on_message(self, _c: mqtt.Client, _ud: object, msg: mqtt.MQTTMessage) -> None:
        # Blocks when the gateway falls behind: back-pressure reaches the broker,
        # which holds further messages instead of us growing without bound.
        self.inbox.put(Incoming(msg.topic, msg.payload, msg.mid, msg.qos, retain=bool(msg.retain)))

    # -- consuming -----------------------------------------------------------
    def next_batch(self, max_size: int, wait_s: float, idle_timeout_s: float = 0.2) -> list[Incoming]:
        try:
            first = self.inbox.get(timeout=idle_timeout_s)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + wait_s
        while len(batch) < max_size:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self.inbox.get(timeout=remaining) if remaining > 0 else self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def ack(self, batch: list[Incoming]) -> None:
        for m in batch:
            if m.qos > 0:
                self.client.ack(m.mid, m.qos)

    # -- publishing ----------------------------------------------------------
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=qos, retain=retain)
