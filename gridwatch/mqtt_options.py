"""Command-line options every MQTT client command shares: credentials and TLS.

Each has an environment variable (``GRIDWATCH_MQTT_USERNAME``, ``…_PASSWORD``,
``…_TLS_CA``, ``…_TLS_CERT``, ``…_TLS_KEY``), which is how the Compose file and
the systemd units set them (a password never on a command line)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from contracts.tls import MqttTls, TlsConfigError

err = Console(stderr=True, soft_wrap=True)

UserOpt = Annotated[
    str | None, typer.Option("--mqtt-username", envvar="GRIDWATCH_MQTT_USERNAME", help="Broker username.")
]
PasswordOpt = Annotated[
    str | None,
    typer.Option(
        "--mqtt-password", envvar="GRIDWATCH_MQTT_PASSWORD", help="Broker password (prefer the variable)."
    ),
]
TlsCaOpt = Annotated[
    Path | None,
    typer.Option(
        "--mqtt-tls-ca",
        envvar="GRIDWATCH_MQTT_TLS_CA",
        help="Site CA (PEM) the broker's certificate is checked against; turns on MQTT over TLS.",
    ),
]
TlsCertOpt = Annotated[
    Path | None,
    typer.Option(
        "--mqtt-tls-cert", envvar="GRIDWATCH_MQTT_TLS_CERT", help="Client certificate, when the broker asks."
    ),
]
TlsKeyOpt = Annotated[
    Path | None, typer.Option("--mqtt-tls-key", envvar="GRIDWATCH_MQTT_TLS_KEY", help="Its private key.")
]


def broker_fields(
    username: str | None,
    password: str | None,
    tls_ca: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
) -> dict[str, Any]:
    """Settings fields for a broker; a TLS setting that cannot work ends the command with
    the option, the file and the fix."""
    try:
        tls = MqttTls(tls_ca=tls_ca, tls_cert=tls_cert, tls_key=tls_key)
        tls.tls_context()
    except (ValidationError, TlsConfigError) as exc:
        why = "; ".join(e["msg"] for e in exc.errors()) if isinstance(exc, ValidationError) else str(exc)
        err.print(f"[red]MQTT TLS (--mqtt-tls-*, GRIDWATCH_MQTT_TLS_*): {why}[/]", highlight=False)
        raise typer.Exit(2) from None
    return {
        "username": username,
        "password": password,
        "tls_ca": tls_ca,
        "tls_cert": tls_cert,
        "tls_key": tls_key,
    }
