"""``gridwatch auth``: make API tokens for operators and grid workers (docs/api-access.md)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from contracts.envelope import ID_PATTERN
from contracts.site.access import ACCESS_FILE, ENV_VAR, Role, env_entry, hash_token, new_token

auth_app = typer.Typer(help="API tokens for operators and grid workers.", no_args_is_help=True)
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True)


@auth_app.command("token")
def token(
    role: Annotated[Role, typer.Argument(help="operator or worker.")],
    ident: Annotated[str, typer.Argument(metavar="ID", help="The operator's id, or the worker's id.")],
    site: Annotated[
        Path | None, typer.Option("--site", help="Check that the worker exists in this site.")
    ] = None,
) -> None:
    """Make a new token: prints it once, and the hash to put in access.yaml or GRIDWATCH_API_TOKENS."""

    if not re.match(ID_PATTERN, ident):
        err.print(f"[red]{ident!r} is not a valid id[/] (lower-case letters, digits, '-' and '_')")
        raise typer.Exit(2)
    if site is not None and role is Role.WORKER:
        from contracts.site import load_site

        if ident not in load_site(site).workers:
            err.print(f"[red]no worker {ident!r} in {site}/workers.yaml[/]")
            raise typer.Exit(2)
    secret = new_token()
    digest = hash_token(secret)
    out.print(f"token for {role.value} {ident} (shown only now; give it to them, keep no copy):")
    out.print(f"  {secret}")
    out.print(f"\nin {ACCESS_FILE}, under '{role.value}s:'")
    out.print(f"  - {{id: {ident}, sha256: {digest}}}")
    out.print(f"\nor as an entry of {ENV_VAR} (entries separated by commas):")
    out.print(f"  {env_entry(role, ident, digest)}")
