"""``gridwatch deadletters``: read what the contracts refused, and replay it after a fix."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

deadletters_app = typer.Typer(help="Dead letters: list, show, replay.", no_args_is_help=True)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DbOpt = Annotated[
    str, typer.Option("--db", envvar="GRIDWATCH_DATABASE_URL", help="SQLAlchemy URL of the store.")
]


def _sessions(db: str):  # type: ignore[no-untyped-def]
    """Sessions on the gateway's store, which must exist and be current: these commands
    never create a store nor change its schema."""
    from gateway.store.db import session_factory
    from gridwatch.db_cli import existing_engine

    return session_factory(existing_engine(db))


@deadletters_app.command("list")
def list_letters(
    db: DbOpt = "sqlite:///gridwatch.db",
    reason: Annotated[str | None, typer.Option(help="Only this reason, e.g. invalid, bad_json.")] = None,
    source: Annotated[str | None, typer.Option(help="Only from this node, device or worker.")] = None,
    limit: int = 50,
) -> None:
    """Newest first, with a count per reason."""
    from gateway.events import queries

    sessions = _sessions(db)
    with sessions() as session:
        counts = queries.dead_letter_counts(session)
        rows = queries.list_dead_letters(session, reason, source, limit)
    if not counts:
        out.print("no dead letters")
        return
    out.print("by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    table = Table("id", "received", "reason", "source", "topic", "size", "detail", "replayed")
    for d in rows:
        table.add_row(
            str(d.id),
            d.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            d.reason,
            d.source or "-",
            escape(d.topic[:60]),
            str(d.payload_size),
            escape(d.detail[:80]),
            escape(d.replay_result or "") if d.replayed_at else "",
        )
    out.print(table)


@deadletters_app.command("show")
def show(letter_id: int, db: DbOpt = "sqlite:///gridwatch.db") -> None:
    """Everything about one dead letter, the payload written to stdout as kept."""
    import sys

    from gateway.events.models import DeadLetter

    with _sessions(db)() as session:
        d = session.get(DeadLetter, letter_id)
        if d is None:
            err.print(f"[red]no dead letter {letter_id}[/]")
            raise typer.Exit(1)
        err.print(
            f"dead letter {d.id}: {d.reason} on {escape(d.topic)} from {d.source or '?'}", highlight=False
        )
        err.print(f"  received {d.received_at.isoformat()}, {d.payload_size} bytes", highlight=False)
        err.print(f"  detail: {escape(d.detail)}", highlight=False)
        if d.payload_size > len(d.payload):
            err.print(f"  [yellow]only the first {len(d.payload)} bytes were kept[/]")
        if d.replayed_at:
            err.print(
                f"  replayed {d.replay_count}x, last {d.replayed_at.isoformat()} by {d.replayed_by}: "
                f"{escape(d.replay_result or '')}",
                highlight=False,
            )
        sys.stdout.buffer.write(bytes(d.payload) + b"\n")


@deadletters_app.command("replay")
def replay_letters(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Dead letter ids (or use --reason / --source).")
    ] = None,
    db: DbOpt = "sqlite:///gridwatch.db",
    site: Annotated[str, typer.Option("--site", envvar="GRIDWATCH_SITE_DIR")] = "device_configs/demo_site",
    reason: Annotated[str | None, typer.Option(help="All not yet replayed with this reason.")] = None,
    source: Annotated[str | None, typer.Option(help="All not yet replayed from this source.")] = None,
    operator: Annotated[str, typer.Option(help="Who replays (kept as operator:<id>).")] = "cli",
    gateway_id: Annotated[
        str, typer.Option(envvar="GRIDWATCH_GATEWAY_ID", help="Source id of what the replay publishes.")
    ] = "gateway-1",
    influx_url: Annotated[str | None, typer.Option(envvar="GRIDWATCH_INFLUX_URL")] = None,
    limit: int = 1000,
) -> None:
    """Run dead letters through today's pipeline: cases, dispatch and notices as for live traffic.

    What the gateway must publish goes to its outbox; a running gateway sends it.
    """
    from pathlib import Path

    from contracts.site import load_site
    from gateway.context import GatewayContext
    from gateway.flows import replay
    from gateway.flows.ingest import Pipeline
    from gateway.telemetry import NullTelemetry
    from gateway.telemetry_influx import InfluxSettings, InfluxTelemetry

    if not (ids or reason or source):
        err.print("[red]say which dead letters: ids, --reason or --source[/]")
        raise typer.Exit(2)
    sessions = _sessions(db)
    telemetry = InfluxTelemetry(InfluxSettings(url=influx_url)) if influx_url else NullTelemetry()
    pipeline = Pipeline(sessions, GatewayContext(load_site(Path(site)), gateway_id), telemetry)
    with sessions() as session:
        chosen = replay.select_letters(session, ids or None, reason, source, limit=limit)
    if not chosen:
        out.print("nothing to replay")
        return
    results = replay.replay(sessions, pipeline, chosen, f"operator:{operator}")
    telemetry.close()
    accepted = sum(r.accepted for r in results)
    for r in results:
        colour = "green" if r.accepted else "yellow"
        out.print(f"  {r.id}: [{colour}]{r.result}[/] {escape(r.detail)}", highlight=False)
    out.print(f"replayed {len(results)}: {accepted} accepted, {len(results) - accepted} still refused")
    if accepted < len(results):
        raise typer.Exit(1)
