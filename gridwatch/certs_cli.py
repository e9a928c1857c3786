"""``gridwatch certs``: the site CA, server certificates (broker, API) and client certificates
(edge nodes, gateways) for MQTT over TLS and HTTPS. See docs/deploy.md."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gridwatch.certs import (
    CA_DAYS,
    LEAF_DAYS,
    CertError,
    CertificateAuthority,
    Issued,
    KeyType,
    describe,
    mosquitto_listener,
)

certs_app = typer.Typer(
    help="Site CA and certificates for MQTT over TLS (8883) and HTTPS.", no_args_is_help=True
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DirOpt = Annotated[
    Path, typer.Option("--dir", envvar="GRIDWATCH_CERTS_DIR", help="Where the CA and certificates live.")
]
KeyOpt = Annotated[KeyType, typer.Option("--key-type", help="ec (P-256) or rsa (3072, for old devices).")]
DaysOpt = Annotated[int, typer.Option(min=1, max=3650, help="Validity in days.")]
ForceOpt = Annotated[bool, typer.Option(help="Replace an existing certificate and its key.")]
HostsOpt = Annotated[
    list[str], typer.Option("--host", help="A host name or IP address clients connect to (repeat).")
]
DEFAULT_DIR = Path("certs")


def _said(issued: Issued, what: str) -> None:
    out.print(
        f"[green]made[/] {what}: {issued.cert_path} (key {issued.key_path}, owner-only)", highlight=False
    )


def _ca(directory: Path) -> CertificateAuthority:
    try:
        return CertificateAuthority.load(directory)
    except CertError as exc:
        err.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(2) from None


def _run(make: object) -> Issued:
    try:
        return make()  # type: ignore[operator,no-any-return]
    except CertError as exc:
        err.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(1) from None


@certs_app.command("ca")
def make_ca(
    directory: DirOpt = DEFAULT_DIR,
    name: Annotated[str, typer.Option(help="The CA's common name.")] = "GridWatch site CA",
    key_type: KeyOpt = KeyType.EC,
    days: DaysOpt = CA_DAYS,
    force: ForceOpt = False,
) -> None:
    """Make the site CA (ca.crt, ca.key). Copy ca.crt to every client; keep ca.key offline."""
    try:
        ca = CertificateAuthority.create(directory, name, key_type, days, force)
    except CertError as exc:
        err.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(1) from None
    out.print(
        f"[green]made[/] the site CA {ca.cert_path} (key {directory / 'ca.key'}, owner-only)", highlight=False
    )


@certs_app.command("server")
def make_server(
    name: Annotated[str, typer.Argument(help="File name, e.g. broker or api.")],
    hosts: HostsOpt,
    directory: DirOpt = DEFAULT_DIR,
    key_type: KeyOpt = KeyType.EC,
    days: DaysOpt = LEAF_DAYS,
    force: ForceOpt = False,
) -> None:
    """A server certificate signed by the site CA, valid for every --host."""
    ca = _ca(directory)
    _said(
        _run(lambda: ca.server(name, hosts, key_type, days, force)),
        f"server certificate for {', '.join(hosts)}",
    )


@certs_app.command("client")
def make_client(
    client_id: Annotated[str, typer.Argument(help="The client id: a node id or a gateway id.")],
    directory: DirOpt = DEFAULT_DIR,
    key_type: KeyOpt = KeyType.EC,
    days: DaysOpt = LEAF_DAYS,
    force: ForceOpt = False,
) -> None:
    """A client certificate (CN = the client id) signed by the site CA."""
    ca = _ca(directory)
    _said(_run(lambda: ca.client(client_id, key_type, days, force)), f"client certificate for {client_id}")


@certs_app.command("site")
def make_site(
    site: Annotated[Path, typer.Argument(help="Site directory: one client certificate per edge node.")],
    hosts: HostsOpt,
    directory: DirOpt = DEFAULT_DIR,
    gateways: Annotated[
        list[str], typer.Option("--gateway", help="Gateway ids that get a client certificate (repeat).")
    ] = ["gateway-1"],  # noqa: B006 (typer reads the default)
    key_type: KeyOpt = KeyType.EC,
) -> None:
    """Everything a site needs at once: the CA (when missing), the broker's and the API's server
    certificates for --host, and a client certificate for each edge node and gateway. Existing
    certificates are kept."""
    from contracts.site import SiteConfigError, load_site

    try:
        loaded = load_site(site)
    except SiteConfigError as exc:
        err.print(f"[red]{site}: {len(exc.problems)} problem(s); run 'gridwatch config check {site}'[/]")
        raise typer.Exit(2) from None
    if (directory / "ca.crt").exists():
        ca = _ca(directory)
        out.print(f"kept the site CA {ca.cert_path}", highlight=False)
    else:
        ca = CertificateAuthority.create(directory, f"{loaded.settings.site.name} GridWatch CA", key_type)
        out.print(f"[green]made[/] the site CA {ca.cert_path}", highlight=False)
    wanted: list[tuple[str, object]] = [
        ("broker", lambda: ca.server("broker", hosts, key_type)),
        ("api", lambda: ca.server("api", hosts, key_type)),
        *((n, (lambda n=n: ca.client(n, key_type))) for n in sorted(loaded.nodes)),
        *((g, (lambda g=g: ca.client(g, key_type))) for g in gateways),
    ]
    for name, make in wanted:
        if (directory / f"{name}.crt").exists():
            out.print(f"kept {directory / f'{name}.crt'}", highlight=False)
            continue
        _said(_run(make), name)
    d = directory.resolve()
    out.print(
        "\nThe broker's TLS listener (mosquitto.conf; see docs/deploy.md):\n"
        + mosquitto_listener(8883, d / "ca.crt", d / "broker.crt", d / "broker.key"),
        highlight=False,
        markup=False,
    )


@certs_app.command("list")
def list_certs(
    directory: DirOpt = DEFAULT_DIR,
    warn_days: Annotated[int, typer.Option(help="Flag certificates that expire within this many days.")] = 30,
) -> None:
    """Every certificate in the directory: what it is for, its names and when it expires.
    Exit 1 when one has expired or expires within --warn-days (for a monitoring check)."""
    paths = sorted(directory.glob("*.crt"))
    if not paths:
        err.print(f"[red]no certificates in {directory}[/]; make them with 'gridwatch certs site'")
        raise typer.Exit(2)
    now = datetime.now(UTC)
    due = 0
    for path in paths:
        info = describe(path)
        left = info.days_left(now)
        colour = "red" if left < 0 else "yellow" if left < warn_days else "green"
        due += left < warn_days
        names = f" for {', '.join(info.names)}" if info.names else ""
        out.print(
            f"{path.name:28} {info.usage:6} {info.subject}{names}: [{colour}]until "
            f"{info.not_after:%Y-%m-%d} ({left} days)[/]",
            highlight=False,
        )
    if due:
        err.print(
            f"[yellow]{due} certificate(s) expire within {warn_days} days: make new ones with --force[/]"
        )
        raise typer.Exit(1)
