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
