"""People for tests: accounts made straight in the store, cheap password hashes, test API settings."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from cloud_api.settings import ApiSettings
from contracts import utcnow
from gateway.people import service
from gateway.people.models import Person, Role
from gateway.people.passwords import HashCost, Passwords

# argon2 at its cheapest: tests sign in often; the real cost is measured in bench/auth.py.
CHEAP = HashCost(time_cost=1, memory_kib=64, parallelism=1)
CHEAP_PASSWORDS = Passwords(CHEAP)


def api_settings(site_dir: Path, db_url: str, **more: Any) -> ApiSettings:
    return ApiSettings(
        site_dir=site_dir,
        database_url=db_url,
        password_time_cost=CHEAP.time_cost,
        password_memory_kib=CHEAP.memory_kib,
        **more,
    )


def add_person(
    sessions: sessionmaker[Session],
    person_id: str,
    roles: Iterable[Role | str],
    areas: Iterable[str] = (),
    password: str | None = None,
    worker_id: str | None = None,
    department: str | None = None,
    name: str = "",
) -> Person:
    """A person who has already chosen their password (no one-time password to change)."""
    spec = service.PersonSpec(
        person_id, name or person_id, tuple(Role(r) for r in roles), tuple(areas), "", worker_id, department
    )
    with sessions() as session, session.begin():
        person = session.get(Person, person_id)
        digest = CHEAP_PASSWORDS.hash(password) if password else None
        if person is None:
            person = service.add_person(session, spec, "test", utcnow(), digest)
        else:
            service.change_person(session, person, spec, "test", utcnow())
            person.password_hash = digest
        person.must_change_password = False
        return person
