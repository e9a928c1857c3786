"""What every request is checked against, held in memory and kept fresh.

The API checks ``access_revision`` at most every ``check_every_s`` seconds (one
tiny query) and reloads people, live API tokens and recently ended sessions when
it moved. So a disabled person, a revoked token or a signed-out session stops
working within that interval (default 5 s) in every API process, and checking a
request costs dictionary look-ups, not a database round trip.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud_api.auth.caller import Caller
from contracts.clock import Clock
from contracts.site.access import Grant
from contracts.site.access import Role as GrantRole
from gateway.people.areas import EVERYWHERE, SiteAreas
from gateway.people.models import AccessRevision, ApiToken, Person, Role, SignInSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PersonState:
    caller: Caller
    active: bool
    epoch: int


@dataclass
class Snapshot:
    revision: int = -1
    people: dict[str, PersonState] = field(default_factory=dict)
    tokens: dict[str, Caller] = field(default_factory=dict)  # sha256 -> caller
    ended_sessions: frozenset[str] = frozenset()


class AccessBook:
    def __init__(
        self,
        read_sessions: Callable[[], Session],
        areas: SiteAreas,
        clock: Clock,
        grants: list[Grant],
        check_every_s: float,
        session_grace_s: float,
    ) -> None:
        self._sessions = read_sessions
        self.areas = areas
        self.clock = clock
        self.check_every_s = check_every_s
        self._grace = timedelta(seconds=session_grace_s)
        self._static = {g.sha256: self._grant_caller(g) for g in grants}
        self._snapshot = Snapshot(tokens=dict(self._static))
        self._checked_at: datetime | None = None
        self._lock = threading.Lock()

    @property
    def configured_tokens(self) -> int:
        return len(self._static)

    def current(self) -> Snapshot:
        now = self.clock.now()
        checked = self._checked_at
        due = checked is None or (now - checked).total_seconds() >= self.check_every_s or now < checked
        # One request thread looks; the others go on with what is there (at most one interval old).
        if due and self._lock.acquire(blocking=checked is None):
            try:
                self._check(now, force=False)
            finally:
                self._lock.release()
        return self._snapshot

    def refresh(self, force: bool = False) -> Snapshot:
        """Look now (after a change made by this process, or in tests)."""
        with self._lock:
            self._check(self.clock.now(), force)
        return self._snapshot

    def _check(self, now: datetime, force: bool) -> None:
        with self._sessions() as session:
            revision = session.scalar(select(AccessRevision.revision).where(AccessRevision.id == 1)) or 0
            if force or revision != self._snapshot.revision:
                self._snapshot = self._load(session, revision, now)
        self._checked_at = now

    def _load(self, session: Session, revision: int, now: datetime) -> Snapshot:
        people = {
            p.id: PersonState(self._person_caller(p), p.active, p.epoch)
            for p in session.scalars(select(Person))
        }
        tokens = dict(self._static)
        for token in session.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None))):
            caller = self._token_caller(token, people)
            if caller is not None:
                tokens[token.sha256] = caller
        ended = session.scalars(
            select(SignInSession.id).where(SignInSession.revoked_at > now - self._grace)
        ).all()
        log.debug(
            "access book reloaded at revision %d: %d people, %d tokens", revision, len(people), len(tokens)
        )
        return Snapshot(revision, people, tokens, frozenset(ended))

    def _person_caller(self, p: Person) -> Caller:
        return Caller(
            id=p.id,
            kind="person",
            display_name=p.display_name,
            roles=frozenset(Role(r) for r in p.roles if r in Role._value2member_map_),
            scope=self.areas.scope(p.areas),
            worker_id=p.worker_id,
            department=p.department,
            must_change_password=p.must_change_password,
        )

    def _token_caller(self, token: ApiToken, people: dict[str, PersonState]) -> Caller | None:
        role = Role(token.role)
        if token.person_id is None:
            return Caller(
                token.id,
                "token",
                token.id,
                frozenset({role}),
                self.areas.scope(token.areas),
                token_id=token.id,
            )
        state = people.get(token.person_id)
        if state is None or not state.active or role not in state.caller.roles:
            return None  # a disabled person's phone stops with them
        person = state.caller
        scope = self.areas.scope(token.areas) if token.areas else person.scope
        return Caller(
            person.id,
            "person",
            person.display_name,
            frozenset({role}),
            scope,
            person.worker_id,
            person.department,
            token_id=token.id,
        )

    def _grant_caller(self, grant: Grant) -> Caller:
        """access.yaml / GRIDWATCH_API_TOKENS: operators for the whole site, workers for themselves."""
        if grant.role is GrantRole.OPERATOR:
            return Caller(
                grant.id, "person", grant.id, frozenset({Role.OPERATOR}), EVERYWHERE, token_id=grant.origin
            )
        worker = self.areas.site.workers.get(grant.id)
        scope = self.areas.scope([worker.home_grid] if worker else [])
        name = worker.name if worker else grant.id
        return Caller(
            grant.id, "person", name, frozenset({Role.WORKER}), scope, grant.id, token_id=grant.origin
        )
