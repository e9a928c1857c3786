"""The uplink's paho client: plain paho-mqtt plus two hooks into its private methods.

paho-mqtt 2.x has no public way to wrap its socket (upstream issue
eclipse-paho/paho.mqtt.python#873; a ``create_socket`` setter is proposed but
not released) and no way to receive a PUBACK without building a ``ReasonCode``
and a ``Properties`` object for it. Both cost the uplink dearly at thousands of
QoS 1 messages a second, so :class:`FastClient` overrides:

- ``_create_socket``: wraps paho's socket in :class:`BufferedSocket` (one
  ``recv`` per burst of PUBACKs, one ``send`` per burst of publishes);
- ``_handle_pubackcomp``: a PUBACK without properties (remaining length 2:
  success, MQTT 5 3.4.2.1; or 3, or 4 with a zero property length: a reason
  code, e.g. Mosquitto's 0x10 "no matching subscribers") is handed to paho's
  own ``_do_on_publish`` with a shared ``ReasonCode`` per value and one empty
  ``Properties`` instead of two new objects per acknowledgement. PUBACKs with
  properties, and PUBCOMP, go through paho unchanged.

Both hooks are private API, so they are used only when :data:`HOOKS` (the guard
every GridWatch client with private hooks shares, ``contracts.mqtt_client``) finds
the installed paho the way they were written for (a tested version, the methods and
signatures they override). Otherwise :func:`uplink_client_class` gives a plain paho
client, logs once why, and the uplink works unchanged, only slower.
``tests/edge/outbox/test_paho_client.py`` fails when the hooks are off, so a
paho upgrade cannot silently drop them: review the hooks against the new
paho's ``client.py``, then add its version to ``HOOKS.tested_versions``.
"""

from __future__ import annotations

import logging
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contracts.mqtt_client import PrivateHooks
from edge.outbox.buffered import BufferedSocket

log = logging.getLogger(__name__)

HOOKS = PrivateHooks(
    user="outbox uplink",
    where="edge/outbox/paho_client.py",
    tested_versions=("2.2",),  # major.minor of paho-mqtt whose client.py the hooks were checked against
    methods={
        "_create_socket": [],
        "_handle_pubackcomp": ["cmd"],
        "_do_on_publish": ["mid", "reason_code", "properties"],
    },
)

# Reason codes and one empty property set shared by every fast PUBACK: the uplink's
# callback only reads them. (paho builds two fresh objects per acknowledgement.)
SUCCESS = ReasonCode(PacketTypes.PUBACK)
NO_PROPERTIES = Properties(PacketTypes.PUBACK)
_CODES: dict[int, ReasonCode] = {0: SUCCESS}


def _puback_code(value: int) -> ReasonCode | None:
    code = _CODES.get(value)
    if code is None:
        try:
            code = _CODES[value] = ReasonCode(PacketTypes.PUBACK, identifier=value)
        except Exception:  # not a PUBACK reason code: paho's own path reports the bad packet
            return None
    return code


class FastClient(mqtt.Client):
    """paho's client with a buffered socket and a cheap path for successful PUBACKs."""

    def _create_socket(self) -> Any:
        return BufferedSocket(super()._create_socket())

    def _handle_pubackcomp(self, cmd: Any) -> MQTTErrorCode:
        packet = self._in_packet["packet"]
        size = len(packet)
        code: ReasonCode | None = SUCCESS
        if cmd != "PUBACK" or size < 2 or size > 4 or (size == 4 and packet[3] != 0):
            code = None
        elif size > 2:
            code = _puback_code(packet[2])
        if code is None or self._protocol != mqtt.MQTTv5:
            return super()._handle_pubackcomp(cmd)
        mid = packet[0] << 8 | packet[1]
        with self._out_message_mutex:
            if mid in self._out_messages:
                return self._do_on_publish(mid, code, NO_PROPERTIES)
        return MQTTErrorCode.MQTT_ERR_SUCCESS


def uplink_client_class() -> type[mqtt.Client]:
    """:class:`FastClient` when the installed paho allows it, else paho's own client."""
    return HOOKS.client_class(FastClient)
