"""Who is asking: a signed-in person, a person's API token (a phone), or a machine's token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.people.areas import Scope
from gateway.people.models import Role


@dataclass(frozen=True)
class Caller:
    id: str  # the person's id, or the machine token's id
    kind: Literal["person", "token"]
    display_name: str
    roles: frozenset[Role]
    scope: Scope
    worker_id: str | None = None
    department: str | None = None
    token_id: str | None = None  # the API token used, if any
    must_change_password: bool = False

    @property
    def actor(self) -> str:
        """How the trail names them: the person's id, or ``token:<id>`` for a machine."""
        return self.id if self.kind == "person" else f"token:{self.id}"

    @property
    def log_name(self) -> str:
        return f"person:{self.id}" if self.kind == "person" else f"token:{self.id}"

    def __str__(self) -> str:
        roles = "+".join(sorted(r.value for r in self.roles))
        return f"{roles} {self.id}" if self.kind == "person" else f"{roles} token {self.id}"
