"""``gridwatch db``: the store's schema (upgrade once, under a lock; status), backup and restore."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from sqlalchemy import Engine

db_app = typer.Typer(help="The store: schema upgrade and status, backup and restore.", no_args_is_help=True)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DbOpt = Annotated[
    str, typer.Option("--db", envvar="GRIDWATCH_DATABASE_URL", help="SQLAlchemy URL of the store.")
]
DEFAULT_DB = "sqlite:///gridwatch.db"


def sqlite_path(db: str) -> Path | None:
    """The file of a SQLite URL (None for other stores and in-memory SQLite)."""
    from sqlalchemy.engine import make_url  # here: the command line starts without SQLAlchemy

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


@db_app.command("retention")
def db_retention(
    db: DbOpt = DEFAULT_DB,
    dry_run: Annotated[bool, typer.Option(help="Only say what would be deleted.")] = False,
) -> None:
    """Delete evidence and dead letters past their days or over their quota, as the gateway does
    every hour (GRIDWATCH_RETENTION_*); an open case's evidence is always kept."""
    from contracts.clock import SystemClock
    from gateway.retention.service import MB, Retention
    from gateway.retention.settings import RetentionSettings
    from gateway.store.db import session_factory

    engine = existing_engine(db)
    settings = RetentionSettings()
    report = Retention(engine, session_factory(engine), settings).sweep(SystemClock().now(), dry_run=dry_run)
    engine.dispose()
    if report.skipped:
        out.print(f"nothing done: {report.skipped}")
        return
    verb = "would delete" if dry_run else "deleted"
    out.print(
        f"evidence: {verb} {report.evidence_expired} past {settings.evidence_days} days and "
        f"{report.evidence_over_quota} over the {settings.evidence_quota_mb} MB quota "
        f"({report.evidence_bytes_freed / MB:.1f} MB); {report.evidence_bytes / MB:.1f} MB kept, "
        f"{report.evidence_kept_for_open_cases} old snapshot(s) kept for open cases\n"
        f"dead letters: {verb} {report.dead_letters_expired} past {settings.dead_letter_days} days and "
        f"{report.dead_letters_over_quota} over the {settings.dead_letter_quota_mb} MB quota; "
        f"{report.dead_letter_bytes / MB:.1f} MB kept",
        highlight=False,
    )


@db_app.command("backup")
def db_backup(
    out_file: Annotated[
        Path, typer.Argument(help="Where the backup goes, e.g. /var/backups/gridwatch.sqlite3.")
    ],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Back up the store while GridWatch runs: SQLite's online backup (one consistent snapshot,
    integrity-checked) or pg_dump's custom format. See docs/deploy.md."""
    from gridwatch.backup import BackupError, backup

    try:
        info = backup(db, out_file)
    except BackupError as exc:
        err.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(1) from None
    out.print(f"[green]backed up[/] {_shown_url(db)} to {info.describe()}", highlight=False)


@db_app.command("restore")
def db_restore(
    backup_file: Annotated[Path, typer.Argument(help="A file made by 'gridwatch db backup'.")],
    db: DbOpt = DEFAULT_DB,
    replace: Annotated[
        bool, typer.Option(help="Overwrite an existing store (stop the gateway and the API first).")
    ] = False,
) -> None:
    """Restore a backup into the store: checked first, then all or nothing. Afterwards run
    'gridwatch db upgrade' if the backup is from an older version."""
    from gridwatch.backup import BackupError, restore

    try:
        info = restore(backup_file, db, replace)
    except BackupError as exc:
        err.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(1) from None
    what = info.describe() if info else str(backup_file)
    out.print(f"[green]restored[/] {_shown_url(db)} from {what}", highlight=False)


def _shown_url(db: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(db).render_as_string(hide_password=True)
