"""What each role may do, and how far: the whole site, its areas, its own things, its department.

A route declares one permission with ``allow(Perm.X)`` among its parameters and
gets an ``Access``; it then checks the one object it touches with
``access.require(place, what)`` or narrows a list with the access's ``grids``,
``own_worker`` and ``department`` (cloud_api/auth/places.py builds both for
cases, tasks, workers, devices ...). Routes open to anyone take ``public()``.
A route with neither does not start (``cloud_api.auth.guard.check_routes``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from fastapi import Request

from cloud_api.auth.caller import Caller
from cloud_api.auth.errors import Refusal
from gateway.people.models import Role


class Perm(StrEnum):
    SIGNED_IN = "signed-in"  # anyone signed in: /me, sign-out, password change, the API docs
    READ_MAP = "map:read"
    READ_CASES = "cases:read"  # includes their evidence, trail, tasks, supervision
    DECIDE_CASES = "cases:decide"  # confirm, dismiss, close, reopen
    ACKNOWLEDGE_CASES = "cases:acknowledge"  # 部门报到
    READ_TASKS = "tasks:read"
    DECIDE_TASKS = "tasks:decide"  # verify, reassign
    STEP_TASKS = "tasks:step"  # accept, decline, check in, resolve, cannot handle; their photos
    REPORT_CASES = "cases:report"  # 随手拍: a worker raises a case from the phone
    READ_WORKERS = "workers:read"  # names, phones, live positions, tasks, patrols
    SET_AVAILABILITY = "workers:availability"
    CHECK_IN = "patrols:check-in"  # check in at a checkpoint; start and stop a patrol
    SEND_LOCATION = "workers:location"  # the phone's position (location fixes)
    READ_PERFORMANCE = "performance:read"
    READ_DEVICES = "devices:read"  # sources, gateways, dead letters, the registry and the fleet
    INSTALL_DEVICES = "devices:install"  # on site: put a device up, its configuration, commissioning
    MANAGE_DEVICES = "devices:manage"  # pre-register serials (CSV), retire
    REPLAY_DEAD_LETTERS = "dead-letters:replay"
    READ_NOTIFICATIONS = "notifications:read"
    MANAGE_PEOPLE = "people:manage"  # people, tokens, the security log
    SEND_BROADCASTS = "broadcasts:send"  # 协查通报 to the grid workers of the caller's areas; close them
    READ_BROADCASTS = "broadcasts:read"  # a worker's own broadcasts (and read receipts); a sender's


class Reach(StrEnum):
    SITE = "site"  # everything, whatever the areas
    AREA = "area"  # what lies in the caller's areas
    OWN = "own"  # the caller's own (a worker's tasks, position, availability)
    DEPARTMENT = "department"  # cases escalated to the caller's department, in their areas


_OPERATOR = {
    Perm.READ_MAP: Reach.SITE,
    Perm.READ_CASES: Reach.AREA,
    Perm.DECIDE_CASES: Reach.AREA,
    Perm.READ_TASKS: Reach.AREA,
    Perm.DECIDE_TASKS: Reach.AREA,
    Perm.READ_WORKERS: Reach.AREA,
    Perm.SET_AVAILABILITY: Reach.AREA,
    Perm.READ_PERFORMANCE: Reach.AREA,
    Perm.READ_DEVICES: Reach.AREA,
    Perm.REPLAY_DEAD_LETTERS: Reach.AREA,
    Perm.READ_NOTIFICATIONS: Reach.AREA,
    Perm.SEND_BROADCASTS: Reach.AREA,
    Perm.READ_BROADCASTS: Reach.AREA,
}
GRANTS: dict[Role, dict[Perm, Reach]] = {
    Role.ADMIN: {
        Perm.READ_MAP: Reach.SITE,
        Perm.MANAGE_PEOPLE: Reach.SITE,
        Perm.READ_DEVICES: Reach.SITE,
        Perm.MANAGE_DEVICES: Reach.SITE,
        Perm.REPLAY_DEAD_LETTERS: Reach.SITE,
        Perm.READ_NOTIFICATIONS: Reach.SITE,
    },
    Role.OPERATOR: _OPERATOR,
    Role.DEPARTMENT: {
        Perm.READ_MAP: Reach.SITE,
        Perm.READ_CASES: Reach.DEPARTMENT,
        Perm.ACKNOWLEDGE_CASES: Reach.DEPARTMENT,
        Perm.SEND_BROADCASTS: Reach.AREA,  # a police station's 协查通报 to the grids of its areas
        Perm.READ_BROADCASTS: Reach.AREA,
    },
    Role.INSTALLER: {
        Perm.READ_MAP: Reach.SITE,
        Perm.READ_DEVICES: Reach.AREA,
        Perm.INSTALL_DEVICES: Reach.AREA,
    },
    Role.WORKER: {
        Perm.READ_MAP: Reach.SITE,
        Perm.READ_CASES: Reach.OWN,  # the cases of their tasks (the phone shows the evidence)
        Perm.READ_TASKS: Reach.OWN,
        Perm.STEP_TASKS: Reach.OWN,
        Perm.READ_WORKERS: Reach.OWN,
        Perm.SET_AVAILABILITY: Reach.OWN,
        Perm.CHECK_IN: Reach.OWN,
        Perm.SEND_LOCATION: Reach.OWN,
        Perm.REPORT_CASES: Reach.OWN,
        Perm.READ_BROADCASTS: Reach.OWN,
    },
}


@dataclass(frozen=True)
class Place:
    """Where one object lies: its grids, whose own it is, which departments it was escalated to.
    No grids = outside every grid (only whole-site callers see it)."""

    grids: frozenset[str] = frozenset()
    workers: frozenset[str] = frozenset()
    departments: frozenset[str] = frozenset()


def reaches(caller: Caller, perm: Perm) -> frozenset[Reach]:
    if perm is Perm.SIGNED_IN:
        return frozenset({Reach.SITE})
    return frozenset(r for role in caller.roles if (r := GRANTS.get(role, {}).get(perm)) is not None)


@dataclass(frozen=True)
class Access:
    """A caller's permission on one route, and how far it reaches."""

    caller: Caller
    perm: Perm
    reach: frozenset[Reach]

    @property
    def everywhere(self) -> bool:
        return Reach.SITE in self.reach or (Reach.AREA in self.reach and self.caller.scope.everywhere)

    @property
    def grids(self) -> frozenset[str] | None:
        """Grids the area reach covers: None = every grid (no filter), empty = none."""
        if self.everywhere:
            return None
        return self.caller.scope.grids or frozenset() if Reach.AREA in self.reach else frozenset()

    @property
    def own_worker(self) -> str | None:
        return self.caller.worker_id if Reach.OWN in self.reach else None

    @property
    def department(self) -> str | None:
        return self.caller.department if Reach.DEPARTMENT in self.reach else None

    def allows(self, place: Place) -> bool:
        if self.everywhere:
            return True
        scope = self.caller.scope
        if Reach.AREA in self.reach and scope.covers_any(place.grids):
            return True
        if self.own_worker is not None and self.own_worker in place.workers:
            return True
        return (
            self.department is not None
            and self.department in place.departments
            and (scope.everywhere or scope.covers_any(place.grids))
        )

    def require(self, place: Place, what: str) -> None:
        """Refuse (403, on the security log) when ``what`` lies outside the caller's reach."""
        if not self.allows(place):
            raise Refusal(403, f"{what} is outside what {self.caller} may see or do ({self.perm.value})")


@cache
def allow(perm: Perm) -> Callable[[Request], Access]:
    """The dependency a route declares: ``access: Annotated[Access, Depends(allow(Perm.READ_CASES))]``."""

    def dependency(request: Request) -> Access:
        caller: Caller | None = getattr(request.state, "caller", None)
        if caller is None:  # the guard already answered 401; this is a second line
            raise Refusal(401, "sign in first")
        reach = reaches(caller, perm)
        if not reach:
            raise Refusal(403, f"{caller} may not do this ({perm.value})")
        return Access(caller, perm, reach)

    dependency.permission = perm  # type: ignore[attr-defined]
    dependency.__name__ = f"allow_{perm.name.lower()}"
    return dependency


def public() -> None:
    """The dependency of the few routes open to anyone: sign-in, health."""


public.permission = "public"  # type: ignore[attr-defined]
