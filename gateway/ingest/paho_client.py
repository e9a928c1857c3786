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
"""

from __future__ import annotations

import paho.mqtt.client as mqtt

from contracts.mqtt_client import PrivateHooks

READ_AHEAD = 65536  # bytes taken from the socket at once by the network thread

HOOKS = PrivateHooks(
    user="the gateway's MQTT link",
    where="gateway/ingest/paho_client.py",
    tested_versions=("2.2",),  # major.minor of paho-mqtt whose client.py it was checked against
    methods={"_sock_recv": ["bufsize"], "loop_read": ["max_packets"]},
    attributes=["_sock"],
)


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
        rc = super().loop_read(max_packets)
        # Each round consumes buffered bytes, so this ends with the buffer.
        while (
            rc == mqtt.MQTT_ERR_SUCCESS
            and self._sock is not None
            and self._ahead_sock is self._sock
            and self._ahead_pos < len(self._ahead)
        ):
            rc = super().loop_read(max_packets)
        return rc


def link_client_class() -> type[mqtt.Client]:
    """:class:`ReadAheadClient` when the installed paho allows it, else paho's own client."""
    return HOOKS.client_class(ReadAheadClient)
