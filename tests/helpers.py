"""Helpers for tests that drive the system through a real broker."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from contracts.clock import Clock, RunningClock
from gateway.service import Gateway
from gateway.settings import GatewaySettings, MqttSettings
from gridwatch.broker import Mosquitto

T = TypeVar("T")

SHANGHAI = ZoneInfo("Asia/Shanghai")


def site_time(hour: int, minute: int = 0) -> RunningClock:
    """A clock running at real speed from a Wednesday, hour:minute in Shanghai.

    System tests run the live gateway on it, so what they see (who is on duty, which
    schedule is armed) is the same whatever the machine's clock and time zone say. The
    Wednesday is 2 December 2026, or as many whole weeks later as it takes not to be behind
    the machine's clock: what edge nodes and simulators date with that clock is then never
    ahead of the gateway's (which refuses messages from the future: max_clock_skew_s).
    """
    start = datetime(2026, 12, 2, hour, minute, tzinfo=SHANGHAI)
    behind = datetime.now(UTC) - start
    if behind > timedelta(0):
        start += timedelta(weeks=math.ceil(behind / timedelta(weeks=1)))
    return RunningClock(start)


def wait_until(
    predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05, what: str = ""
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(interval)


@contextmanager
def running_gateway(
    broker: Mosquitto,
    db_url: str,
    site_dir: Path,
    gateway_id: str = "gateway-1",
    clock: Clock | None = None,
    login: tuple[str, str] | None = None,
    **settings: object,
) -> Iterator[Gateway]:
    # Daytime by default: the demo rota has most workers on duty (see site_time).
    clock = clock or site_time(10)
    username, password = login or (None, None)
    gw = Gateway(
        GatewaySettings(
            gateway_id=gateway_id,
            site_dir=site_dir,
            database_url=db_url,
            mqtt=MqttSettings(host=broker.host, port=broker.port, username=username, password=password),
            **settings,  # type: ignore[arg-type]
        ),
        clock=clock,
    )
    thread = threading.Thread(target=gw.run, name=f"gw-{gateway_id}", daemon=True)
    thread.start()
    try:
        assert gw.link.connected.wait(10), "gateway did not connect to the broker"
        yield gw
    finally:
        gw.stop()
        thread.join(timeout=15)
        assert not thread.is_alive(), "gateway thread did not stop"


class Collector:
    """An MQTT client that records everything on a filter (a worker's phone, an operator screen).

    The constructor returns once the broker answered the subscription (SUBACK); ``granted``
    holds its reason code, so a test can tell a refused subscription from a quiet topic.
    """

    def __init__(
        self,
        broker: Mosquitto,
        topic_filter: str | list[str],
        client_id: str = "",
        username: str | None = None,
    ) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self.granted: list[ReasonCode] = []
        self._lock = threading.Lock()
        filters = [topic_filter] if isinstance(topic_filter, str) else topic_filter
        subscribed = threading.Event()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
        if username:
            self.client.username_pw_set(username)

        def on_connect(c: mqtt.Client, *_: object) -> None:
            c.subscribe([(f, 1) for f in filters])

        def on_subscribe(_c: mqtt.Client, _u: object, _mid: int, codes: list[ReasonCode], _p: object) -> None:
            self.granted = list(codes)
            subscribed.set()

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            with self._lock:
                self.messages.append(msg)

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert subscribed.wait(10), f"the broker did not answer the subscription to {filters}"

    def payloads(self) -> list[bytes]:
        with self._lock:
            return [m.payload for m in self.messages]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publisher(broker: Mosquitto, client_id: str = "") -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def publish_all(
    broker: Mosquitto,
    messages: list[tuple[str, bytes]],
    client_id: str = "",
    window: int = 200,
    rate: float | None = None,
) -> None:
    """Publish at QoS 1 and return once the broker acknowledged every message.

    At most ``window`` messages are unacknowledged at a time (paho scans its whole
    in-flight table on every PUBACK, so a huge window makes it slow); ``rate`` caps
    messages per second.
    """
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_inflight_messages_set(65535)
    client.max_queued_messages_set(0)
    slots = threading.BoundedSemaphore(window)
    client.on_publish = lambda *_: slots.release()
    client.connect(broker.host, broker.port)
    client.loop_start()
    started = time.monotonic()
    try:
        for i, (topic, payload) in enumerate(messages):
            if rate is not None:
                ahead = started + i / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            assert slots.acquire(timeout=30), "the broker stopped acknowledging"
            client.publish(topic, payload, qos=1)
        for _ in range(window):
            assert slots.acquire(timeout=30), "the broker did not acknowledge everything"
    finally:
        client.disconnect()
        client.loop_stop()


def run_gridwatch(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """This checkout's ``gridwatch`` command in its own process, as a user runs it: from ``cwd``
    (default: the checkout) and without the GRIDWATCH_* settings of the test's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    return subprocess.run(
        [str(Path(sys.executable).with_name("gridwatch")), *args],
        cwd=cwd or Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )
