"""Who is asking: ``Authorization: Bearer <token>`` for the API's actions.

Tokens belong to one operator or one grid worker of the site (``access.yaml``,
``GRIDWATCH_API_TOKENS``; see docs/api-access.md). Operators decide on cases and
tasks; a worker takes steps only on their own tasks and checks in only as
themselves. No token or an unknown one answers 401, the wrong person 403 — both
JSON ``{"detail": ...}``. GET routes stay open (the alert wall reads them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from contracts.site import Site
from contracts.site.access import ENV_VAR, Grant, Role, check_grants, grants_from_file, hash_token

log = logging.getLogger(__name__)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="gridwatch"'}


@dataclass(frozen=True)
class Principal:
    role: Role
    id: str

    def __str__(self) -> str:
        return f"{self.role.value} {self.id}"


class TokenBook:
    """The site's tokens by hash."""

    def __init__(self, grants: list[Grant]) -> None:
        self._by_hash = {g.sha256: Principal(g.role, g.id) for g in grants}

    @classmethod
    def for_site(cls, site: Site, env_grants: list[Grant]) -> TokenBook:
        problems = check_grants([*grants_from_file(site.access), *env_grants], site.workers, ENV_VAR)
        if problems:
            raise ValueError(
                "API tokens: " + "; ".join(f"{p.where}: {p.message} ({p.hint})" for p in problems)
            )
        return cls([*grants_from_file(site.access), *env_grants])

    def __len__(self) -> int:
        return len(self._by_hash)

    def find(self, token: str) -> Principal | None:
        # A lookup by the token's SHA-256: how long it takes tells nothing about the token.
        return self._by_hash.get(hash_token(token))


# Declared so that /docs shows the scheme (and its Authorize button); the checks are below.
_bearer = HTTPBearer(
    auto_error=False, description="An operator's or a worker's API token: docs/api-access.md"
)


def authenticate(
    request: Request, _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    book: TokenBook = request.app.state.tokens
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        why = "this action needs 'Authorization: Bearer <token>' (an operator's or a worker's API token)"
        if not len(book):
            why += "; this site has no API tokens yet: see docs/api-access.md"
        raise HTTPException(401, why, headers=_CHALLENGE)
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "the Authorization header must be 'Bearer <token>'", headers=_CHALLENGE)
    principal = book.find(token.strip())
    if principal is None:
        log.warning("refused an unknown API token on %s %s", request.method, request.url.path)
        raise HTTPException(401, "unknown or revoked API token", headers=_CHALLENGE)
    return principal


def forbid(principal: Principal, request: Request, why: str) -> HTTPException:
    log.warning(
        "refused %s %s for %s: %s",
        request.method,
        request.url.path,
        principal,
        why,
        extra={"worker_id" if principal.role is Role.WORKER else "operator_id": principal.id},
    )
    return HTTPException(403, why)


def require_operator(request: Request, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    if principal.role is not Role.OPERATOR:
        raise forbid(principal, request, f"this is a command-centre action; the token is {principal}'s")
    return principal


def require_worker(request: Request, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    if principal.role is not Role.WORKER:
        raise forbid(principal, request, f"this is a grid worker's step; the token is {principal}'s")
    return principal


def same_person(principal: Principal, request: Request, named: str | None, field: str) -> str:
    """The id the body names (if any) must be the token's holder; returns the holder's id."""
    if named is not None and named != principal.id:
        raise forbid(principal, request, f"{field} {named!r} does not match the token ({principal})")
    return principal.id


PrincipalDep = Annotated[Principal, Depends(authenticate)]
OperatorDep = Annotated[Principal, Depends(require_operator)]
WorkerDep = Annotated[Principal, Depends(require_worker)]
