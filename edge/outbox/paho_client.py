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

Both hooks are private API, so they are used only when :func:`hook_problems`
finds the installed paho the way they were written for (a tested version, the
methods and signatures they override). Otherwise :func:`new_client` returns a
plain paho client, logs once why, and the uplink works unchanged, only slower.
``tests/edge/outbox/test_paho_client.py`` fails when the hooks are off, so a
paho upgrade cannot silently drop them: review the hooks against the new
paho's ``client.py``, then add its version to ``TESTED_VERSIONS``.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.outbox.buffered import BufferedSocket

log = logging.getLogger(__name__)

TESTED_VERSIONS = ("2.2",)  # major.minor of paho-mqtt whose client.py the hooks were checked against
# private method -> the parameters (after self) it must still take
_OVERRIDDEN = {
    "_create_socket": [],
    "_handle_pubackcomp": ["cmd"],
    "_do_on_publish": ["mid", "reason_code", "properties"],
}
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


def hook_problems(version: str | None = None, client_class: type = mqtt.Client) -> list[str]:
    """Why the private hooks must not be used with this paho; empty when they can be."""
    version = paho.mqtt.__version__ if version is None else version
    problems: list[str] = []
    if ".".join(version.split(".")[:2]) not in TESTED_VERSIONS:
        problems.append(f"paho-mqtt {version} is not a version the hooks were checked against")
    for name, params in _OVERRIDDEN.items():
        method = getattr(client_class, name, None)
        if method is None:
            problems.append(f"paho's Client has no {name}()")
            continue
        got = list(inspect.signature(method).parameters)[1:]
        if got != params:
            problems.append(f"paho's Client.{name}{tuple(got)} no longer takes {tuple(params)}")
    return problems


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


_problems = hook_problems()


def hooks_active() -> bool:
    return not _problems


def new_client(**kwargs: Any) -> mqtt.Client:
    """A :class:`FastClient` when the installed paho allows it, else paho's own client."""
    if _problems:
        if not getattr(new_client, "_warned", False):
            new_client._warned = True  # type: ignore[attr-defined]
            log.warning(
                "outbox uplink runs on plain paho-mqtt (slower): %s; see edge/outbox/paho_client.py",
                "; ".join(_problems),
            )
        return mqtt.Client(**kwargs)
    return FastClient(**kwargs)
