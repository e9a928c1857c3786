"""``gridwatch users``: people, their roles and areas, and API tokens (docs/api-access.md).

On a fresh install ``gridwatch users init`` makes the first admin with a one-time
password shown once; everything else can be done here or over the API by an admin.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gateway.people.roles import Role

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

users_app = typer.Typer(help="People (sign-in, roles, areas) and API tokens.", no_args_is_help=True)
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True)

DbOpt = Annotated[
    str, typer.Option("--db", envvar="GRIDWATCH_DATABASE_URL", help="SQLAlchemy URL of the store.")
]
SiteOpt = Annotated[
    Path, typer.Option("--site", envvar="GRIDWATCH_SITE_DIR", help="Site configuration directory.")
]
DEFAULT_DB = "sqlite:///gridwatch.db"
DEFAULT_SITE = Path("device_configs/demo_site")
BY = "cli"


@contextmanager
def _store(db: str) -> Iterator[Session]:
    from gateway.schema.migrate import upgrade
    from gateway.store.db import make_engine, session_factory

    engine = make_engine(db)
    upgrade(engine)
    try:
        with session_factory(engine)() as session, session.begin():
            yield session
    finally:
        engine.dispose()


def _site(site: Path):  # type: ignore[no-untyped-def]
    from contracts.site import load_site
    from gateway.people.areas import SiteAreas

    loaded = load_site(site)
    return loaded, SiteAreas(loaded)


def _now():  # type: ignore[no-untyped-def]
    from contracts import utcnow

    return utcnow()


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]{escape(message)}[/]")
    return typer.Exit(2)


def _show_password(person_id: str, password: str) -> None:
    out.print(f"one-time password for {person_id} (shown only now; they choose their own at first sign-in):")
    out.print(f"  {password}", markup=False)


@users_app.command("init")
def init(
    db: DbOpt = DEFAULT_DB,
    site: SiteOpt = DEFAULT_SITE,
    ident: Annotated[str, typer.Option("--id", help="The admin's sign-in name.")] = "admin",
    name: Annotated[str, typer.Option(help="Display name.")] = "Administrator",
) -> None:
    """The first admin of a fresh install, with a one-time password."""
    from sqlalchemy import select

    from gateway.people import passwords, service
    from gateway.people.models import Person

    loaded, areas = _site(site)
    otp = passwords.one_time_password()
    with _store(db) as session:
        admins = [p.id for p in session.scalars(select(Person)) if Role.ADMIN.value in p.roles and p.active]
        if admins:
            raise _fail(f"there is already an admin ({', '.join(admins)}); use 'gridwatch users add'")
        spec = service.PersonSpec(ident, name, (Role.ADMIN,), tuple(sorted(areas.roots)))
        try:
            service.check_spec(spec, loaded, areas)
            service.add_person(session, spec, BY, _now(), passwords.Passwords().hash(otp))
        except service.PeopleError as exc:
            raise _fail(str(exc)) from None
    out.print(f"admin {ident} added")
    _show_password(ident, otp)


@users_app.command("add")
def add(
    ident: Annotated[
        str, typer.Argument(metavar="ID", help="Sign-in name: lower-case letters, digits, - and _.")
    ],
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[list[Role], typer.Option(help="A role; repeat for several.")],
    area: Annotated[
        list[str] | None, typer.Option(help="An area id (district/street/community/grid).")
    ] = None,
    phone: str = "",
    worker: Annotated[str | None, typer.Option(help="The worker id in workers.yaml, for a worker.")] = None,
    department: Annotated[
        str | None, typer.Option(help="escalation.yaml department, for a department.")
    ] = None,
    db: DbOpt = DEFAULT_DB,
    site: SiteOpt = DEFAULT_SITE,
) -> None:
    """Add a person with a one-time password."""
    from gateway.people import passwords, service

    loaded, areas = _site(site)
    spec = service.PersonSpec(ident, name, tuple(role), tuple(area or ()), phone, worker, department)
    otp = passwords.one_time_password()
    try:
        service.check_spec(spec, loaded, areas)
        with _store(db) as session:
            service.add_person(session, spec, BY, _now(), passwords.Passwords().hash(otp))
    except service.PeopleError as exc:
        raise _fail(str(exc)) from None
    out.print(f"{ident} added: {', '.join(r.value for r in role)} in {', '.join(area or ['(no area)'])}")
    _show_password(ident, otp)


@users_app.command("list")
def list_people(db: DbOpt = DEFAULT_DB) -> None:
    """Everyone, with roles, areas and whether they may sign in."""
    from sqlalchemy import select

    from gateway.people.models import Person

    with _store(db) as session:
        rows = list(session.scalars(select(Person).order_by(Person.id)))
        table = Table("id", "name", "roles", "areas", "worker", "active", "password")
        for p in rows:
            table.add_row(
                p.id,
                escape(p.display_name),
                ",".join(p.roles),
                ",".join(p.areas),
                p.worker_id or "",
                "yes" if p.active else "DISABLED",
                "one-time" if p.must_change_password else ("set" if p.password_hash else "none"),
            )
    out.print(table)


def _set_active(ident: str, active: bool, db: str) -> None:
    from gateway.people import service
    from gateway.people.models import Person

    with _store(db) as session:
        person = session.get(Person, ident)
        if person is None:
            raise _fail(f"no person {ident!r}")
        service.set_active(session, person, active, BY, _now())
    out.print(f"{ident} {'enabled' if active else 'disabled: their sessions and tokens stop within seconds'}")


@users_app.command("disable")
def disable(ident: Annotated[str, typer.Argument(metavar="ID")], db: DbOpt = DEFAULT_DB) -> None:
    """Disable a person: every session and token of theirs stops working."""
    _set_active(ident, False, db)


@users_app.command("enable")
def enable(ident: Annotated[str, typer.Argument(metavar="ID")], db: DbOpt = DEFAULT_DB) -> None:
    _set_active(ident, True, db)


@users_app.command("reset-password")
def reset_password(ident: Annotated[str, typer.Argument(metavar="ID")], db: DbOpt = DEFAULT_DB) -> None:
    """A new one-time password (ends the person's sessions)."""
    from gateway.people import passwords, service
    from gateway.people.models import Person

    otp = passwords.one_time_password()
    digest = passwords.Passwords().hash(otp)
    with _store(db) as session:
        person = session.get(Person, ident)
        if person is None:
            raise _fail(f"no person {ident!r}")
        service.set_password(session, person, digest, BY, _now(), one_time=True)
    _show_password(ident, otp)


@users_app.command("token")
def token_add(
    ident: Annotated[
        str, typer.Argument(metavar="NAME", help="A name for the token: hik-bridge, phone-w-ma-li.")
    ],
    role: Annotated[Role, typer.Option(help="What it may do.")],
    area: Annotated[list[str] | None, typer.Option(help="An area id; repeat for several.")] = None,
    person: Annotated[str | None, typer.Option(help="Acts as this person (a worker's phone).")] = None,
    note: str = "",
    db: DbOpt = DEFAULT_DB,
    site: SiteOpt = DEFAULT_SITE,
) -> None:
    """Make an API token for a machine or a phone: shown once, only its SHA-256 is kept."""
    from gateway.people import service

    _loaded, areas = _site(site)
    for a in area or ():
        if (why := areas.problem(a)) is not None:
            raise _fail(why)
    if person is None and not area:
        raise _fail("a machine token needs --area (or --person to act as)")
    try:
        with _store(db) as session:
            secret = service.add_token(session, ident, role, area or (), BY, _now(), person, note)
    except service.PeopleError as exc:
        raise _fail(str(exc)) from None
    out.print(f"token {ident} ({role.value}) — shown only now; give it to the machine, keep no copy:")
    out.print(f"  {secret}", markup=False)
    out.print("use it as: Authorization: Bearer <token>")


@users_app.command("tokens")
def tokens(db: DbOpt = DEFAULT_DB) -> None:
    """API tokens in the store."""
    from sqlalchemy import select

    from gateway.people.models import ApiToken

    with _store(db) as session:
        table = Table("name", "role", "areas", "person", "created", "revoked", "note")
        for t in session.scalars(select(ApiToken).order_by(ApiToken.id)):
            table.add_row(
                t.id,
                t.role,
                ",".join(t.areas),
                t.person_id or "",
                t.created_at.strftime("%Y-%m-%d"),
                t.revoked_at.strftime("%Y-%m-%d %H:%M") if t.revoked_at else "",
                escape(t.note),
            )
    out.print(table)


@users_app.command("revoke")
def revoke(ident: Annotated[str, typer.Argument(metavar="NAME")], db: DbOpt = DEFAULT_DB) -> None:
    """Revoke an API token (it stops working within seconds, no restart)."""
    from gateway.people import service

    try:
        with _store(db) as session:
            service.revoke_token(session, ident, BY, _now())
    except service.PeopleError as exc:
        raise _fail(str(exc)) from None
    out.print(f"token {ident} revoked")


@users_app.command("sync-workers")
def sync_workers(db: DbOpt = DEFAULT_DB, site: SiteOpt = DEFAULT_SITE) -> None:
    """Make grid workers' accounts follow workers.yaml (the API also does it when it starts)."""
    from gateway.people import service

    loaded, _areas = _site(site)
    with _store(db) as session:
        added, changed, disabled = service.sync_workers(session, loaded, _now())
    out.print(f"worker accounts: {added} added, {changed} changed, {disabled} disabled")


@users_app.command("import-access")
def import_access(db: DbOpt = DEFAULT_DB, site: SiteOpt = DEFAULT_SITE) -> None:
    """Move access.yaml's and GRIDWATCH_API_TOKENS's tokens into the store, where they can be
    revoked without a restart (the same tokens keep working; delete the lines afterwards)."""
    import os

    from contracts.site.access import ENV_VAR, grants_from_file, parse_env
    from gateway.people import service

    loaded, _areas = _site(site)
    grants = [*grants_from_file(loaded.access), *parse_env(os.environ.get(ENV_VAR, ""))[0]]
    imported = 0
    with _store(db) as session:
        service.sync_workers(session, loaded, _now())
        for grant in grants:
            try:
                imported += service.import_grant(session, loaded, grant, BY, _now())
            except service.PeopleError as exc:
                err.print(f"[yellow]{escape(grant.origin)}: {escape(str(exc))}[/]")
    out.print(f"{imported} token(s) imported of {len(grants)}; remove them from access.yaml / {ENV_VAR} now")


@users_app.command("jwt-key")
def jwt_key() -> None:
    """A new signing key line for GRIDWATCH_JWT_KEY_FILE (put it first to rotate; keep the old
    one below it for the access tokens' lifetime)."""
    from cloud_api.auth.tokens import new_key_line

    out.print(new_key_line(), markup=False)
