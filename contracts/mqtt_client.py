"""How GridWatch makes its paho-mqtt clients: one set-up, and one guard for paho's private API.

:func:`new_client` is the set-up every long-lived client shares (the gateway's link, the
edge node's uplink): MQTT 5, paho's version-2 callbacks, credentials and TLS.

:class:`PrivateHooks` is the guard for a client subclass that overrides paho internals
for speed (paho-mqtt 2.x has no public way to wrap its socket or read ahead of its
parser). It names the private methods and attributes the subclass relies on and the paho
versions its code was checked against; :meth:`PrivateHooks.client_class` hands out the
subclass only when the installed paho matches, otherwise paho's own client (logged once,
the client then works unchanged, only slower). Each user has a trip-wire test that fails
when its hooks are off, so a paho upgrade cannot silently drop them: review the subclass
against the new paho's ``client.py``, then add the version to ``tested_versions``.
"""

from __future__ import annotations

import inspect
import logging
import ssl
from collections.abc import Mapping, Sequence
from typing import Any

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)


def new_client(
    client_id: str,
    *,
    username: str | None = None,
    password: str | None = None,
    tls: ssl.SSLContext | None = None,
    client_class: type[mqtt.Client] = mqtt.Client,
    **options: Any,
) -> mqtt.Client:
    """An MQTT 5 client with version-2 callbacks, its credentials and TLS (``options``: paho's
    other constructor arguments, e.g. ``manual_ack``)."""
    client = client_class(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        **options,
    )
    if username:
        client.username_pw_set(username, password)
    if tls is not None:
        client.tls_set_context(tls)
    return client


class PrivateHooks:
    """The paho internals a client subclass relies on, and the paho versions it was checked against."""

    def __init__(
        self,
        user: str,
        where: str,
        tested_versions: tuple[str, ...],
        methods: Mapping[str, Sequence[str]],
        attributes: Sequence[str] = (),
    ) -> None:
        self.user = user  # who relies on them, for the log line ("the gateway's MQTT link")
        self.where = where  # the module to review on a paho upgrade
        self.tested_versions = tested_versions  # major.minor of paho-mqtt
        self.methods = methods  # private method -> the parameters (after self) it must take
        self.attributes = attributes  # private instance attributes it reads
        self._installed: list[str] | None = None  # problems() with the installed paho, once
        self._warned = False

    def problems(
        self, version: str | None = None, client_class: type[mqtt.Client] = mqtt.Client
    ) -> list[str]:
        """Why the hooks must not be used with this paho; empty when they can be."""
        installed = version is None and client_class is mqtt.Client
        if installed and self._installed is not None:
            return list(self._installed)
        version = paho.mqtt.__version__ if version is None else version
        found: list[str] = []
        if ".".join(version.split(".")[:2]) not in self.tested_versions:
            found.append(f"paho-mqtt {version} is not a version the hooks were checked against")
        for name, params in self.methods.items():
            method = getattr(client_class, name, None)
            if method is None:
                found.append(f"paho's Client has no {name}()")
                continue
            got = list(inspect.signature(method).parameters)[1:]
            if got != list(params):
                found.append(f"paho's Client.{name}{tuple(got)} no longer takes {tuple(params)}")
        if self.attributes:
            probe = client_class(callback_api_version=CallbackAPIVersion.VERSION2)
            found.extend(
                f"paho's Client has no attribute {a}" for a in self.attributes if not hasattr(probe, a)
            )
        if installed:
            self._installed = list(found)
        return found

    def client_class(self, hooked: type[mqtt.Client]) -> type[mqtt.Client]:
        """``hooked`` when the installed paho allows it, else paho's own client (said once)."""
        problems = self.problems()
        if not problems:
            return hooked
        if not self._warned:
            self._warned = True
            log.warning(
                "%s runs on plain paho-mqtt (slower): %s; see %s", self.user, "; ".join(problems), self.where
            )
        return mqtt.Client
