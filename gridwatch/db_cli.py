"""``gridwatch db``: the store's schema (upgrade once, under a lock; status), backup and restore."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

db_app = typer.Typer(help="The store: schema upgrade and status, backup and restore.", no_args_is_help=True)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DbOpt = Annotated[
    str, typer.Option("--db", envvar="GRIDWATCH_DATABASE_URL", help="SQLAlchemy URL of the store.")
]
DEFAULT_DB = "sqlite:///gridwatch.db"


def sqlite_path(db: str) -> Path | None:
    """The file of a SQLite URL (None for other stores and in-memory SQLite)."""
    url = make_url(db)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def existing_engine(db: str, need_schema: bool = True) -> Engine:
    """An engine on a store that must already exist: a read-only command never creates one
    (a mistyped or forgotten --db would otherwise leave an empty gridwatch.db behind)."""
    from gateway.schema.migrate import schema_state
    from gateway.store.db import make_engine

    path = sqlite_path(db)
    if path is not None and not path.is_file():
        err.print(
            f"[red]no GridWatch store at {path.resolve()}[/]: pass --db (or set GRIDWATCH_DATABASE_URL) "
            "to the store the gateway uses, e.g. --db sqlite:///var/demo/gridwatch.db",
            highlight=False,
        )
        raise typer.Exit(2)
    engine = make_engine(db)
    if need_schema:
        try:
            state = schema_state(engine)
        except Exception as exc:  # unreachable server, bad credentials, not a database
            err.print(f"[red]cannot read the store {_shown(engine)}: {exc}[/]", highlight=False)
            raise typer.Exit(2) from None
        if not state.ready:
            err.print(f"[red]{state.describe()}[/]: run 'gridwatch db upgrade' on it first", highlight=False)
            engine.dispose()
            raise typer.Exit(2)
    return engine


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


@db_app.command("upgrade")
def db_upgrade(
    db: DbOpt = DEFAULT_DB,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for another process's migration to finish.")
    ] = 600.0,
) -> None:
    """Bring the store to this version's schema, once: safe when several processes run it at the
    same moment (a PostgreSQL advisory lock, a lock on the SQLite file)."""
    from contracts.logs import setup_logging
    from gateway.schema.migrate import SchemaError, head_revision, upgrade
    from gateway.store.db import make_engine

    setup_logging("INFO")  # says so while it waits for another process's migration
    engine = make_engine(db)
    try:
        before = upgrade(engine, lock_timeout_s=timeout)
    except SchemaError as exc:
        err.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    head = head_revision()
    if before.ready:
        out.print(f"schema of {_shown(engine)} is current ({head}); nothing to do", highlight=False)
    else:
        out.print(
            f"[green]upgraded[/] {_shown(engine)} from {before.current or 'empty'} to {head}", highlight=False
        )


@db_app.command("status")
def db_status(db: DbOpt = DEFAULT_DB) -> None:
    """Which schema revision the store is at; exit 1 when it needs 'gridwatch db upgrade'.

    Read-only: never creates the store."""
    engine = existing_engine(db, need_schema=False)
    from gateway.schema.migrate import schema_state

    try:
        state = schema_state(engine)
    except Exception as exc:
        err.print(f"[red]cannot read the store {_shown(engine)}: {exc}[/]", highlight=False)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    if state.ready:
        out.print(f"[green]current[/]: {_shown(engine)} is at {state.head}", highlight=False)
        return
    err.print(f"[yellow]{state.describe()}[/]: run 'gridwatch db upgrade'", highlight=False)
    raise typer.Exit(1)
