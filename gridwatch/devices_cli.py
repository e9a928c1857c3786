"""``gridwatch devices``: the registry from the site files, serials from a CSV (docs/devices.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from gridwatch.users_cli import DEFAULT_DB, DEFAULT_SITE, DbOpt, SiteOpt, _store

devices_app = typer.Typer(
    help="The device registry: sync from the site files, import serials.", no_args_is_help=True
)
out = Console(soft_wrap=True, highlight=False)


@devices_app.command("sync")
def sync(site: SiteOpt = DEFAULT_SITE, db: DbOpt = DEFAULT_DB) -> None:
    """Make the registry agree with the site files (the API does this whenever it starts)."""
    from contracts import utcnow
    from contracts.site import load_site
    from gateway.devices.registry import sync_from_site
    from gateway.grids.index import GridIndex

    loaded = load_site(site)
    with _store(db) as session:
        report = sync_from_site(session, loaded, GridIndex(loaded.grids), utcnow())
    out.print(f"{len(report.added)} added, {len(report.changed)} changed, {len(report.retired)} retired")


@devices_app.command("import")
def import_csv(
    csv_file: Annotated[
        Path, typer.Argument(help="serial,device_id,model[,kind,node_id] with a header line")
    ],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Pre-registered serials: a device of the site files gets its serial; another is planned."""
    from contracts import utcnow
    from gateway.devices.registry import RegistryRefused, import_serials

    try:
        with _store(db) as session:
            report = import_serials(session, csv_file.read_text(encoding="utf-8"), utcnow())
    except RegistryRefused as exc:
        out.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from exc
    out.print(f"{len(report.bound)} bound, {len(report.planned)} planned, {len(report.unchanged)} unchanged")
    for problem in report.problems:
        out.print(f"[yellow]{escape(problem)}[/yellow]")
    if report.problems:
        raise typer.Exit(1)


@devices_app.command("credentials")
def credentials(
    device_id: Annotated[str, typer.Argument(help="An edge node or a GridWatch-speaking sensor.")],
    rotate: Annotated[
        bool, typer.Option("--rotate", help="A new password; the old one stops working.")
    ] = False,
    revoke: Annotated[bool, typer.Option("--revoke", help="Delete the login; it is disconnected.")] = False,
    site: SiteOpt = DEFAULT_SITE,
    host: Annotated[str, typer.Option("--broker-host", envvar="GRIDWATCH_MQTT_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--broker-port", envvar="GRIDWATCH_MQTT_PORT")] = 1883,
    admin: Annotated[str, typer.Option("--dynsec-admin", envvar="GRIDWATCH_DYNSEC_USERNAME")] = "admin",
    admin_password: Annotated[
        str,
        typer.Option("--dynsec-password", envvar="GRIDWATCH_DYNSEC_PASSWORD", help="Prefer the variable."),
    ] = "",
) -> None:
    """Per-device broker login through the dynamic-security plugin ($CONTROL): issue (default),
    rotate or revoke; a new password is printed once (the broker keeps only a hash)."""
    from contracts.dynsec import Dynsec, DynsecError
    from contracts.site import load_site
    from gateway.devices.logins import login_of

    if rotate and revoke:
        raise typer.BadParameter("--rotate or --revoke, not both")
    try:
        kind, rules = login_of(load_site(site), device_id)
        broker = Dynsec(host, port, admin, admin_password)
        if revoke:
            broker.revoke(device_id)
            out.print(f"{device_id}: login revoked")
            return
        password = broker.rotate(device_id) if rotate else broker.provision(kind, device_id, rules)
    except (ValueError, DynsecError) as exc:
        out.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from exc
    out.print(f"{device_id} ({kind.value}) logs in as {device_id!r} with password:")
    print(password)


@devices_app.command("push")
def push(
    node_id: Annotated[str, typer.Argument(help="The edge node.")],
    site: SiteOpt = DEFAULT_SITE,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Push the node's site file as it is now; the gateway publishes it (retained), the node applies
    what it can without a restart and reports the version it runs (or why it refused it)."""
    from contracts import utcnow
    from contracts.site import load_site
    from gateway.context import GatewayContext
    from gateway.flows.config_push import push_config

    loaded = load_site(site)
    node = loaded.nodes.get(node_id)
    if node is None:
        out.print(f"[red]no node {escape(node_id)!r} in {escape(str(site))}/nodes/[/red]")
        raise typer.Exit(1)
    with _store(db) as session:
        sent = push_config(
            session, GatewayContext(loaded, "cli"), node_id, node.model_dump(mode="json"), utcnow()
        )
    out.print(f"configuration {sent.config_version} queued for {node_id}")
