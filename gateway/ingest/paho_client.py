"""The gateway link's paho client: plain paho-mqtt reading the socket ahead of its parser.

paho reads every packet with three or more ``recv()`` calls (the command byte, each
remaining-length byte, the body) and goes back to ``select()`` after each packet: at
thousands of messages a second that is tens of thousands of system calls, each of which
gives up the GIL and has to win it back from the gateway's batch loop. :class:`ReadAheadClient`
overrides paho's private ``_sock_recv`` (and reads its private ``_sock``): one ``recv()``
takes whatever the broker has sent (up to :data:`READ_AHEAD` bytes), paho's own parser is
served from that buffer, and ``loop_read`` parses everything buffered before returning to
``select()`` (which cannot see bytes already taken off the socket). The packets, their order
and paho's handling of them are unchanged.

Private API, so it is used only when :data:`HOOKS` finds the installed paho the way the
client was written for (a tested version, the methods and signatures it overrides, the
attribute it reads); otherwise :func:`link_client_class` gives paho's own client, logs once
why, and the link works unchanged, only slower. ``tests/gateway/test_paho_client.py``
fails when the hooks are off, so a paho upgrade cannot silently drop them: review
:class:`ReadAheadClient` against the new paho's ``client.py``, then add its version to
``HOOKS.tested_versions``. (The edge's uplink does the same: ``edge/outbox/paho_client.py``.)

**Plain publishes parsed here.** paho spent ~40 µs of its thread per QoS 1 message (three reads
through ``_sock_recv``, a mutex and a clock read twice, a dictionary rebuilt, ``struct`` formats
built per field, an empty ``Properties`` with its tables, an ``MQTTMessageInfo`` with its own
``threading.Condition``, the topic decoded twice, the filtered-callback trie walked), all of it
holding the GIL the batch loop needs. :meth:`ReadAheadClient.loop_read` takes the common packet
itself when it lies whole in the read-ahead buffer — a PUBLISH at QoS 0 or 1 with no MQTT 5
properties and a valid UTF-8 topic, no partial packet pending in paho, no paho logging on — and
hands paho's ``on_message`` an ``MQTTMessage`` with the same topic, payload, mid, QoS, retain and
dup flags (``properties``: one shared empty set; ``info``: one shared placeholder where paho
makes one per received message: nothing waits on a received message's). Anything else (QoS 2,
properties such as a topic alias, a packet cut by the end of the buffer, any other packet type, a
bad topic) is left to paho's own parser, in order.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contracts.mqtt_client import PrivateHooks

READ_AHEAD = 65536  # bytes taken from the socket at once by the network thread

HOOKS = PrivateHooks(
    user="the gateway's MQTT link",
    where="gateway/ingest/paho_client.py",
    tested_versions=("2.2",),  # major.minor of paho-mqtt whose client.py it was checked against
    methods={
        "_sock_recv": ["bufsize"],
        "loop_read": ["max_packets"],
        "_handle_on_message": ["message"],
        "_send_puback": ["mid"],
        "_packet_read": [],
        "_loop_rc_handle": ["rc"],
        "_send_command_with_mid": ["command", "mid", "dup"],
        "_packet_queue": ["command", "packet", "mid", "qos", "info"],
    },
    attributes=[
        "_sock",
        "_in_packet",
        "_manual_ack",
        "_protocol",
        "_logger",
        "_msgtime_mutex",
        "_last_bytes_received",
        "_out_packet",
    ],
)

_PUBLISH = mqtt.PUBLISH  # 0x30
_PUBACK = mqtt.PUBACK  # 0x40
_PUBACK_PACKET = struct.Struct("!BBH")  # command, remaining length 2, message id: paho's PUBACK
# What a received message's ``properties`` and ``info`` are on the fast path (read-only for receivers).
NO_PROPERTIES = Properties(PacketTypes.PUBLISH)
RECEIVED_INFO = mqtt.MQTTMessageInfo(0)
_clock = mqtt.time_func  # paho's clock (its keepalive compares against it)


class ReadAheadClient(mqtt.Client):
    """paho's client reading the socket in large chunks (see the module's docstring)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._ahead = b""
        self._ahead_pos = 0
        self._ahead_sock: object = None

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._ahead_sock is not self._sock:  # a new connection: nothing buffered belongs to it
            self._ahead, self._ahead_pos, self._ahead_sock = b"", 0, self._sock
        if self._ahead_pos >= len(self._ahead):
            data = super()._sock_recv(max(bufsize, READ_AHEAD))  # raises BlockingIOError when empty
            if len(data) <= bufsize:
                return data
            self._ahead, self._ahead_pos = data, 0
        end = self._ahead_pos + bufsize
        chunk = self._ahead[self._ahead_pos : end]
        self._ahead_pos = min(end, len(self._ahead))
        return chunk

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        if self._sock is None:
            return mqtt.MQTT_ERR_NO_CONN
        rc = self._read_one()  # the first packet (a recv() when nothing is buffered), then the buffer's
        # Each round consumes buffered bytes, so this ends with the buffer.
        while (
            rc == mqtt.MQTT_ERR_SUCCESS
            and self._sock is not None
            and self._ahead_sock is self._sock
            and self._ahead_pos < len(self._ahead)
        ):
            if self._take_publishes():
                continue  # the rest of the buffer may start with a packet paho must read
            rc = self._read_one()
        return rc

    def _read_one(self) -> mqtt.MQTTErrorCode:
        """One packet through paho's parser: its ``loop_read`` for a single packet. (``loop_read``
        itself reads as many packets as there are messages in flight either way — with the
        gateway's own publishes awaiting their PUBACKs, up to a hundred — past the fast path.)"""
        rc = self._packet_read()
        if rc > 0:
            return self._loop_rc_handle(rc)
        return mqtt.MQTT_ERR_SUCCESS  # done, or MQTT_ERR_AGAIN: the rest of it is not here yet

    def _take_publishes(self) -> int:
        """Hand over the plain PUBLISH packets that lie whole at the buffer's read position (see the
        module's docstring); stop at the first anything else. Returns how many were taken."""
        if (
            self._in_packet["command"] != 0  # paho is in the middle of a packet
            or self._logger is not None
            or self.on_log is not None
            or self._protocol != mqtt.MQTTv5
        ):
            return 0
        buf = self._ahead
        pos = self._ahead_pos
        end = len(buf)
        taken = 0
        manual_ack = self._manual_ack
        while pos + 2 <= end:
            header = buf[pos]
            qos = (header >> 1) & 3
            if header & 0xF0 != _PUBLISH or qos > 1:
                break
            # Remaining length: up to four bytes, seven bits each, least significant first.
            size = 0
            shift = 0
            at = pos + 1
            while True:
                if at >= end or shift > 21:
                    size = -1
                    break
                byte = buf[at]
                at += 1
                size |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            if size < 0 or at + size > end:
                break  # cut by the end of the buffer (or malformed): paho reads it
            stop = at + size
            if at + 2 > stop:
                break
            topic_end = at + 2 + (buf[at] << 8 | buf[at + 1])
            props_at = topic_end + (2 if qos else 0)
            # MQTT 5: a property length of zero (one byte) — anything else is paho's
            if topic_end == at + 2 or props_at >= stop or buf[props_at] != 0:
                break
            topic = buf[at + 2 : topic_end]
            try:
                topic.decode("utf-8")
            except UnicodeDecodeError:
                break
            message = mqtt.MQTTMessage.__new__(mqtt.MQTTMessage)
            message.timestamp = _clock()
            message.state = mqtt.mqtt_ms_invalid
            message.dup = bool(header & 0x08)
            message.mid = buf[topic_end] << 8 | buf[topic_end + 1] if qos else 0
            message._topic = topic
            message.payload = buf[props_at + 1 : stop]
            message.qos = qos
            message.retain = bool(header & 0x01)
            message.info = RECEIVED_INFO
            message.properties = NO_PROPERTIES
            # Consumed before the callback: whatever it does, the packet is not read twice.
            pos = self._ahead_pos = stop
            taken += 1
            self._handle_on_message(message)
            if qos and not manual_ack:
                self._send_puback(message.mid)
            if self._ahead is not buf or self._ahead_sock is not self._sock:
                break  # the callback disconnected or otherwise moved the buffer on
        if taken:
            with self._msgtime_mutex:
                self._last_bytes_received = _clock()
        return taken

    def ack_many(self, mids: Sequence[int]) -> None:
        """``ack(mid, 1)`` for each of ``mids`` in order (manual acks): the same PUBACK packets, queued
        for paho's network thread in the same order and sent by it as before, one packet each —
        but the thread is woken once for all of them, by the last one going through paho's own
        ``_packet_queue``, instead of once a packet. Each wake-up was a socket-pair write and a
        hand-off of the GIL to that thread in the middle of the batch loop's acknowledgements
        (~8 % of the gateway's main thread under load, issue 19). With paho logging on, every
        PUBACK goes paho's own way (its debug line per packet)."""
        if not mids or not self._manual_ack:
            return
        if self._logger is not None or self.on_log is not None:
            for mid in mids:
                self._send_puback(mid)
            return
        out = self._out_packet
        for mid in mids[:-1]:  # what _send_command_with_mid(PUBACK, mid, False) queues, minus the wake-up
            out.append(
                {
                    "command": _PUBACK,
                    "mid": mid,
                    "qos": 1,
                    "pos": 0,
                    "to_process": 4,
                    "packet": _PUBACK_PACKET.pack(_PUBACK, 2, mid),
                    "info": None,
                }
            )
        self._send_puback(mids[-1])


def link_client_class() -> type[mqtt.Client]:
    """:class:`ReadAheadClient` when the installed paho allows it, else paho's own client."""
    return HOOKS.client_class(ReadAheadClient)
