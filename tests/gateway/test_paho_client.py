"""The gateway link's hook into paho-mqtt's private receive path: in use with the installed
paho, refused for a paho it was not checked against, and really reading ahead."""

from __future__ import annotations

import logging
import socket

import paho.mqtt
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contracts import topics
from contracts.mqtt_client import PrivateHooks
from gateway.ingest import paho_client
from gateway.ingest.consumer import MqttLink
from gateway.ingest.paho_client import HOOKS, ReadAheadClient
from gateway.settings import GatewaySettings, MqttSettings
from tests.support.paths import DEMO_SITE


def test_hooks_are_in_use_with_the_installed_paho() -> None:
    # Failing here means paho-mqtt changed: the link still works, but on plain paho (slower).
    # Review ReadAheadClient against the new paho's client.py, then add its version to HOOKS.
    assert HOOKS.problems() == [], f"paho-mqtt {paho.mqtt.__version__}"
    link = MqttLink(GatewaySettings(site_dir=DEMO_SITE, mqtt=MqttSettings(host="127.0.0.1", port=1)))
    assert type(link.client) is ReadAheadClient


def test_hooks_are_refused_for_an_unchecked_version_a_changed_method_or_a_missing_attribute() -> None:
    assert "not a version the hooks were checked against" in HOOKS.problems("2.9.0")[0]

    class Changed(mqtt.Client):
        def _sock_recv(self, bufsize: int, flags: int = 0) -> bytes:  # type: ignore[override]
            return b""

    assert HOOKS.problems(client_class=Changed) == [
        "paho's Client._sock_recv('bufsize', 'flags') no longer takes ('bufsize',)"
    ]

    renamed = PrivateHooks("a test client", "here", ("2.2",), {}, attributes=["_sock", "_sock_v3"])
    assert renamed.problems("2.2.0") == ["paho's Client has no attribute _sock_v3"]


def test_a_paho_the_hooks_do_not_fit_gets_the_plain_client_and_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    unchecked = PrivateHooks(
        "a test client", "tests/gateway/test_paho_client.py", (), {"_sock_recv": ["bufsize"]}
    )
    caplog.set_level(logging.WARNING, logger="contracts.mqtt_client")
    assert unchecked.client_class(ReadAheadClient) is mqtt.Client
    assert unchecked.client_class(ReadAheadClient) is mqtt.Client
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith("a test client runs on plain paho-mqtt (slower): paho-mqtt ")
    assert warning.endswith("see tests/gateway/test_paho_client.py")


def _publish_packet(topic: str, payload: bytes) -> bytes:
    """An MQTT 5 PUBLISH at QoS 0 with no properties, as a broker sends it."""
    name = topic.encode()
    body = len(name).to_bytes(2, "big") + name + b"\x00" + payload  # \x00: property length
    size, length = len(body), b""
    while True:
        byte, size = size % 128, size // 128
        length += bytes([byte | (0x80 if size else 0)])
        if not size:
            break
    return b"\x30" + length + body


class _CountingSocket:
    """The client's end of a socket pair, counting the reads paho's hook makes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reads = 0

    def recv(self, bufsize: int) -> bytes:
        self.reads += 1
        return self.sock.recv(bufsize)

    def __getattr__(self, name: str) -> object:
        return getattr(self.sock, name)


def test_one_read_serves_every_packet_the_broker_sent_in_order() -> None:
    # The private path itself: if paho stops reading through _sock_recv (or _sock), this
    # fails even when the names still exist.
    ours, broker = socket.socketpair()
    ours.setblocking(False)  # as paho's socket: an empty read says BlockingIOError, never waits
    try:
        client = paho_client.link_client_class()(
            callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5
        )
        got: list[tuple[str, bytes]] = []
        client.on_message = lambda _c, _u, msg: got.append((msg.topic, msg.payload))
        counting = _CountingSocket(ours)
        client._sock = counting  # type: ignore[assignment]  # a connected socket, as after CONNACK
        sent = [
            (topics.node_event(f"node-{i % 3}"), f"payload {i}".encode() * (1 + i % 7)) for i in range(200)
        ]
        broker.sendall(b"".join(_publish_packet(t, p) for t, p in sent))
        assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS
        assert got == sent
        assert counting.reads == 1  # stock paho: three or more per packet
    finally:
        ours.close()
        broker.close()
