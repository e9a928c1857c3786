"""API tokens: how they are made, hashed, written down and checked.

A token is a random string given to one operator or one worker; the site keeps
only its SHA-256 (``access.yaml`` or ``GRIDWATCH_API_TOKENS``), so the
configuration can be committed and copied without handing out the tokens.
Tokens are long random secrets, not passwords: a fast hash is enough (nothing
to brute-force) and lets the API check one on every request without a pause.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple

from contracts.envelope import ID_PATTERN
from contracts.site.models import AccessFile
from contracts.site.problems import Problem

ENV_VAR = "GRIDWATCH_API_TOKENS"
ACCESS_FILE = "access.yaml"
TOKEN_PREFIX = "gwt_"
_ID = re.compile(ID_PATTERN)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class Role(StrEnum):
    OPERATOR = "operator"
    WORKER = "worker"


class Grant(NamedTuple):
    role: Role
    id: str
    sha256: str
    origin: str  # where it was configured: "access.yaml operators[op-li]", "GRIDWATCH_API_TOKENS[2]"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def env_entry(role: Role, ident: str, sha256: str) -> str:
    return f"{role.value}:{ident}:{sha256}"


def grants_from_file(access: AccessFile) -> list[Grant]:
    return [
        Grant(role, e.id, e.sha256, f"{ACCESS_FILE} {role.value}s[{e.id}]")
        for role, entries in ((Role.OPERATOR, access.operators), (Role.WORKER, access.workers))
        for e in entries
    ]


def parse_env(value: str) -> tuple[list[Grant], list[Problem]]:
    """``<role>:<id>:<sha256>`` entries separated by commas or white space."""
    grants: list[Grant] = []
    problems: list[Problem] = []
    fix = "write each as <role>:<id>:<sha256> (role: operator or worker); 'gridwatch auth token' prints one"
    for i, entry in enumerate(e for e in re.split(r"[,\s]+", value.strip()) if e):
        where = f"{ENV_VAR}[{i}]"
        parts = entry.split(":")
        if len(parts) != 3:
            problems.append(
                Problem("environment", where, f"{entry[:20]!r}… is not <role>:<id>:<sha256>", fix)
            )
            continue
        role, ident, digest = parts
        if role not in {r.value for r in Role}:
            problems.append(Problem("environment", where, f"unknown role {role!r}", fix))
        elif not _ID.match(ident):
            problems.append(Problem("environment", where, f"{ident!r} is not a valid id", fix))
        elif not _HEX64.match(digest):
            problems.append(
                Problem("environment", where, "the hash is not 64 lower-case hex digits (SHA-256)", fix)
            )
        else:
            grants.append(Grant(Role(role), ident, digest, where))
    return grants, problems


def check_grants(grants: Iterable[Grant], workers: Iterable[str], file: str) -> list[Problem]:
    """Worker tokens name known workers; one token is never given to two people."""
    known = set(workers)
    problems: list[Problem] = []
    holder: dict[str, Grant] = {}
    for g in grants:
        if g.role is Role.WORKER and g.id not in known:
            problems.append(
                Problem(file, g.origin, f"unknown worker {g.id!r}", "use a worker id from workers.yaml")
            )
        other = holder.setdefault(g.sha256, g)
        if other is not g and (other.role, other.id) != (g.role, g.id):
            problems.append(
                Problem(
                    file,
                    g.origin,
                    f"the same token is also given to {other.role.value} {other.id!r} ({other.origin})",
                    "make a token per person: gridwatch auth token <role> <id>",
                )
            )
    return problems


class IssuedTokens:
    """Fresh tokens for some people (the demo, tests): the tokens themselves, and their hashes
    as GRIDWATCH_API_TOKENS carries them."""

    def __init__(self, operators: Iterable[str] = (), workers: Iterable[str] = ()) -> None:
        self.tokens = {(Role.OPERATOR, o): new_token() for o in operators}
        self.tokens |= {(Role.WORKER, w): new_token() for w in workers}

    def token(self, role: Role, ident: str) -> str:
        return self.tokens[(role, ident)]

    def env(self) -> str:
        return ",".join(env_entry(role, ident, hash_token(t)) for (role, ident), t in self.tokens.items())
