"""Who may do what over the HTTP API: see docs/api-access.md.

Routes import from here: ``allow(Perm.X)`` (their permission), ``Access`` (the
caller and how far they reach), ``same_person`` (a body naming someone must name
the caller), ``Refusal``.
"""

from __future__ import annotations

from cloud_api.auth.caller import Caller
from cloud_api.auth.errors import Refusal
from cloud_api.auth.permissions import Access, Perm, Place, Reach, allow, public

__all__ = ["Access", "Caller", "Perm", "Place", "Reach", "Refusal", "allow", "public", "same_person"]


def same_person(access: Access, named: str | None, field: str) -> str:
    """The id a body names (if any) must be the caller's own; returns how the trail names the caller."""
    caller = access.caller
    own = caller.worker_id if field == "worker_id" else caller.actor
    if own is None:
        raise Refusal(403, f"{caller} is not a grid worker")
    if named is not None and named != own:
        raise Refusal(403, f"{field} {named!r} does not match the caller ({caller})")
    return own
