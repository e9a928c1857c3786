"""MQTT over TLS: the settings every MQTT client of GridWatch shares (gateway, edge node
uplink and sensor bus, simulators), and the :class:`ssl.SSLContext` they make.

TLS is on when a CA file is given (the site CA made by ``gridwatch certs``; the broker's
certificate must be signed by it and name the host the client connects to) or when
``tls`` is set (a broker with a publicly trusted certificate). A client certificate and
key are sent when the broker asks for them (Mosquitto ``require_certificate true``;
with ``use_identity_as_username true`` the certificate's CN — the node or gateway id —
is the username its ACL uses).

Only the standard library here: the clients hand the context to paho
(``client.tls_set_context``).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from pydantic import BaseModel, Field, model_validator


class TlsConfigError(ValueError):
    """A TLS setting that cannot work; the message names the setting and the fix."""


class MqttTls(BaseModel):
    """TLS fields, mixed into each client's broker settings (``GRIDWATCH_MQTT_TLS_*``)."""

    tls: bool = Field(default=False, description="Use TLS with the system's trusted CAs (implied by tls_ca).")
    tls_ca: Path | None = Field(
        default=None, description="CA certificate (PEM) that signed the broker's certificate; turns TLS on."
    )
    tls_cert: Path | None = Field(
        default=None, description="This client's certificate (PEM), for brokers that require one."
    )
    tls_key: Path | None = Field(default=None, description="The private key of tls_cert (PEM).")

    @model_validator(mode="after")
    def _cert_with_key(self) -> MqttTls:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError(
                "tls_cert and tls_key go together (a client certificate needs its key): set both or neither"
            )
        if self.tls_cert is not None and not self.tls_enabled:
            raise ValueError("a client certificate needs TLS: set tls_ca (the site CA) or tls")
        return self

    @property
    def tls_enabled(self) -> bool:
        return self.tls or self.tls_ca is not None

    def tls_context(self) -> ssl.SSLContext | None:
        """The client's TLS context (TLS 1.2+, broker certificate and host name verified), or
        None without TLS. Raises :class:`TlsConfigError` for a file that is missing or wrong."""
        if not self.tls_enabled:
            return None
        for name in ("tls_ca", "tls_cert", "tls_key"):
            path: Path | None = getattr(self, name)
            if path is not None and not path.is_file():
                raise TlsConfigError(
                    f"{name} {path}: no such file (make it with 'gridwatch certs', or fix the path)"
                )
        try:
            ctx = ssl.create_default_context(cafile=str(self.tls_ca) if self.tls_ca else None)
        except ssl.SSLError as exc:
            raise TlsConfigError(f"tls_ca {self.tls_ca}: not a PEM CA certificate ({exc.reason})") from None
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.tls_cert is not None and self.tls_key is not None:
            try:
                ctx.load_cert_chain(str(self.tls_cert), str(self.tls_key))
            except ssl.SSLError as exc:
                raise TlsConfigError(
                    f"tls_cert {self.tls_cert} / tls_key {self.tls_key}: not a certificate and its key "
                    f"({exc.reason}); make a pair with 'gridwatch certs client'"
                ) from None
        return ctx
