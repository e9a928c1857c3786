"""``gridwatch broker``: broker logins and ACLs for a site (docker/mosquitto/*.conf)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from contracts.topics import Roster

broker_app = typer.Typer(help="Broker logins and access rules.", no_args_is_help=True)
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True)


SiteOption = Annotated[Path, typer.Option("--site", envvar="GRIDWATCH_SITE_DIR", help="Site directory.")]
GatewayOption = Annotated[
    list[str] | None, typer.Option("--gateway", help="Gateway login (repeat for several).")
]
OperatorOption = Annotated[
    list[str] | None, typer.Option("--operator", help="Login of a centre screen or bot (repeat).")
]


def _roster(site: Path, gateway: list[str] | None, operator: list[str] | None) -> Roster:
    from contracts.site import SiteConfigError, load_site

    try:
        loaded = load_site(site)
    except SiteConfigError as exc:
        err.print(f"[red]{site}: the site configuration has problems[/]; run 'gridwatch config check {site}'")
        raise typer.Exit(2) from exc
    try:
        return Roster.from_site(
            loaded, gateways=tuple(gateway or ("gateway",)), operators=tuple(operator or ())
        )
    except ValueError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc


@broker_app.command("acl")
def acl(site: SiteOption, gateway: GatewayOption = None, operator: OperatorOption = None) -> None:
    """Print the broker's acl_file for a site: one block per login (with client certificates, the
    certificate's CN is the login: use_identity_as_username)."""
    from contracts.topics import mosquitto_acl

    typer.echo(mosquitto_acl(_roster(site, gateway, operator)), nl=False)


@broker_app.command("auth")
def auth(
    site: SiteOption,
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write acl, passwd, ... (created).")],
    gateway: GatewayOption = None,
    operator: OperatorOption = None,
    dynsec_admin: Annotated[
        str | None, typer.Option("--dynsec-admin", help="Also a login that manages the dynsec plugin.")
    ] = None,
) -> None:
    """One login per node, GridWatch-speaking sensor, worker phone, gateway and zigbee2mqtt bridge,
    with the files Mosquitto reads. Passwords already given out (credentials.json) are kept."""
    from gridwatch.broker_auth import BrokerAuth, read_passwords

    roster = _roster(site, gateway, operator)
    keep = read_passwords(out_dir)
    broker_auth = BrokerAuth.create(roster, keep, admin=dynsec_admin)
    written = broker_auth.write(out_dir)
    kinds: dict[str, int] = {}
    for kind, _, _ in roster.logins():
        kinds[kind.value] = kinds.get(kind.value, 0) + 1
    new = sorted(set(broker_auth.passwords) - set(keep))
    out.print(
        f"{sum(kinds.values())} logins ({', '.join(f'{n} {k}' for k, n in kinds.items())}); {len(new)} new"
    )
    for path in written:
        out.print(f"  wrote {path}")
    out.print(
        "\nGive each node, phone and gateway its password from credentials.json (readable by you only):\n"
        "  gateway:  GRIDWATCH_MQTT_USERNAME / GRIDWATCH_MQTT_PASSWORD\n"
        "  edge node: GRIDWATCH_EDGE_UPLINK__USERNAME / GRIDWATCH_EDGE_UPLINK__PASSWORD (= its node id)\n"
        "With docker/mosquitto/examples/passwords.conf, phones and GridWatch-speaking sensors connect to\n"
        "the field listener (1884), the rest to 1883."
    )
