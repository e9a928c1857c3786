"""The gateway's watch on the broker's log: each refused login becomes a row of ``login_refusals``.

Its own MQTT connection (the gateway's login, client id ``<gateway id>-brokerlog``), subscribed
to ``$SYS/broker/log/N`` without a share group: pairing a refusal with its connection needs
every line in order, so each gateway reads them all and the table keeps one row per refusal
(:func:`gateway.devices.broker_log.record`). A broker without ``log_dest topic``, or an ACL that
refuses the subscription, leaves the check unable to tell "credentials refused": that is logged
once as a warning and in ``gridwatch_gateway_broker_log_watch`` (0), and nothing else changes.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import paho.mqtt.client as mqtt
from sqlalchemy.orm import Session, sessionmaker

from contracts.clock import Clock
from contracts.mqtt_client import new_client
from contracts.topics import BROKER_LOG
from gateway.devices import broker_log
from gateway.devices.metrics import LOGINS_REFUSED as REFUSED
from gateway.devices.metrics import WATCHING_BROKER_LOG as WATCHING
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


class BrokerLogWatch:
    def __init__(self, settings: GatewaySettings, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock
        self.settings = settings
        self.reader = broker_log.BrokerLog()
        self.watching = threading.Event()
        self._lock = threading.Lock()  # paho's thread only, but a test may feed lines too
        self._warned = False
        self.client = new_client(
            f"{settings.gateway_id}-brokerlog",
            username=settings.mqtt.username,
            password=settings.mqtt.password,
            tls=settings.mqtt.tls_context(),
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.client.reconnect_delay_set(1, 30)

    def start(self) -> None:
        self.client.connect_async(self.settings.mqtt.host, self.settings.mqtt.port, keepalive=60)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        WATCHING.set(0)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        if not rc.is_failure:
            client.subscribe(BROKER_LOG, qos=0)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, codes: list[Any], _p: Any = None) -> None:
        ok = bool(codes) and not codes[0].is_failure
        if ok:
            self.watching.set()
            WATCHING.set(1)
        elif not self._warned:
            self._warned = True
            log.warning(
                "the broker refused the subscription to %s (%s): the commissioning check cannot tell "
                "'credentials refused' from 'never connected'; give the gateway's login read access "
                "to it (docs/broker-access.md)",
                BROKER_LOG,
                codes[0] if codes else "no answer",
            )

    def _on_disconnect(self, *_args: Any) -> None:
        self.watching.clear()
        WATCHING.set(0)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.feed(msg.payload.decode("utf-8", errors="replace"))

    def feed(self, line: str) -> None:
        with self._lock:
            refusal = self.reader.feed(line)
        if refusal is None:
            return
        try:
            if broker_log.record(self.sessions, refusal, self.clock.now()):
                REFUSED.labels("yes" if refusal.login else "no").inc()
                log.info(
                    "the broker refused a login from %s:%s (login %s)",
                    refusal.address or "?",
                    refusal.port or "?",
                    refusal.login or "not named by the broker",
                    extra={"device_id": refusal.login or ""},
                )
        except Exception:  # the store down: this refusal is lost, the watch goes on
            log.exception("could not record a refused login")
