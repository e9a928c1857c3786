"""The gateway link's hook into paho-mqtt's private receive path: in use with the installed
paho, refused for a paho it was not checked against, and really reading ahead."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time

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


def _varint(size: int) -> bytes:
    out = b""
    while True:
        byte, size = size % 128, size // 128
        out += bytes([byte | (0x80 if size else 0)])
        if not size:
            return out


def _publish(
    topic: bytes, payload: bytes, qos: int = 1, mid: int = 1, retain: bool = False, dup: bool = False,
    properties: bytes = b"",
) -> bytes:  # fmt: skip
    """An MQTT 5 PUBLISH as a broker sends it (``properties``: encoded, without their length)."""
    body = len(topic).to_bytes(2, "big") + topic
    if qos:
        body += mid.to_bytes(2, "big")
    body += _varint(len(properties)) + properties + payload
    header = 0x30 | qos << 1 | (0x01 if retain else 0) | (0x08 if dup else 0)
    return bytes([header]) + _varint(len(body)) + body


def _stream() -> list[bytes]:
    """What a broker may send the gateway: mostly plain QoS 1 publishes, and everything paho's own
    parser must still read — properties (an expiry, a user property, a topic alias), QoS 0 and 2,
    retained and duplicate flags, a bad UTF-8 topic, a payload needing a multi-byte length, a
    PINGRESP between publishes, an empty payload."""
    event = topics.node_event("node-1").encode()
    packets = [_publish(event, f"event {i}".encode() * (1 + i % 5), mid=i + 1) for i in range(40)]
    packets[3] = _publish(event, b"expires", mid=4, properties=b"\x02\x00\x00\x00\x3c")
    packets[7] = _publish(event, b"user", mid=8, properties=b"\x26\x00\x01k\x00\x01v")
    packets[9] = _publish(event, b"aliased", mid=10, properties=b"\x23\x00\x05")
    packets[11] = _publish(event, b"at most once", qos=0)
    packets[13] = _publish(event, b"exactly once", qos=2, mid=14)
    packets[15] = _publish(event, b"kept", mid=16, retain=True)
    packets[17] = _publish(event, b"again", mid=18, dup=True)
    packets[19] = _publish(b"gridwatch/v1/node/\xff\xfe/event", b"bad topic", mid=20)
    packets[21] = _publish(event, b"x" * 70_000, mid=22)  # three length bytes, past one read
    packets[23] = b"\xd0\x00"  # PINGRESP
    packets[25] = _publish(event, b"", mid=26)
    packets[27] = _publish(event, b"last of a read", mid=65535, retain=True, dup=True)
    return packets


def _receive(
    client_class: type[mqtt.Client], data: bytes, manual_ack: bool, expect: int
) -> tuple[list[tuple], bytes, int]:
    """Feed ``data`` to a client as its broker until ``expect`` messages arrived; returns what its
    on_message saw (all a receiver reads of a message), the bytes it sent back, and how many
    publishes paho's own parser read."""
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    broker.settimeout(5)
    try:
        client = client_class(
            callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=manual_ack
        )
        got: list[tuple] = []

        def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
            try:
                topic: str | None = msg.topic
            except UnicodeDecodeError:
                topic = None
            props = msg.properties.json() if msg.properties is not None else None
            got.append((topic, bytes(msg.payload), msg.mid, msg.qos, msg.retain, msg.dup, props))

        client.on_message = on_message
        parsed_by_paho = 0
        paho_handle = client._handle_publish

        def counted() -> mqtt.MQTTErrorCode:
            nonlocal parsed_by_paho
            parsed_by_paho += 1
            return paho_handle()

        client._handle_publish = counted  # type: ignore[method-assign]
        # The gateway's own publishes awaiting their PUBACKs (paho's loop_read reads as many packets
        # as there are of these, whatever it is asked)
        for mid in range(1000, 1100):
            client._out_messages[mid] = mqtt.MQTTMessage(mid, b"gridwatch/v1/node/node-1/receipt")
        client._sock = ours  # type: ignore[assignment]  # connected, as after CONNACK
        sender = threading.Thread(target=broker.sendall, args=(data,))
        sender.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            client.loop_read()
            client.loop_write()
            if len(got) >= expect:
                break
            time.sleep(0.001)
        sender.join()
        for _ in range(3):  # anything still buffered
            client.loop_read()
            client.loop_write()
        broker.setblocking(False)
        sent = b""
        with contextlib.suppress(BlockingIOError):
            while chunk := broker.recv(65536):
                sent += chunk
        return got, sent, parsed_by_paho
    finally:
        ours.close()
        broker.close()


