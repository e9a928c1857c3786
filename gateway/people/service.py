"""Changes to people, sign-in sessions and API tokens; the security log.

Every change bumps ``access_revision`` in the caller's transaction, so API
processes reload what they cache within seconds (see gateway/people/models.py).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from contracts.site import Site
from contracts.site.access import Grant
from gateway.people.areas import SiteAreas
from gateway.people.models import (
    AccessRevision,
    ApiToken,
    Person,
    Role,
    SecurityEvent,
    SignInFailure,
    SignInSession,
)

log = logging.getLogger(__name__)

TOKEN_PREFIX = "gwt_"  # the same prefix as access.yaml tokens: both are checked by their SHA-256
REFRESH_PREFIX = "gwr_"
GONE = "workers.yaml (gone)"  # who disabled a worker no longer in workers.yaml


class PeopleError(ValueError):
    """A change that cannot be made; the message says why and how to fix it."""


def sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bump(session: Session) -> None:
    session.execute(
        update(AccessRevision).where(AccessRevision.id == 1).values(revision=AccessRevision.revision + 1)
    )


def record(
    session: Session,
    kind: str,
    reason: str,
    now: datetime,
    actor: str = "",
    address: str = "",
    route: str = "",
) -> None:
    """Add a line to the security log (in the caller's transaction)."""
    session.add(
        SecurityEvent(
            at=now, kind=kind, actor=actor[:100], address=address[:64], route=route[:200], reason=reason
        )
    )


# ------------------------------------------------------------------ people
@dataclass(frozen=True)
class PersonSpec:
    id: str
    display_name: str
    roles: tuple[Role, ...]
    areas: tuple[str, ...] = ()
    phone: str = ""
    worker_id: str | None = None
    department: str | None = None


def check_spec(spec: PersonSpec, site: Site, areas: SiteAreas) -> None:
    """Raises PeopleError naming what is wrong with a person's roles, areas, worker or department."""
    if not spec.roles:
        raise PeopleError(f"{spec.id}: give at least one role ({', '.join(r.value for r in Role)})")
    for area in spec.areas:
        why = areas.problem(area)
        if why:
            raise PeopleError(f"{spec.id}: {why}")
    if Role.WORKER in spec.roles:
        if spec.worker_id is None or spec.worker_id not in site.workers:
            raise PeopleError(f"{spec.id}: a worker account needs a worker id from workers.yaml")
    elif spec.worker_id is not None and spec.worker_id not in site.workers:
        raise PeopleError(f"{spec.id}: no worker {spec.worker_id!r} in workers.yaml")
    if Role.DEPARTMENT in spec.roles and spec.department not in site.escalation.departments:
        known = ", ".join(site.escalation.departments) or "none"
        raise PeopleError(f"{spec.id}: a department account needs a department of escalation.yaml ({known})")
    needs_area = {Role.OPERATOR, Role.INSTALLER, Role.DEPARTMENT}
    if needs_area & set(spec.roles) and not spec.areas:
        raise PeopleError(f"{spec.id}: give the areas they cover (a district, street, community or grid id)")


def add_person(
    session: Session, spec: PersonSpec, by: str, now: datetime, password_hash: str | None
) -> Person:
    if session.get(Person, spec.id) is not None:
        raise PeopleError(f"there is already a person {spec.id!r}")
    if spec.worker_id is not None:
        holder = session.scalar(select(Person.id).where(Person.worker_id == spec.worker_id))
        if holder is not None:
            raise PeopleError(f"worker {spec.worker_id!r} already has an account: {holder!r}")
    person = Person(
        id=spec.id,
        display_name=spec.display_name,
        phone=spec.phone,
        roles=[r.value for r in spec.roles],
        areas=list(spec.areas),
        worker_id=spec.worker_id,
        department=spec.department,
        active=True,
        password_hash=password_hash,
        must_change_password=password_hash is not None,
        epoch=0,
        created_at=now,
        updated_at=now,
        updated_by=by,
    )
    session.add(person)
    record(
        session,
        "person_added",
        f"{spec.id}: roles {','.join(person.roles)}; areas {','.join(spec.areas)}",
        now,
        by,
    )
    bump(session)
    return person


def change_person(session: Session, person: Person, spec: PersonSpec, by: str, now: datetime) -> Person:
    person.display_name, person.phone = spec.display_name, spec.phone
    person.roles, person.areas = [r.value for r in spec.roles], list(spec.areas)
    person.worker_id, person.department = spec.worker_id, spec.department
    person.updated_at, person.updated_by = now, by
    record(
        session,
        "person_changed",
        f"{person.id}: roles {','.join(person.roles)}; areas {','.join(person.areas)}",
        now,
        by,
    )
    bump(session)
    return person


def set_active(session: Session, person: Person, active: bool, by: str, now: datetime) -> None:
    """Disabling ends every session and token of the person (within the API's check interval)."""
    if person.active == active:
        return
    person.active = active
    person.updated_at, person.updated_by = now, by
    if not active:
        person.epoch += 1
        _end_sessions(session, person.id, now)
    record(session, "person_enabled" if active else "person_disabled", person.id, now, by)
    bump(session)


def set_password(
    session: Session,
    person: Person,
    password_hash: str,
    by: str,
    now: datetime,
    one_time: bool,
    keep_session: str | None = None,
) -> None:
    """A new password ends the person's other sessions; ``one_time`` makes them choose their own."""
    person.password_hash = password_hash
    person.must_change_password = one_time
    person.epoch += 1
    person.updated_at, person.updated_by = now, by
    _end_sessions(session, person.id, now, keep=keep_session)
    if keep_session is not None:
        session.execute(
            update(SignInSession).where(SignInSession.id == keep_session).values(epoch=person.epoch)
        )
    record(session, "password_reset" if one_time else "password_changed", person.id, now, by)
    bump(session)


def _end_sessions(session: Session, person_id: str, now: datetime, keep: str | None = None) -> None:
    query = update(SignInSession).where(
        SignInSession.person_id == person_id, SignInSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(SignInSession.id != keep)
    session.execute(query.values(revoked_at=now))


def sync_workers(session: Session, site: Site, now: datetime) -> tuple[int, int, int]:
    """Grid workers' accounts follow workers.yaml: (added, changed, disabled).

    A worker's account has the worker's id, name, phone and home grid; a worker gone
    from workers.yaml is disabled (their history stays). Roles an admin added to a
    worker's account (e.g. operator) are kept."""
    added = changed = disabled = 0
    existing = {p.worker_id: p for p in session.scalars(select(Person).where(Person.worker_id.is_not(None)))}
    for worker in site.workers.values():
        person = existing.get(worker.id)
        if person is None:
            if session.get(Person, worker.id) is not None:
                log.warning("worker %s: an account with that id is not linked to the worker", worker.id)
                continue
            spec = PersonSpec(
                worker.id, worker.name, (Role.WORKER,), (worker.home_grid,), worker.phone, worker.id
            )
            add_person(session, spec, "workers.yaml", now, None)
            added += 1
            continue
        only_worker = person.roles == [Role.WORKER.value]
        stale = (person.display_name, person.phone) != (worker.name, worker.phone)
        if stale or (only_worker and person.areas != [worker.home_grid]):
            person.display_name, person.phone = worker.name, worker.phone
            if only_worker:  # an admin's choice of areas for other roles is kept
                person.areas = [worker.home_grid]
            person.updated_at, person.updated_by = now, "workers.yaml"
            bump(session)
            changed += 1
        if not person.active and person.updated_by == GONE:
            set_active(session, person, True, "workers.yaml", now)
    for worker_id, person in existing.items():
        if worker_id not in site.workers and person.active:
            set_active(session, person, False, GONE, now)
            disabled += 1
    return added, changed, disabled


# ------------------------------------------------------------------ API tokens
def add_token(
    session: Session,
    token_id: str,
    role: Role,
    areas: Iterable[str],
    by: str,
    now: datetime,
    person_id: str | None = None,
    note: str = "",
    digest: str | None = None,
) -> str | None:
    """A new API token; returns the secret (shown once) or None when ``digest`` (an existing
    token's SHA-256, e.g. from access.yaml) is given."""
    if session.get(ApiToken, token_id) is not None:
        raise PeopleError(f"there is already a token {token_id!r}")
    if person_id is not None:
        person = session.get(Person, person_id)
        if person is None:
            raise PeopleError(f"no person {person_id!r}")
        if role.value not in person.roles:
            raise PeopleError(f"{person_id} does not have the role {role.value}")
    secret = None
    if digest is None:
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = sha256(secret)
    if session.scalar(select(ApiToken.id).where(ApiToken.sha256 == digest)) is not None:
        raise PeopleError(f"token {token_id!r}: the same token is already in the store")
    session.add(
        ApiToken(
            id=token_id,
            sha256=digest,
            role=role.value,
            areas=list(areas),
            person_id=person_id,
            note=note,
            created_at=now,
            created_by=by,
            revoked_at=None,
        )
    )
    record(
        session,
        "token_added",
        f"{token_id}: {role.value} {','.join(areas)} {person_id or ''}".strip(),
        now,
        by,
    )
    bump(session)
    return secret


def revoke_token(session: Session, token_id: str, by: str, now: datetime) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise PeopleError(f"no token {token_id!r}")
    if token.revoked_at is None:
        token.revoked_at = now
        record(session, "token_revoked", token_id, now, by)
        bump(session)
    return token


def import_grant(session: Session, site: Site, grant: Grant, by: str, now: datetime) -> int:
    """An access.yaml / GRIDWATCH_API_TOKENS token into the store, bound to its person (an
    operator of the whole site, or the worker's account); 0 when it is there already."""
    if session.scalar(select(ApiToken.id).where(ApiToken.sha256 == grant.sha256)) is not None:
        return 0
    role = Role(grant.role.value)
    person = session.get(Person, grant.id)
    if person is None:
        if role is Role.WORKER:
            raise PeopleError(f"no account for worker {grant.id!r}: run 'gridwatch users sync-workers'")
        roots = tuple(sorted(a.id for a in site.areas.values() if not a.parent))
        add_person(session, PersonSpec(grant.id, grant.id, (role,), roots), by, now, None)
    elif role.value not in person.roles:
        raise PeopleError(f"{grant.id} does not have the role {role.value}")
    token_id = f"{role.value}-{grant.id}-{grant.sha256[:8]}"[:64]
    add_token(
        session, token_id, role, (), by, now, grant.id, f"imported from {grant.origin}"[:200], grant.sha256
    )
    return 1


# ------------------------------------------------------------------ sign-in sessions
@dataclass(frozen=True)
class OpenedSession:
    row: SignInSession
    refresh: str  # the cookie's value, never stored
    csrf: str


def open_session(
    session: Session, person: Person, address: str, user_agent: str, now: datetime, ttl_s: int
) -> OpenedSession:
    refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    row = SignInSession(
        id=str(uuid.uuid4()),
        person_id=person.id,
        refresh_sha256=sha256(refresh),
        csrf=csrf,
        epoch=person.epoch,
        address=address[:64],
        user_agent=user_agent[:300],
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
        revoked_at=None,
    )
    session.add(row)
    return OpenedSession(row, refresh, csrf)


def find_session(session: Session, refresh: str, now: datetime) -> SignInSession | None:
    """The live session a refresh cookie belongs to (not revoked, not expired)."""
    row = session.scalar(select(SignInSession).where(SignInSession.refresh_sha256 == sha256(refresh)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return row


def end_session(session: Session, row: SignInSession, now: datetime) -> None:
    if row.revoked_at is None:
        row.revoked_at = now
        bump(session)


def known_address(session: Session, person_id: str, address: str) -> bool:
    """Has this person signed in from this address before (their own desk or phone)?"""
    query = select(SignInSession.id).where(
        SignInSession.person_id == person_id, SignInSession.address == address
    )
    return session.scalar(query.limit(1)) is not None


# ------------------------------------------------------------------ slow-down after failed sign-ins
@dataclass(frozen=True)
class Backoff:
    free: int  # failures before each further attempt has to wait
    first_s: float
    max_s: float
    forget_s: float  # a quiet spell this long forgets the failures


ACCOUNT_BACKOFF = Backoff(free=5, first_s=1, max_s=30, forget_s=900)
ADDRESS_BACKOFF = Backoff(free=20, first_s=2, max_s=900, forget_s=3600)


def wait_s(session: Session, keys: Iterable[str], now: datetime) -> float:
    """Seconds until another sign-in attempt under these keys is looked at (0 = now)."""
    rows = session.scalars(select(SignInFailure).where(SignInFailure.key.in_(list(keys))))
    waits = [
        (r.blocked_until - now).total_seconds() for r in rows if r.blocked_until and r.blocked_until > now
    ]
    return max(waits, default=0.0)


def failed(session: Session, key: str, backoff: Backoff, now: datetime) -> None:
    row = session.get(SignInFailure, key)
    if row is None:
        row = SignInFailure(key=key, failures=0, last_at=now, blocked_until=None)
        session.add(row)
    elif (now - row.last_at).total_seconds() > backoff.forget_s:
        row.failures = 0
    row.failures += 1
    row.last_at = now
    over = row.failures - backoff.free  # 0 at the failure that uses up the free ones
    if over >= 0:
        delay = min(backoff.max_s, backoff.first_s * 2 ** min(over, 20))
        row.blocked_until = now + timedelta(seconds=delay)


def succeeded(session: Session, key: str) -> None:
    row = session.get(SignInFailure, key)
    if row is not None:
        session.delete(row)