@pytest.mark.parametrize("manual_ack", [True, False], ids=["manual ack", "paho acks"])
def test_plain_publishes_reach_on_message_as_paho_gives_them(manual_ack: bool) -> None:
    data = b"".join(_stream() * 3)
    expect = 3 * (40 - 2)  # not the PINGRESP, nor QoS 2 before its PUBREL; the bad topic is given
    want, paho_sent, _ = _receive(mqtt.Client, data, manual_ack, expect)
    got, sent, by_paho = _receive(paho_client.link_client_class(), data, manual_ack, expect)
    assert len(want) == expect
    assert got == want
    assert sent == paho_sent  # PUBACKs (unless manual), PUBRECs: the same bytes, in the same order
    # The fast path did the plain ones (paho's parser: properties x3, QoS 2, the bad topic, and
    # the packets cut by the end of a read).
    assert 5 * 3 <= by_paho < 40


def _acks_sent(client: mqtt.Client, acknowledge: object) -> bytes:
    """The bytes a client sends its broker when ``acknowledge(client)`` acknowledges messages."""
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    broker.setblocking(False)
    try:
        client._sock = ours  # type: ignore[assignment]  # connected, as after CONNACK
        acknowledge(client)  # type: ignore[operator]
        sent = b""
        for _ in range(10_000):  # paho writes a few packets per call (some already while queueing)
            with contextlib.suppress(BlockingIOError):
                while chunk := broker.recv(65536):
                    sent += chunk
            if not client._out_packet:
                break
            client.loop_write()
        return sent
    finally:
        client._sock = None
        ours.close()
        broker.close()


@pytest.mark.parametrize("logged", [False, True], ids=["quiet", "paho logging on"])
def test_a_batch_of_acks_sends_the_puback_packets_paho_sends_one_by_one(logged: bool) -> None:
    mids = [1, 2, 300, 65535, 7, 7, 40000, *range(1000, 1500)]

    def new(client_class: type[mqtt.Client]) -> mqtt.Client:
        client = client_class(callback_api_version=CallbackAPIVersion.VERSION2, manual_ack=True)
        if logged:
            client.enable_logger(logging.getLogger("test-paho"))
        return client

    def one_by_one(client: mqtt.Client) -> None:
        for mid in mids:
            client.ack(mid, 1)

    want = _acks_sent(new(mqtt.Client), one_by_one)
    got = _acks_sent(new(ReadAheadClient), lambda c: c.ack_many(mids))
    assert len(want) == 4 * len(mids)
    assert got == want


def test_the_link_acknowledges_a_batch_in_its_order_whatever_the_qos() -> None:
    from gateway.ingest.incoming import Incoming

    link = MqttLink(GatewaySettings(site_dir=DEMO_SITE, mqtt=MqttSettings(host="127.0.0.1", port=1)))
    batch = [Incoming("t", b"", mid, qos) for mid, qos in [(1, 1), (2, 1), (3, 0), (4, 2), (5, 1), (6, 1)]]
    plain = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, manual_ack=True)

    def stock(client: mqtt.Client) -> None:
        for m in batch:
            if m.qos:
                client.ack(m.mid, m.qos)

    want = _acks_sent(plain, stock)

    def through_link(client: mqtt.Client) -> None:
        link.client = client
        link.ack(batch)

    got = _acks_sent(link.client, through_link)
    assert want == got and len(got) == 4 * 5  # PUBACKs 1, 2, PUBCOMP 4, PUBACKs 5, 6
